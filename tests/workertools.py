"""The harness of tests/test_workers.py: local portals that publish agendas and minutes, worker
configs sharing one PostgreSQL database and folders, `run` processes, and the checks that each
piece of work was done once."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import feedparser

from .helpers import add_watchlists
from .mailtools import SlowInbox
from .portal import (
    LISTING,
    Reply,
    Server,
    agenda,
    agenda_path,
    item,
    listing,
    meeting,
    portal_source,
    write_portal_config,
)
from .test_crash import ENV, TOPICS, WATCHLISTS, deliveries, identities, kill_9
from .test_scheduler import wait_for

SOURCES = ("alfa", "beta", "gamma")
COMMITTEES = ("Økonomiudvalget", "Teknik- og Miljøudvalget")
AGENDAS_OUT, MINUTES_OUT = "2026-05-01T10:00:00+02:00", "2026-05-25T10:00:00+02:00"
# Who gets which topic's items (tests/test_crash.py's WATCHLISTS: busser and kontant).
READERS = {TOPICS[0]: {"a@example.org", "b@example.org"}, TOPICS[1]: {"b@example.org", "c@example.org"}}
JSON = {"Content-Type": "application/json; charset=utf-8"}
# A crashed job, a lost race that was not retried, a logged error, or a poll summary counting errors.
CRASH = re.compile(
    r"Traceback|IntegrityError|UniqueViolation|SerializationFailure|Deadlock|\bERROR\b|\bCRITICAL\b|\b[1-9]\d* errors?\b"
)
STALL = 120.0  # seconds: only a stall or a lost piece of work takes this long
STABLE = 4.0  # seconds (four ticks) without anything new: the workers have settled


# --- the portals ---------------------------------------------------------------------------------


def agenda_items(source: int, number: int) -> list[tuple[int, str, str]]:
    """(position, topic, tag) of one meeting's items; the tag (``sag-…``) names the item in a digest."""
    return [(p, TOPICS[(number + p) % len(TOPICS)], f"sag-{source}{number:02d}-{p}") for p in range(1, 5)]


def publish(portal: Server, source: int, meetings: int, minutes: bool = False, delay: float = 0.0) -> list[str]:
    """Put a source's agendas (or their minutes, re-released) on its portal; returns the meeting ids."""
    committees: dict[str, list[dict[str, Any]]] = {}
    ids = []
    for number in range(meetings):
        meeting_id, committee = f"s{source}m{number:02d}", COMMITTEES[number % 2]
        day = date(2026, 5, 4) + timedelta(days=number)
        decision = f"<h3>Beslutning i {committee} den {day:%d-%m-%Y}</h3><span>Godkendt.</span>" if minutes else ""
        items = [
            item(f"{meeting_id}-{p}", p, f"{topic} {tag}", f"26/{source}{number:02d}{p}", f"<h3>Sagsfremstilling</h3>"
                 f"<p>Sagen om {topic.lower()}.</p>{decision}")
            for p, topic, tag in agenda_items(source, number)
        ]  # fmt: skip
        body = json.dumps(agenda(meeting_id, committee, items)).encode()
        portal.routes[agenda_path(meeting_id)] = Reply(body=body, headers=JSON, delay=delay)
        kind, released = ("Referat", MINUTES_OUT) if minutes else ("Dagsorden", AGENDAS_OUT)
        committees.setdefault(committee, []).append(meeting(meeting_id, day.isoformat(), kind, released))
        ids.append(meeting_id)
    portal.json(LISTING, listing(committees))
    return ids


def mail_for(sources: int, meetings: int) -> dict[str, set[str]]:
    """Each recipient's item tags: every decided item of a watched topic, once."""
    expected: dict[str, set[str]] = {}
    for source in range(sources):
        for number in range(meetings):
            for _, topic, tag in agenda_items(source, number):
                for reader in READERS.get(topic, ()):
                    expected.setdefault(reader, set()).add(tag)
    return expected


def agenda_fetches(portal: Server) -> Counter[str]:
    prefix = agenda_path("")
    return Counter(path.removeprefix(prefix) for path in portal.paths() if path.startswith(prefix))


# --- configs and processes -----------------------------------------------------------------------


def worker_config(
    root: Path, name: str, portals: list[Server], database: str = "", bot: str = "", smtp: str = ""
) -> Path:
    """``root/name/config.toml``: its own state folder; with ``database`` (PostgreSQL) the database,
    feed folder, archive and watchlists of every worker under ``root``; ``smtp``: the [email] table."""
    folder = root / name
    folder.mkdir()
    add_watchlists(root, **WATCHLISTS)
    lines = [f'watchlists_dir = "{root / "watchlists"}"', bot]
    feeds = "\n[feeds]\nmax_entries = 10000\n"
    if database:
        lines.append(f'archive_dir = "{root / "archive"}"')
        feeds += f'dir = "{root / "feeds"}"\n'
    sources = [portal_source(name, portal.url) for name, portal in zip(SOURCES, portals, strict=False)]
    config = write_portal_config(folder, *sources, bot="\n".join(lines), database_url=database)
    with config.open("a", encoding="utf-8") as handle:
        handle.write(feeds + smtp)
    return config


def smtp_table(port: int, timeout: float) -> str:
    return (
        f'\n[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nfrom = "vagt@example.org"\n'
        f"max_items = 1000\ntimeout = {timeout}\n"
    )


class Workers:
    """``referatvagt run`` processes, one per config, each logging to ``worker.log`` beside its
    config; leaving the ``with`` block kills whichever still runs (a failed test)."""

    def __init__(self, configs: list[Path]) -> None:
        self.configs = configs
        self.processes: list[subprocess.Popen[str]] = []
        self.logs: dict[int, str] = {}

    def __enter__(self) -> Workers:
        for config in self.configs:
            command = [sys.executable, "-m", "bot", "--config", str(config), "run"]
            with (config.parent / "worker.log").open("w", encoding="utf-8") as log:
                self.processes.append(subprocess.Popen(command, env=ENV, stdout=log, stderr=log, text=True))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                kill_9(process)

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def by_pid(self, pid: int) -> subprocess.Popen[str]:
        (process,) = [process for process in self.processes if process.pid == pid]
        return process

    def stop(self) -> None:
        """SIGTERM to every live worker; then read each one's log."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_9(process)
        for process, config in zip(self.processes, self.configs, strict=True):
            self.logs[process.pid] = (config.parent / "worker.log").read_text(encoding="utf-8")

    def check_clean(self, killed: frozenset[int] = frozenset()) -> None:
        """Every worker that was not killed stopped normally, and no job crashed or logged an error."""
        for process in self.processes:
            if process.pid in killed:
                assert process.returncode == -signal.SIGKILL
                continue
            log = self.logs[process.pid]
            assert process.returncode == 0, log[-3000:]
            crashes = [line for line in log.splitlines() if CRASH.search(line)]
            assert crashes == [], f"worker {process.pid}: {crashes[:10]}"


def sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows of ``query``; none while the workers have not created the tables yet."""
    import psycopg  # here: without it, the postgres fixtures skip these tests instead of an import error

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        try:
            return connection.execute(query, params).fetchall()
        except psycopg.errors.UndefinedTable:
            return []


def settle(observe: Callable[[], object], done: Callable[[], bool]) -> None:
    """Wait until ``done``, then until ``observe`` stays the same for ``STABLE`` seconds."""
    assert wait_for(done, STALL), "the workers did not finish the work"
    last, since, deadline = observe(), time.monotonic(), time.monotonic() + STALL
    while time.monotonic() - since < STABLE:
        assert time.monotonic() < deadline, "the workers never settled"
        time.sleep(0.25)
        now = observe()
        if now != last:
            last, since = now, time.monotonic()


def feed_ids(folder: Path) -> dict[str, list[str]]:
    """Every RSS and Atom feed in ``folder`` (feedparser must read it cleanly) with its entry ids."""
    feeds = {}
    for path in sorted([*folder.rglob("*.xml"), *folder.rglob("*.atom")]):
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, f"{path}: {parsed.bozo_exception}"
        name = re.sub(r"^private/[^/]+/", "private/<token>/", path.relative_to(folder).as_posix())  # tokens differ
        feeds[name] = sorted(entry.id for entry in parsed.entries)
    return feeds


def check_each_once(inbox: SlowInbox, expected: dict[str, set[str]], where: str) -> Counter[str]:
    """Every (recipient, item) arrived, in exactly one delivery, and no message twice."""
    found = deliveries(inbox)
    per_message = Counter((d.message_id, d.recipient) for d in found)
    assert max(per_message.values()) == 1, f"{where}: a message delivered twice: {per_message.most_common(3)}"
    pairs = Counter((d.recipient, tag) for d in found for tag in d.tags)
    assert max(pairs.values()) == 1, f"{where}: an item mailed twice: {pairs.most_common(3)}"
    got = {recipient: {tag for r, tag in pairs if r == recipient} for recipient, _ in pairs}
    assert got == expected, f"{where}: every (recipient, item) arrives, and nothing else"
    return Counter(d.message_id for d in found)


def check_no_duplicates(config: Path) -> None:
    for command, counts in identities(config).items():
        assert max(counts.values(), default=1) == 1, f"duplicate {command}: {counts.most_common(2)}"


def sources_healthy(url: str) -> None:
    rows = sql(url, "SELECT name, failures, last_error FROM source ORDER BY name")
    assert all(failures == 0 and error is None for _, failures, error in rows), rows


def holder_pid(url: str, table: str) -> int | None:
    """The pid of the worker holding a live lease on a row of ``table`` (source or outbox)."""
    rows = sql(
        url,
        f"SELECT worker.pid FROM {table} JOIN worker ON worker.id = {table}.lease_owner"
        f" WHERE {table}.lease_until > now()",
    )
    return rows[0][0] if rows else None
