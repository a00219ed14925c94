"""Sharing one store between workers (issue 15): leases on polls and emails, inserts that may
race, the migration lock, retried lost races, `status` and `backup` — on SQLite and PostgreSQL.

The whole-process version (three `run` workers, kill -9, a slow SMTP server) is in
tests/test_workers.py; these are the rules it rests on, one at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.config import load_config
from bot.publish.claims import Claims
from bot.run.lock import writer_lock
from bot.run.pipeline import open_store
from bot.run.status import render_status
from bot.run.workers import Leases, heartbeat, leave
from bot.store import Store, utcnow
from bot.store.coordination import insert_ignoring, retrying
from bot.store.migrations import MIGRATIONS
from bot.store.models import HttpCache, Outbox, SourceState

from .helpers import run_cli, write_config

pytestmark = pytest.mark.usefixtures("database")
SHORT = timedelta(seconds=1)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    text_ = path.read_text(encoding="utf-8")
    extra = '\n[[source]]\nname = "anden"\nkommune = "Andrup"\ntype = "folder"\npath = "minutes"\n'
    path.write_text(text_ + extra, encoding="utf-8")
    return path


@pytest.fixture
def store(config: Path) -> Iterator[Store]:
    with open_store(load_config(config)) as opened:
        yield opened


def due_now(store: Store) -> None:
    with store.session() as session:
        session.execute(update(SourceState).values(next_run_at=utcnow() - timedelta(seconds=1)))


def test_a_due_poll_is_claimed_by_one_worker_until_it_lets_go(config: Path, store: Store, database: str) -> None:
    sources = load_config(config).sources
    first, second = Leases(store, timedelta(minutes=5), "host-a:1:x"), Leases(store, timedelta(minutes=5), "host-b:2:y")
    first.plan(sources, {})
    due_now(store)
    claimed = first.claim_due(sources)
    assert claimed is not None
    if database:  # PostgreSQL: the other worker takes the other source, never the same one
        other = second.claim_due(sources)
        assert other is not None and other.name != claimed.name
        assert second.claim_due(sources) is None, "both due polls are held"
        assert "host-a:1:x" in str(second.claim(claimed)), "`ingest` says who holds it"
    first.release(claimed.name, utcnow() + timedelta(hours=1))
    with store.session() as session:
        state = session.exec(select(SourceState).where(SourceState.name == claimed.name)).one()
    assert state.lease_owner is None and state.next_run_at is not None and state.next_run_at > utcnow()


def test_a_claim_that_runs_out_goes_to_the_next_worker(config: Path, store: Store, database: str) -> None:
    """The worker died mid-poll (it stopped renewing): after its lease, another takes the poll
    over, and the first one can neither renew nor release what is no longer its own."""
    sources = load_config(config).sources[:1]
    dead, alive = Leases(store, SHORT, "dead:1:x"), Leases(store, SHORT, "alive:2:y")
    dead.plan(sources, {})
    due_now(store)
    assert dead.claim_due(sources) is not None
    if database:
        assert alive.claim_due(sources) is None, "held while the claim lasts"
        time.sleep(1.2)
    taken = alive.claim_due(sources)
    assert taken is not None, "free once the claim ran out (on SQLite at once: its claimer is gone)"
    dead._renewed.clear()
    assert not dead.renew(taken.name)
    dead.release(taken.name, utcnow() + timedelta(hours=1))
    with store.session() as session:
        assert session.exec(select(SourceState.lease_owner)).one() == "alive:2:y"


@pytest.mark.postgresql_only
def test_workers_looking_at_once_never_take_the_same_poll(config: Path, store: Store) -> None:
    sources = load_config(config).sources
    Leases(store, timedelta(minutes=5)).plan(sources, {})
    due_now(store)
    taken: list[str] = []
    start = threading.Barrier(8)

    def look(number: int) -> None:
        start.wait()
        claimed = Leases(store, timedelta(minutes=5), f"worker:{number}:x").claim_due(sources)
        if claimed is not None:
            taken.append(claimed.name)

    threads = [threading.Thread(target=look, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == ["anden", "test"], "each due poll once"


def test_an_email_is_sent_only_by_its_claimer(store: Store, database: str) -> None:
    now = utcnow()
    digest = Outbox(recipient="a@example.org", period="p", subject="s", message="m", message_id="<1@x>")
    digest.next_attempt_at = digest.created_at = now
    with store.session() as session:
        session.add(digest)
    outbox_id = digest.id
    assert outbox_id is not None
    mine, theirs = (Claims(store, Outbox, now, timedelta(minutes=5), owner) for owner in ("me", "them"))
    assert mine.claim(outbox_id) is not None
    if database:
        assert theirs.claim(outbox_id) is None, "claimed: no other worker sends it"
    theirs.sent(outbox_id)
    with store.session() as session:
        assert session.exec(select(Outbox.state)).one() == "sending", "only the claimer marks it sent"
    mine.sent(outbox_id)
    with store.session() as session:
        outbox = session.exec(select(Outbox)).one()
    assert (outbox.state, outbox.lease_owner) == ("sent", None)


def test_an_insert_another_worker_made_first_is_left_out(store: Store) -> None:
    row = {"url": "https://example.org/", "sha256": "0" * 64, "checked_at": utcnow()}
    with store.session() as session:
        assert insert_ignoring(session, HttpCache, [row], ["url"]) == 1
    with store.session() as session:
        other = {**row, "url": "https://example.org/2"}
        assert insert_ignoring(session, HttpCache, [row, other], ["url"]) == 1, "only the new one"


def test_a_lost_race_is_tried_again_and_other_errors_are_not(store: Store) -> None:
    row = {"url": "https://example.org/", "sha256": "0" * 64, "checked_at": utcnow()}
    with store.session() as session:
        session.execute(HttpCache.__table__.insert(), [row])  # type: ignore[attr-defined]
    calls: list[int] = []

    def insert() -> str:
        calls.append(1)
        url = row["url"] if len(calls) < 3 else "https://example.org/2"  # another worker came first, twice
        with store.session() as session:
            session.execute(HttpCache.__table__.insert(), [{**row, "url": url}])  # type: ignore[attr-defined]
        return "done"

    assert retrying(insert, "test") == "done" and len(calls) == 3

    def broken() -> None:
        calls.append(1)
        with store.session() as session:  # no hash: a bug, not a race
            session.execute(HttpCache.__table__.insert(), [{**row, "url": "x", "sha256": None}])  # type: ignore[attr-defined]

    calls.clear()
    with pytest.raises(IntegrityError):
        retrying(broken, "test")
    assert len(calls) == 1, "a real error is not retried"


def test_an_older_store_gets_the_worker_tables_in_place(tmp_path: Path, database: str) -> None:
    url = database or f"sqlite:///{tmp_path / 'db.sqlite'}"
    Store(url, tmp_path / "archive").close()
    store = Store(url, tmp_path / "archive")
    with store.engine.begin() as connection:  # the schema as 0004 left it
        connection.execute(text("DROP TABLE worker"))
        for table in ("source", "outbox"):
            for column in ("lease_owner", "lease_until"):
                connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        connection.execute(text("DELETE FROM schema_migration WHERE name = '0005_workers'"))
    store.close()
    store = Store(url, tmp_path / "archive")
    assert "worker" in inspect(store.engine).get_table_names()
    assert {"lease_owner", "lease_until"} <= {column["name"] for column in inspect(store.engine).get_columns("outbox")}
    assert "0005_workers" in [name for name, _ in MIGRATIONS]
    store.close()


def test_status_lists_each_worker_and_the_polls_it_holds(config: Path, store: Store) -> None:
    loaded = load_config(config)
    leases = Leases(store, timedelta(minutes=5))
    heartbeat(store)
    leases.plan(loaded.sources, {})
    due_now(store)
    held = leases.claim_due(loaded.sources)
    assert held is not None
    shown = render_status(store, loaded)
    assert "workers:" in shown and f"polling {held.name}" in shown
    leases.release(held.name, None)
    leave(store)
    assert "workers:" not in render_status(store, loaded), "a worker that stopped cleanly is not listed"


@pytest.mark.postgresql_only
def test_on_postgresql_there_is_no_file_lock_and_backup_names_pg_dump(
    config: Path, store: Store, tmp_path: Path
) -> None:
    loaded = load_config(config)
    with writer_lock(loaded), writer_lock(loaded):
        pass  # workers share the database, not a folder
    result = run_cli(config, "backup", str(tmp_path / "copy.dump"))
    assert result.exit_code == 2
    assert "pg_dump --format=custom" in result.stderr and "pg_restore" in result.stderr
    assert not (tmp_path / "copy.dump").exists()
