"""The unattended bot: `run` as a real process, `run --once`, the writer lock, status and backup;
on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import select

from bot.config import load_config
from bot.errors import StoreError
from bot.run.pipeline import open_store
from bot.run.scheduler import Bot
from bot.store import utcnow
from bot.store.models import SourceState

from .helpers import decided, json_lines, run_cli, standard_agenda, write_config
from .portal import LISTING, Reply, Server, portal_source, running, write_portal_config

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("database")


def setup(tmp_path: Path, every: str = "1s") -> Path:
    config = write_config(tmp_path)
    # a tick of a second: a running bot looks for due polls as often as the tests poll it
    text = config.read_text(encoding="utf-8").replace("[bot]\n", f'[bot]\nevery = "{every}"\ntick = "1s"\n')
    config.write_text(text, encoding="utf-8")
    (tmp_path / "minutes" / "dagsorden.md").write_text(standard_agenda().text(), encoding="utf-8")
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "bus.toml").write_text('terms = ["busplan"]\n', encoding="utf-8")
    return config


def start(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(check: object, limit: float = 30.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


class Polls:
    """Counts the polls a running bot finishes, from the success times the store records."""

    def __init__(self, config: Path) -> None:
        self.config = load_config(config)
        self.seen: set[str] = set()

    def count(self) -> int:
        try:
            with open_store(self.config, read_only=True) as store, store.session() as session:
                self.seen.update(str(at) for at in session.exec(select(SourceState.last_success_at)))
        except StoreError:
            pass  # not created yet
        self.seen.discard("None")
        return len(self.seen)


def test_run_polls_on_its_interval_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = setup(tmp_path)
    polls = Polls(config)
    process = start(config)
    try:
        assert wait_for(lambda: polls.count() >= 2), "at least two cycles"
        (tmp_path / "minutes" / "referat.md").write_text(decided(standard_agenda()).text(), encoding="utf-8")
        assert wait_for(lambda: any(m["event"] == "changed" for m in json_lines(config, "matches")))
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopping" in err and "stopped" in err
    assert "test: " in err and "documents read" in err, "one log line per poll"


@pytest.mark.sqlite_only
def test_a_second_run_on_the_same_state_folder_is_refused(tmp_path: Path) -> None:
    """SQLite only: one writer per SQLite store, by the file lock; on PostgreSQL any number of
    workers may run on one database."""
    config = setup(tmp_path)
    polls = Polls(config)
    process = start(config)
    try:
        assert wait_for(lambda: polls.count() >= 1), "the first run holds the lock"
        second = start(config)
        out, err = second.communicate(timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert second.returncode == 2
    assert "another referatvagt process" in err


def test_sigterm_while_a_portal_asks_to_wait_stops_at_once(tmp_path: Path) -> None:
    with running(Server()) as server:
        server.routes[LISTING] = Reply(status=503, headers={"Retry-After": "250"})
        config = write_portal_config(tmp_path, portal_source("aarhus", server.url), bot='every = "1h"')
        process = start(config)
        try:
            assert wait_for(lambda: server.count(LISTING) >= 1), "the bot asked the portal and now waits"
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "the bot is stopping" in err and "stopped" in err
    assert server.count(LISTING) == 1


def test_a_second_sigterm_stops_without_waiting_for_the_job(tmp_path: Path) -> None:
    with running(Server()) as server:
        server.routes[LISTING] = Reply(delay=15)  # answers long after the test is over
        config = write_portal_config(tmp_path, portal_source("aarhus", server.url), bot='every = "1h"')
        process = start(config)
        try:
            assert wait_for(lambda: server.count(LISTING) >= 1)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=10)
    assert process.returncode == 1
    assert "stopping now, without waiting for the current job" in err


def test_run_once_is_one_full_cycle(tmp_path: Path) -> None:
    config = setup(tmp_path)
    result = run_cli(config, "run", "--once")
    assert result.exit_code == 0, result.stderr
    assert (
        result.stdout.strip()
        == "1 document read (0 unchanged): 4 new, 0 changed, 0 removed items; 1 new match; 0 errors"
    )
    assert (tmp_path / "state" / "feeds" / "bus.xml").exists()


def test_a_missed_poll_runs_once_soon_after_a_restart(tmp_path: Path) -> None:
    """The plan is in the store: a poll missed while the bot was down is due once, not once for
    every interval missed, and the next one is planned an interval later."""
    config = setup(tmp_path, every="1h")
    run_cli(config, "run", "--once")
    loaded = load_config(config)
    with open_store(loaded) as store, store.session() as session:
        session.execute(update(SourceState).values(next_run_at=utcnow() - timedelta(hours=5)))
    polls = Polls(config)
    assert polls.count() == 1
    bot = Bot(config, loaded)
    bot.start()
    try:
        assert wait_for(lambda: polls.count() == 2), "the missed poll runs soon after the start"
    finally:
        bot.stop.set()
        bot.scheduler.shutdown(wait=False)
    with open_store(loaded, read_only=True) as store, store.session() as session:
        (state,) = session.exec(select(SourceState)).all()
    assert state.next_run_at is not None and state.next_run_at > utcnow() + timedelta(minutes=50)
    assert state.lease_owner is None, "the claim is let go after the poll"
    assert polls.count() == 2, "once — not five missed runs"


def test_status_shows_sources_and_watchlists(tmp_path: Path) -> None:
    config = setup(tmp_path)
    run_cli(config, "run", "--once")
    status = run_cli(config, "status").stdout
    assert "test (Testrup): last success" in status and "4 items stored" in status
    assert "bus: last match" in status


@pytest.mark.sqlite_only
def test_backup_copies_the_store_into_one_file(tmp_path: Path) -> None:
    """SQLite only: the backup is a SQLite file (on PostgreSQL, `backup` names pg_dump instead)."""
    config = setup(tmp_path)
    run_cli(config, "run", "--once")
    result = run_cli(config, "backup", str(tmp_path / "copy.db"))
    assert result.exit_code == 0
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("SELECT count(*) FROM item").fetchone() == (4,)


def test_a_broken_edit_keeps_the_last_valid_watchlist_in_force(tmp_path: Path) -> None:
    config = setup(tmp_path)
    run_cli(config, "ingest")
    (tmp_path / "watchlists" / "bus.toml").write_text('terms = ["busplan", "a"]\n', encoding="utf-8")
    (tmp_path / "minutes" / "referat.md").write_text(decided(standard_agenda()).text(), encoding="utf-8")
    result = run_cli(config, "ingest")
    assert result.exit_code == 3
    assert "the last valid version of bus.toml stays in force" in result.stderr
    assert [m["event"] for m in json_lines(config, "matches")] == ["new", "changed"]
