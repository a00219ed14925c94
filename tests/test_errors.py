"""Every failure a user can cause or meet is one line naming what to do, never a traceback;
commands that only read work for a user who may only read the store; no password is shown.

Permissions are real: folders and files are made read-only and the bot runs as a separate
process. Root ignores file modes, so as root that process gives up the two capabilities that let
it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) and meets the modes like any other user.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, func
from sqlmodel import select

from bot.store import Store
from bot.store import migrations as migrations_module
from bot.store.engine import masked_url
from bot.store.migrations import MIGRATIONS
from bot.store.models import Item
from tests.helpers import Result, run_cli, standard_agenda, write_config

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2
PASSWORD = "S3cretPw"


def _drop_file_capabilities() -> None:
    """In the child before exec: lose root's right to ignore file modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@functools.cache
def _can_meet_file_modes() -> bool:
    if os.geteuid() != 0:
        return True
    try:
        subprocess.run([sys.executable, "-c", "pass"], preexec_fn=_drop_file_capabilities, check=True)
    except (subprocess.SubprocessError, OSError):
        return False
    return True


def run_as_user(config: Path, *args: str) -> Result:
    """The real ``referatvagt`` command, in a process that file modes apply to."""
    if not _can_meet_file_modes():
        pytest.skip("running as root without CAP_SETPCAP: file modes cannot be made to apply")
    return run_process(config, *args, as_user=os.geteuid() == 0)


def run_process(config: Path, *args: str, as_user: bool = False) -> Result:
    """``python -m bot``: what a user sees, logging and the entry point's last guard included."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        preexec_fn=_drop_file_capabilities if as_user else None,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Folders r-x, files r--, as for a user who does not own them; restored afterwards."""
    modes = {path: path.stat().st_mode & 0o7777 for path in paths}
    try:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        yield
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def one_line_error(result: Result, *fragments: str, code: int = 2) -> str:
    """The result is exactly one line on stderr with every fragment, no traceback, this exit code."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.exit_code == code, result.stderr
    return lines[0]


def with_database(config: Path, url: str) -> Path:
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[bot]\n", f'[bot]\ndatabase_url = "{url}"\n', 1), encoding="utf-8")
    return config


def ingested(tmp_path: Path) -> Path:
    """A store with the standard agenda and one watchlist's match."""
    config = write_config(tmp_path)
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "bus.toml").write_text('terms = ["busplan"]\n', encoding="utf-8")
    (tmp_path / "minutes" / "dagsorden.md").write_text(standard_agenda().text(), encoding="utf-8")
    result = run_cli(config, "ingest")
    assert result.exit_code == 0, result.stderr
    return config


# --- the state folder, the feed folder, the archive ---------------------------------------------


def test_a_read_only_state_folder_is_one_line_naming_it(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    with read_only(state):
        result = run_as_user(config, "ingest")
    one_line_error(result, f"cannot write to the state folder {state} (permission denied)", "[bot] state_dir")


def test_a_missing_state_folder_under_a_read_only_parent_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "config.toml").write_text(
        config.read_text(encoding="utf-8").replace('state_dir = "state"', 'state_dir = "locked/state"'),
        encoding="utf-8",
    )
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        result = run_as_user(config, "ingest")
    one_line_error(result, f"cannot write to the state folder {locked / 'state'}", "[bot] state_dir")
    assert not (locked / "state").exists()


def test_a_database_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    with_database(config, f"sqlite:///{locked}/db/referatvagt.db")
    with read_only(locked):
        result = run_as_user(config, "ingest")
    one_line_error(result, f"cannot create the database folder {locked / 'db'}", "database_url")


def test_a_read_only_feed_folder_is_one_line_and_the_items_are_still_stored(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "minutes" / "dagsorden.md").write_text(standard_agenda().text(), encoding="utf-8")
    feeds = tmp_path / "state" / "feeds"
    feeds.mkdir(parents=True)
    with read_only(feeds):
        result = run_as_user(config, "ingest")
    one_line_error(result, f"error: cannot write the feed folder {feeds} (permission denied)", "next run", code=1)
    assert result.stdout.strip().endswith("1 error"), "the run goes on: its summary is printed"
    assert len(run_cli(config, "items").stdout.splitlines()) == 4, "the feeds come next time; the items are in"
    assert run_cli(config, "ingest").exit_code == 0
    assert (feeds / "source-test.xml").exists()


def test_a_read_only_archive_is_named_for_each_document_without_a_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "minutes" / "dagsorden.md").write_text(standard_agenda().text(), encoding="utf-8")
    archive = tmp_path / "state" / "archive"
    archive.mkdir(parents=True)
    with read_only(archive):
        result = run_as_user(config, "ingest")
    # One failed document is one line, as any document the ingest cannot take; exit code 1
    one_line_error(
        result, f"error: source 'test' (Testrup): cannot write to the raw archive {archive} (permission denied)", code=1
    )
    assert result.stdout.strip().endswith("1 error")


def test_a_read_only_database_file_is_one_line_for_a_writer(tmp_path: Path) -> None:
    config = ingested(tmp_path)
    database = tmp_path / "state" / "referatvagt.db"
    with read_only(database):
        result = run_as_user(config, "ingest")
    one_line_error(result, f"the database at {database} (attempt to write a readonly database)", "permissions")


# --- backup ------------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a disk that is always full)")
def test_a_backup_to_a_full_disk_is_one_line_and_leaves_no_journal(tmp_path: Path) -> None:
    config = ingested(tmp_path)
    journal = Path("/dev/full-journal")
    left_before = journal.exists()
    result = run_cli(config, "backup", "/dev/full")
    one_line_error(result, "cannot write the backup to /dev/full (database or disk is full)", "free space")
    assert left_before or not journal.exists(), "a failed copy leaves no TARGET-journal behind"


@pytest.mark.parametrize("target", ["locked/copy.db", "locked/missing/copy.db"])
def test_a_backup_into_a_read_only_or_missing_folder_is_one_line(tmp_path: Path, target: str) -> None:
    config = ingested(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        result = run_as_user(config, "backup", str(tmp_path / target))
    one_line_error(result, f"cannot write the backup to {tmp_path / target}", "folder you may write to")


# --- commands that only read ------------------------------------------------------------------


def _fingerprint(state: Path) -> dict[str, tuple[int, str]]:
    return {
        path.name: (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in state.iterdir()
        if path.is_file()
    }


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["items"], "Punkt 3: Busplan 2027"),
        (["events"], "Punkt 3: Busplan 2027"),
        (["matches"], "[bus] new"),
        (["try", "busplan"], "1 of 4 items match"),
        (["status"], "test (Testrup): last success"),
        (["feeds"], "source-test (public)"),
        (["backup", "COPY"], "store copied to"),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else None,
)
def test_read_only_commands_work_for_a_user_who_may_only_read_the_store(
    tmp_path: Path, command: list[str], expected: str
) -> None:
    config = ingested(tmp_path)
    state = tmp_path / "state"
    database = state / "referatvagt.db"
    copy = tmp_path / "copies" / "copy.db"
    before = _fingerprint(state)
    with read_only(state, database, state / ".referatvagt.lock"):
        result = run_as_user(config, *[str(copy) if part == "COPY" else part for part in command])
    assert result.exit_code == 0, result.stderr
    assert expected in result.stdout
    assert _fingerprint(state) == before, "nothing written, no -wal or -shm file left behind"
    if command[0] == "backup":  # the copy is a whole store, as a read-only command opens it
        with Store(f"sqlite:///{copy}", tmp_path / "archive", read_only=True) as backup, backup.session() as session:
            assert session.exec(select(func.count()).select_from(Item)).one() == 4


def test_a_read_only_command_as_the_owner_writes_nothing_and_leaves_no_files(tmp_path: Path) -> None:
    config = ingested(tmp_path)
    state = tmp_path / "state"
    before = _fingerprint(state)
    for command in ("items", "status"):
        assert run_cli(config, command).exit_code == 0
    assert _fingerprint(state) == before


def test_a_read_only_command_sees_what_a_running_writer_committed(tmp_path: Path) -> None:
    """About SQLite's files: a plain sqlite3 connection stands in for the running bot, since what is
    tested is that its -wal and -shm files, which it keeps while it runs, are read and not written."""
    config = ingested(tmp_path)
    state = tmp_path / "state"
    database = state / "referatvagt.db"
    bot = sqlite3.connect(database)  # the bot, mid-run: its connection keeps the -wal and -shm files
    try:
        bot.execute("SELECT count(*) FROM item").fetchone()
        (tmp_path / "minutes" / "dagsorden.md").write_text(
            standard_agenda().item(5, "Ny skolevej", "26/500").text(), encoding="utf-8"
        )
        assert run_cli(config, "ingest").exit_code == 0
        companions = [state / "referatvagt.db-wal", state / "referatvagt.db-shm"]
        assert companions[0].stat().st_size > 0, "the new item is in the write-ahead log, not yet in the file"
        with read_only(state, database, *companions):
            result = run_as_user(config, "items")
    finally:
        bot.close()
    assert result.exit_code == 0, result.stderr
    assert "Punkt 5: Ny skolevej" in result.stdout


@pytest.mark.parametrize("command", ["items", "events", "matches", "status", "feeds", "backup"])
def test_a_read_only_command_without_a_store_says_to_ingest_first_and_creates_nothing(
    tmp_path: Path, command: str
) -> None:
    config = write_config(tmp_path)
    args = [command, str(tmp_path / "copy.db")] if command == "backup" else [command]
    result = run_cli(config, *args)
    database = tmp_path / "state" / "referatvagt.db"
    one_line_error(result, f"no store yet at {database}: run `referatvagt ingest` first")
    assert not (tmp_path / "state").exists()


def test_a_read_only_command_does_not_migrate_an_older_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = ingested(tmp_path)
    steps: list[str] = []

    def newer(connection: Connection) -> None:
        steps.append("ran")

    monkeypatch.setattr(migrations_module, "MIGRATIONS", (*MIGRATIONS, ("9999_newer", newer)))
    result = run_cli(config, "items")
    one_line_error(result, "is from an older version: run `referatvagt ingest` once to upgrade it")
    assert steps == []
    assert run_cli(config, "ingest").exit_code == 0 and steps == ["ran"]


# --- configuration and secrets ----------------------------------------------------------------


def test_a_nul_in_database_url_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with_database(config, "sqlite:///x\\u0000y.db")
    result = run_cli(config, "items")
    one_line_error(result, f"{config}:2: bot.database_url: contains a NUL character: remove it")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"mysql+pymysql://admin:{PASSWORD}@127.0.0.1/referatvagt", "'mysql' databases are not supported"),
        (f"admin:{PASSWORD}@127.0.0.1/referatvagt", "not a database URL"),
    ],
)
def test_a_database_the_store_cannot_use_is_refused_when_the_config_loads(
    tmp_path: Path, url: str, message: str
) -> None:
    config = with_database(write_config(tmp_path), url)
    result = run_cli(config, "ingest")
    line = one_line_error(result, f"{config}:2: bot.database_url: {message}", "postgresql+psycopg://")
    assert PASSWORD not in line
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("command", [["ingest"], ["items"], ["status"], ["run", "--once"], ["run"]])
def test_the_database_password_is_never_shown(tmp_path: Path, command: list[str]) -> None:
    # A closed port: without the driver installed the error comes from the import, with it from
    # the connection; either way the message shows the URL with its password masked.
    config = with_database(write_config(tmp_path), f"postgresql+psycopg://admin:{PASSWORD}@127.0.0.1:1/referatvagt")
    result = run_process(config, *command)
    assert PASSWORD not in result.stdout + result.stderr
    one_line_error(result, "postgresql+psycopg://admin:***@127.0.0.1:1/referatvagt")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://admin:{PASSWORD}@db.example/x", "postgresql://admin:***@db.example/x"),
        (f"postgresql://admin:p@ss{PASSWORD}@db.example/x", "postgresql://admin:***@db.example/x"),
        (f"host=db.example password={PASSWORD} user=admin", "host=db.example password=*** user=admin"),
        ("sqlite:////var/lib/referatvagt/referatvagt.db", "sqlite:////var/lib/referatvagt/referatvagt.db"),
        ("http://example.org:8080/a@b", "http://example.org:8080/a@b"),
    ],
)
def test_masked_url_hides_the_password_even_in_urls_it_cannot_parse(url: str, shown: str) -> None:
    assert masked_url(url) == shown


# --- the last guard ----------------------------------------------------------------------------


def test_an_unexpected_os_error_is_still_one_line(tmp_path: Path) -> None:
    config = ingested(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        result = run_as_user(config, "digest", "--dry-run", str(locked / "out"))
    one_line_error(result, str(locked / "out"), "permission denied")
