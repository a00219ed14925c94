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

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from bot.migrations import MIGRATIONS

from .conftest import scratch_postgres
from .helpers import add_watchlists, ingest, json_lines, run_cli, standard_agenda, write_config
from .mailtools import HoldingInbox, SlowInbox
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
    running,
    write_portal_config,
)
from .test_crash import ENV, TOPICS, WATCHLISTS, Delivery, deliveries, identities, kill_9, portal_meeting_id, snapshot
from .test_email import Server as SmtpServer
from .test_scheduler import wait_for
from .webtools import free_port

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
