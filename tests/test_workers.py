"""Several `run` workers on one PostgreSQL database do the work of one, and each part of it once.

Three real ``referatvagt run`` processes share one database, one feed folder and one raw archive;
each has its own state folder. They poll local FirstAgenda-like portals (tests/portal.py) and send
immediate digests through a slow SMTP server (aiosmtpd). What they leave must be what one process
leaves from the same input (a reference run on SQLite, the embedded default): the same items,
events, matches and feed entries; every email delivered once; each agenda fetched once per
publication; no crashed job. A worker killed (SIGKILL) mid-poll or mid-send leaves its work to
another once its lease runs out, with nothing lost or doubled. Five processes may start at once on
an empty database. Nothing here waits on the clock beyond generous deadlines for a stall.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.store import Store, utcnow
from bot.store.migrations import MIGRATIONS
from bot.store.recorder import Tally

from .conftest import scratch_postgres
from .helpers import decided, ingest, json_lines, record_documents, run_cli, standard_agenda, write_config
from .mailtools import HoldingInbox, SlowInbox
from .portal import (
    Server,
    running,
)
from .test_crash import ENV, Delivery, deliveries, kill_9, portal_meeting_id, snapshot
from .test_email import Server as SmtpServer
from .test_scheduler import wait_for
from .webtools import free_port
from .workertools import (
    CRASH,
    SOURCES,
    STALL,
    Workers,
    agenda_fetches,
    check_each_once,
    check_no_duplicates,
    feed_ids,
    holder_pid,
    mail_for,
    publish,
    settle,
    smtp_table,
    sources_healthy,
    sql,
    worker_config,
)

# --- three workers, a slow relay: what one worker does, each part once ----------------------------

MEETINGS = 4  # per source
BOT = 'every = "6s"\ntick = "1s"\nlease = "3s"'


@dataclass
class Run:
    url: str
    root: Path
    portals: list[Server]
    inbox: SlowInbox
    workers: Workers
    reference: Path  # the config of the one-process run on SQLite
    reference_fetches: list[Counter[str]] = field(default_factory=list)
    reference_mail: list[Delivery] = field(default_factory=list)


def quiet_then(url: str, action: Callable[[], None]) -> Callable[[], bool]:
    """A check that runs ``action`` at a moment no poll runs or is due within 1.5 s, so a poll
    never sees half of what ``action`` changes (its listing before and its agendas after)."""

    def check() -> bool:
        busy = sql(
            url,
            "SELECT count(*) FROM source WHERE lease_until > now() OR next_run_at IS NULL"
            " OR next_run_at < now() + interval '1.5 seconds'",
        )
        if busy[0][0]:
            return False
        action()
        return True

    return check


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("workers")
    smtp = SmtpServer(SlowInbox(delay=0.5), free_port())
    smtp.start()
    portals = [Server() for _ in SOURCES]
    try:
        with running(portals[0]), running(portals[1]), running(portals[2]), scratch_postgres() as url:
            inbox = smtp.inbox
            assert isinstance(inbox, SlowInbox)
            mail = smtp_table(smtp.port, timeout=5)

            def publish_all(minutes: bool) -> None:
                for number, portal in enumerate(portals):
                    publish(portal, number, MEETINGS, minutes=minutes)

            # The reference: one process on SQLite reads the agendas, then the minutes.
            reference = worker_config(root, "reference", portals, smtp=mail)
            publish_all(minutes=False)
            ingest(reference)
            publish_all(minutes=True)
            ingest(reference)
            run = Run(url, root, portals, inbox, Workers([]), reference, [agenda_fetches(p) for p in portals])
            run.reference_mail = deliveries(inbox)
            for portal in portals:
                portal.requests.clear()
            inbox.messages.clear()
            publish_all(minutes=False)

            configs = [worker_config(root, f"w{n}", portals, url, bot=BOT, smtp=mail) for n in range(3)]
            with Workers(configs) as run.workers:
                first_polls = "SELECT count(*) FROM source WHERE last_success_at IS NOT NULL"
                assert wait_for(lambda: sql(url, first_polls) == [(len(SOURCES),)], STALL), "the first polls"
                assert wait_for(quiet_then(url, lambda: publish_all(minutes=True)), STALL), "never a quiet moment"
                settle(lambda: _progress(run), lambda: _delivered(run))
                run.workers.stop()
            yield run
    finally:
        smtp.stop()


def _progress(run: Run) -> tuple[Any, ...]:
    counts = sql(run.url, "SELECT (SELECT count(*) FROM event), (SELECT count(*) FROM match), count(*) FROM outbox")
    return len(run.inbox.messages), [agenda_fetches(p) for p in run.portals], counts


def _delivered(run: Run) -> bool:
    unsent = sql(run.url, "SELECT count(*) FROM outbox WHERE state <> 'sent'")[0][0]
    got: dict[str, set[str]] = {}
    for delivery in deliveries(run.inbox):
        got.setdefault(delivery.recipient, set()).update(delivery.tags)
    return unsent == 0 and got == mail_for(len(SOURCES), MEETINGS)


def test_the_reference_run_mails_each_decided_item_once(three: Run) -> None:
    check_no_duplicates(three.reference)
    pairs = Counter((d.recipient, tag) for d in three.reference_mail for tag in d.tags)
    assert set(pairs.values()) == {1}
    by_recipient: dict[str, set[str]] = {}
    for recipient, tag in pairs:
        by_recipient.setdefault(recipient, set()).add(tag)
    assert by_recipient == mail_for(len(SOURCES), MEETINGS)


def test_three_workers_store_what_one_stores(three: Run) -> None:
    config = three.workers.configs[0]
    check_no_duplicates(config)
    assert snapshot(config) == snapshot(three.reference), "items, events and matches as one worker's"
    sources_healthy(three.url)


def test_three_workers_do_each_poll_once(three: Run) -> None:
    """Each agenda is fetched once per publication (its ReleasedDate): two workers polling one
    source at once would both fetch it."""
    fetches = [agenda_fetches(portal) for portal in three.portals]
    assert fetches == three.reference_fetches
    assert all(set(counts.values()) == {2} for counts in fetches), fetches


def test_three_workers_under_a_slow_relay_deliver_every_email_once(three: Run) -> None:
    check_each_once(three.inbox, mail_for(len(SOURCES), MEETINGS), "three workers")
    assert sql(three.url, "SELECT state, count(*) FROM outbox GROUP BY state") == [
        ("sent", len({d.message_id for d in deliveries(three.inbox)}))
    ]


def test_no_job_crashed(three: Run) -> None:
    three.workers.check_clean()


def test_the_shared_feed_folder_holds_what_one_worker_publishes(three: Run) -> None:
    shared = feed_ids(three.root / "feeds")
    assert shared == feed_ids(three.reference.parent / "state" / "feeds")
    assert any(shared.values()), "the feeds have entries"
    assert not (three.workers.configs[0].parent / "state" / "feeds").exists(), "nothing in a worker's own folder"


# --- kill -9 mid-poll: another worker finishes the poll after the lease ---------------------------

BACKLOG = 8  # meetings of one slow source
SLOW = 0.5  # seconds per agenda: the poll takes BACKLOG × SLOW


def test_kill_9_mid_poll_another_worker_finishes_it_after_the_lease(tmp_path: Path, postgres_url: str) -> None:
    with running(Server()) as portal:
        reference = worker_config(tmp_path, "reference", [portal])
        ids = publish(portal, 0, BACKLOG)
        ingest(reference)
        publish(portal, 0, BACKLOG, delay=SLOW)
        portal.requests.clear()
        bot = 'every = "1h"\ntick = "1s"\nlease = "3s"'
        configs = [worker_config(tmp_path, f"w{n}", [portal], postgres_url, bot=bot) for n in range(3)]
        with Workers(configs) as workers:
            assert wait_for(lambda: sum(agenda_fetches(portal).values()) >= 3, STALL), "the poll began"
            victim = holder_pid(postgres_url, "source")
            assert victim in workers.pids(), "one worker holds the poll"
            status = run_cli(configs[1], "status").stdout
            assert re.search(rf"pid {victim}: last seen [^,]+, polling alfa", status), status
            kill_9(workers.by_pid(victim))
            before = agenda_fetches(portal)
            stored = {portal_meeting_id(row["url"]) for row in json_lines(configs[1], "items")}
            assert 0 < len(stored) < BACKLOG, "killed mid-poll"

            def finished() -> bool:
                return (
                    holder_pid(postgres_url, "source") is None and len(json_lines(configs[1], "items")) == 4 * BACKLOG
                )

            settle(lambda: agenda_fetches(portal), finished)
            workers.stop()
        workers.check_clean(killed=frozenset({victim}))
    check_no_duplicates(configs[1])
    assert snapshot(configs[1]) == snapshot(reference), "nothing lost or doubled"
    again = agenda_fetches(portal) - before
    assert sorted(again) == sorted(set(ids) - stored), "what was stored is not fetched again, the rest once"
    assert set(again.values()) <= {1}
    sources_healthy(postgres_url)


# --- kill -9 mid-send: another worker sends that email after the lease -----------------------------


def test_kill_9_mid_send_another_worker_sends_it_after_the_lease(tmp_path: Path, postgres_url: str) -> None:
    inbox = HoldingInbox(delay=0.1)
    smtp = SmtpServer(inbox, free_port())
    smtp.start()
    try:
        with running(Server()) as portal:
            # outbox lease = 10 × [email] timeout = 5 s
            mail, bot = smtp_table(smtp.port, timeout=0.5), 'every = "2s"\ntick = "1s"\nlease = "3s"'
            configs = [worker_config(tmp_path, f"w{n}", [portal], postgres_url, bot=bot, smtp=mail) for n in range(3)]
            publish(portal, 0, MEETINGS)
            ingest(configs[0])  # the agendas: a source's first poll sends no email
            publish(portal, 0, MEETINGS, minutes=True)
            with Workers(configs) as workers:
                inbox.pids, inbox.armed = workers.pids(), True
                assert wait_for(lambda: inbox.killed, STALL), "a worker began to send"
                ((victim, held),) = inbox.killed
                workers.by_pid(victim).wait(timeout=30)
                expected = mail_for(1, MEETINGS)
                settle(lambda: len(inbox.messages), lambda: {d.message_id for d in deliveries(inbox)} >= {held})
                workers.stop()
            workers.check_clean(killed=frozenset({victim}))
    finally:
        smtp.stop()
    sent = check_each_once(inbox, expected, "killed mid-send")
    assert sent[held] == 1, "the held message is sent again, once, with its Message-ID"
    check_no_duplicates(configs[0])
    assert sql(postgres_url, "SELECT DISTINCT state FROM outbox") == [("sent",)]


# --- many processes at once on an empty database ------------------------------------------------


def test_five_processes_starting_at_once_on_an_empty_database_migrate_it_once(
    tmp_path: Path, postgres_url: str
) -> None:
    minutes = tmp_path / "minutes"
    minutes.mkdir()
    (minutes / "dagsorden.md").write_text(standard_agenda().text(), encoding="utf-8")
    configs = []
    for n in range(5):
        (tmp_path / f"p{n}").mkdir()
        config = write_config(tmp_path / f"p{n}", minutes, database_url=postgres_url)
        configs.append(config)
    commands = [["ingest"], ["run", "--once"]]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config), *commands[n % 2]],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, config in enumerate(configs)
    ]
    results = [process.communicate(timeout=STALL) for process in processes]
    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        assert not CRASH.search(err), err
    applied = sql(postgres_url, "SELECT name, count(*) FROM schema_migration GROUP BY name ORDER BY name")
    assert applied == [(name, 1) for name, _ in sorted(MIGRATIONS)]
    check_no_duplicates(configs[0])
    assert len(json_lines(configs[0], "items")) == 4


# --- one meeting, two workers at once -------------------------------------------------------------


def test_a_meeting_another_worker_creates_meanwhile_is_recorded_into_not_made_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    """Between one worker's look for a meeting and its insert, another worker stores the agenda of
    that meeting: the first worker's minutes go into the meeting the other made."""
    ours, theirs = Store(postgres_url, tmp_path / "ours"), Store(postgres_url, tmp_path / "theirs")
    agenda = standard_agenda()
    tallies: list[Tally] = []

    @event.listens_for(ours.engine, "before_cursor_execute")
    def meanwhile(connection: object, cursor: object, statement: str, *rest: object) -> None:
        if statement.startswith("INSERT INTO meeting") and not tallies:
            tallies.extend(record_documents(theirs, [[("dagsorden.md", agenda)]], utcnow()))

    minutes = decided(agenda, skip=(3,))
    tallies += record_documents(ours, [[("referat.md", minutes)]], utcnow())
    alone = Store(f"sqlite:///{tmp_path / 'alone.db'}", tmp_path / "alone")  # the same, one after the other
    assert tallies == record_documents(alone, [[("dagsorden.md", agenda)], [("referat.md", minutes)]], utcnow())
    assert sql(postgres_url, "SELECT kind FROM meeting") == [("referat",)], "one meeting, raised to minutes by ours"
    assert sql(postgres_url, "SELECT count(*) FROM item") == [(4,)]
    for store in (ours, theirs, alone):
        store.close()
