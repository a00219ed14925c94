"""Email under stress (issue 11): no digest is ever lost, a stalled relay costs one timeout per
run, one SMTP connection per run, and only single plain addresses are accepted; on SQLite and on
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlmodel import col, select

from bot.config import load_config
from bot.errors import ConfigError
from bot.match.watchlists import load_watchlist, load_watchlists
from bot.publish.claims import MAX_ATTEMPTS, SendReport
from bot.publish.digest import send_due
from bot.run.pipeline import open_store
from bot.store import utcnow
from bot.store.models import DigestItem, Outbox

from .helpers import decided, put, run_cli, standard_agenda
from .test_email import BUSSER, T0, Inbox, Server, cycle, setup
from .webtools import free_port

pytestmark = pytest.mark.usefixtures("database")

# Three items of the standard agenda match, for two readers: six (recipient, match) pairs.
THREE_ITEMS_TWO_READERS = (
    'terms = ["busplan", "budgetopfølgning", "godkendelse"]\n'
    '[deliver]\nemail = ["a@example.org", "b@example.org"]\ndigest = "daily"\n'
)


def rows(config: Path, query: Any) -> list[tuple[Any, ...]]:
    """The rows of ``query``, read through the configured store."""
    with open_store(load_config(config)) as store, store.session() as session:
        return [tuple(row) for row in session.exec(query)]


def outbox(config: Path) -> list[tuple[str, str, int]]:
    """(recipient, state, attempts) of every digest, oldest first."""
    return rows(config, select(Outbox.recipient, Outbox.state, Outbox.attempts).order_by(col(Outbox.id)))


def delivered_pairs(config: Path) -> list[tuple[str, int]]:
    """The (recipient, match) pairs that went out in a sent digest."""
    query = (
        select(DigestItem.recipient, DigestItem.match_id)
        .join(Outbox, col(Outbox.id) == col(DigestItem.outbox_id))
        .where(Outbox.state == "sent")
        .order_by(col(DigestItem.recipient), col(DigestItem.match_id))
    )
    return rows(config, query)


def digest_now(config: Path, now: datetime) -> SendReport:
    """``digest --now`` at a chosen time."""
    loaded = load_config(config)
    watchlists, _ = load_watchlists(loaded.bot.watchlists_dir)
    with open_store(loaded) as store:
        return send_due(store, loaded, watchlists, now, right_now=True)


def use_up_attempts(config: Path, start: datetime) -> SendReport:
    """``digest --now`` once a minute until the attempts of the first digest are used up."""
    for minute in range(MAX_ATTEMPTS):
        report = digest_now(config, start + timedelta(seconds=61 * minute))
        if report.gave_up:
            return report
    raise AssertionError(f"still not failed after {MAX_ATTEMPTS} tries")


# --- defect 2: no digest is ever lost -----------------------------------------------------------


def test_ten_digest_now_runs_during_an_outage_lose_nothing(tmp_path: Path) -> None:
    relay = Server(Inbox(), free_port())  # down for now
    config = setup(tmp_path, relay.port, readers=THREE_ITEMS_TWO_READERS)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, T0, send_backfill=True)
    results = [run_cli(config, "digest", "--now") for _ in range(10)]
    assert results[0].stdout.startswith("2 digests built; 0 sent; 1 failed")
    assert "1 more digest waiting for the relay's next try" in results[0].stderr, "the relay failed: the run stopped"
    assert results[-1].exit_code == 0, results[-1].stderr
    assert "; 2 not tried again yet (each digest is tried at most once every 60 s)" in results[-1].stdout
    assert outbox(config) == [("a@example.org", "pending", 1), ("b@example.org", "pending", 1)]

    relay.start()
    try:
        report = digest_now(config, utcnow() + timedelta(minutes=2))
        assert (report.sent, report.errors) == (2, [])
        assert digest_now(config, utcnow() + timedelta(minutes=4)).sent == 0
    finally:
        relay.stop()
    assert sorted(rcpts[0] for rcpts, _ in relay.inbox.messages) == ["a@example.org", "b@example.org"]
    pairs = delivered_pairs(config)
    assert len(pairs) == len(set(pairs)) == 6, "every (recipient, match) pair delivered, none twice"


def test_used_up_attempts_mean_failed_shown_by_status_and_retry_failed_sends_it_once(tmp_path: Path) -> None:
    relay = Server(Inbox(), free_port())  # down for now
    config = setup(tmp_path, relay.port, busser=BUSSER.replace('"immediate"', '"daily"'))
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, T0, send_backfill=True)
    last = use_up_attempts(config, T0 + timedelta(hours=1))
    assert outbox(config) == [("laeser@example.org", "failed", MAX_ATTEMPTS)]
    assert "1 failed" in last.summary()

    status = run_cli(config, "status").stdout
    assert "0 matches not yet in a digest; 1 failed digest" in status, "its matches stay with it"
    assert "`referatvagt digest --retry-failed`" in status
    (line,) = [line for line in status.splitlines() if line.startswith("    laeser@example.org now:")]
    assert "1 item, 10 attempts" in line and "cannot send through 127.0.0.1" in line

    relay.start()
    try:
        first = run_cli(config, "digest", "--retry-failed")
        again = run_cli(config, "digest", "--retry-failed")
    finally:
        relay.stop()
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip() == "0 digests built; 1 sent; 0 failed; 1 failed digest given new attempts"
    assert again.stdout.strip() == "0 digests built; 0 sent; 0 failed"
    ((_, message),) = relay.inbox.messages
    assert rows(config, select(Outbox.message_id, Outbox.state)) == [(message["Message-ID"], "sent")]
    assert "0 failed digests" in run_cli(config, "status").stdout


def test_failed_digests_go_out_as_soon_as_the_relay_accepts_a_message(tmp_path: Path) -> None:
    relay = Server(Inbox(), free_port())  # down for now
    config = setup(tmp_path, relay.port, busser=BUSSER)
    put(tmp_path, "dagsorden.md", standard_agenda())
    assert cycle(config, T0, send_backfill=True).mail.failed == 1
    use_up_attempts(config, T0 + timedelta(hours=1))
    assert outbox(config) == [("laeser@example.org", "failed", MAX_ATTEMPTS)]

    relay.start()
    try:
        put(tmp_path, "referat.md", decided(standard_agenda()))  # a new match: a new immediate digest
        report = cycle(config, T0 + timedelta(hours=2))
        assert (report.mail.sent, report.mail.retried, report.errors) == (2, 1, [])
        assert cycle(config, T0 + timedelta(hours=3)).mail.sent == 0
    finally:
        relay.stop()
    assert outbox(config) == [("laeser@example.org", "sent", 1), ("laeser@example.org", "sent", 1)]
    subjects = sorted(message["Subject"] for _, message in relay.inbox.messages)
    assert len(subjects) == 2 and len(delivered_pairs(config)) == len(set(delivered_pairs(config))) == 2


# --- defect 7: a relay that never answers; one connection per run -------------------------------


class SilentRelay:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.port = int(self.socket.getsockname()[1])
        self.connections: list[socket.socket] = []  # kept open: a closed one would not stall anyone
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                self.connections.append(self.socket.accept()[0])
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self.connections:
            connection.close()
        self.socket.close()


@pytest.fixture
def silent() -> Iterator[SilentRelay]:
    relay = SilentRelay()
    try:
        yield relay
    finally:
        relay.close()


def test_a_relay_that_never_answers_costs_one_timeout_per_run_not_one_per_recipient(
    tmp_path: Path, silent: SilentRelay
) -> None:
    readers = BUSSER.replace('["laeser@example.org"]', '["a@example.org", "b@example.org", "c@example.org"]')
    config = setup(tmp_path, silent.port, "timeout = 1\n", busser=readers)
    put(tmp_path, "dagsorden.md", standard_agenda())
    started = time.monotonic()
    report = cycle(config, T0, send_backfill=True)
    assert time.monotonic() - started < 20, "the run gave up on the relay after its timeout"
    assert len(silent.connections) == 1, "one connection tried, not one per recipient"
    assert (report.mail.sent, report.mail.failed, report.mail.waiting) == (0, 1, 2)
    assert any("a@example.org: cannot send through 127.0.0.1" in error for error in report.errors)
    assert outbox(config) == [
        ("a@example.org", "pending", 1),
        ("b@example.org", "pending", 0),
        ("c@example.org", "pending", 0),
    ], "the others were not tried and used no attempt"
    cycle(config, T0 + timedelta(minutes=1))
    assert len(silent.connections) == 1, "the digests left waiting wait for the relay's next try too"


@dataclass
class CountingInbox(Inbox):
    """Notes the client end of the connection each message came over; can hang up after the first."""

    peers: list[Any] = field(default_factory=list)
    hang_up_after_first: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.peers.append(session.peer)
        reply = await super().handle_DATA(server, session, envelope)
        if self.hang_up_after_first and len(self.peers) == 1:
            asyncio.get_running_loop().call_soon(server.transport.close)  # after this reply is written
        return reply


@pytest.mark.parametrize("hang_up", [False, True], ids=["kept", "dropped-once"])
def test_one_connection_serves_the_whole_run_and_is_reopened_once_when_dropped(tmp_path: Path, hang_up: bool) -> None:
    inbox = CountingInbox(hang_up_after_first=hang_up)
    relay = Server(inbox, free_port())
    relay.start()
    try:
        readers = BUSSER.replace('["laeser@example.org"]', '["a@example.org", "b@example.org", "c@example.org"]')
        config = setup(tmp_path, relay.port, busser=readers)
        put(tmp_path, "dagsorden.md", standard_agenda())
        report = cycle(config, T0, send_backfill=True)
    finally:
        relay.stop()
    assert (report.mail.sent, report.errors) == (3, [])
    assert len(set(inbox.peers)) == (2 if hang_up else 1)


# --- defect 10: one plain address each ----------------------------------------------------------

BAD_ADDRESSES = {
    "a,spion4@evil.example": "give each address as its own list entry",
    "Name <a@b.dk>": "without a name, <>",
    "a@b.dk\x00x": "remove the control character U+0000 at position 7",
    "a b@c.dk": "remove the space at position 2",
    "": "it is empty",
    "a@b.dk\u202e": "remove the right-to-left override",
    "a..b@c.dk": "a dot is misplaced",
    "ab.dk": "it needs exactly one @",
}


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_watchlist_address_must_be_one_plain_address(tmp_path: Path, address: str) -> None:
    path = tmp_path / "busser.toml"
    path.write_text(BUSSER.replace('"laeser@example.org"', f'"ok@example.org", {json.dumps(address)}'), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_watchlist(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:4: deliver.email[2]: {address!r} is not one plain email address")
    assert BAD_ADDRESSES[address] in message and "\n" not in message


def test_the_from_address_must_be_one_plain_address(tmp_path: Path) -> None:
    config = setup(tmp_path, 25)
    config.write_text(config.read_text("utf-8").replace('"vagt@example.org"', '"Vagt <vagt@example.org>"'), "utf-8")
    with pytest.raises(ConfigError, match=r"config\.toml:\d+: email\.from: 'Vagt <vagt@example\.org>' is not one"):
        load_config(config)


def test_digest_test_refuses_a_list_and_sends_nothing(tmp_path: Path) -> None:
    relay = Server(Inbox(), free_port())
    relay.start()
    try:
        result = run_cli(setup(tmp_path, relay.port), "digest", "--test", "a,spion4@evil.example")
    finally:
        relay.stop()
    assert result.exit_code == 2 and "give each address as its own list entry" in result.stderr
    assert relay.inbox.messages == []


def test_international_addresses_still_work(tmp_path: Path) -> None:
    path = tmp_path / "busser.toml"
    path.write_text(BUSSER.replace('"laeser@example.org"', '"læser@example.org", "post@æblegård.dk"'), "utf-8")
    assert load_watchlist(path).deliver.email == ("læser@example.org", "post@æblegård.dk")


# --- the store ----------------------------------------------------------------------------------


def test_an_existing_store_gains_the_last_attempt_column(tmp_path: Path) -> None:
    loaded = load_config(setup(tmp_path, 25))
    with open_store(loaded) as store, store.engine.begin() as connection:  # as the previous release left it
        connection.execute(text("ALTER TABLE outbox DROP COLUMN last_attempt_at"))
        connection.execute(text("DELETE FROM schema_migration WHERE name LIKE '%outbox_last_attempt_at'"))
    with open_store(loaded) as store:
        assert "last_attempt_at" in [column["name"] for column in inspect(store.engine).get_columns("outbox")]
