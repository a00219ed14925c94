"""kill -9 at any moment: the next run completes the work, and nothing is lost or doubled.

A real ``referatvagt ingest`` process is killed with SIGKILL at seeded random moments while it
stores minutes, matches watchlists and sends email through a real SMTP server (aiosmtpd), and
once right after the server accepted a digest; then a normal ingest runs. The store must then
hold exactly what one clean ingest of the same input holds (items, events, matches, feeds), and
every (recipient, match) must have arrived once, or twice with the same Message-ID (the one
documented resend). Ctrl-C (SIGINT) at that moment stops the ingest with a line saying so
(exit code 130), and the next run finishes the work the same way. A last test kills an ingest
during a slow portal's long backlog.

``REFERATVAGT_CRASH_RUNS`` sets the number of random kill sequences (default 3; a reliability
run uses 100 or more), ``REFERATVAGT_CRASH_SEED`` their seed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import text

from bot.cli import STOPPED
from bot.config import load_config
from bot.publish.claims import MIN_GAP
from bot.run.lock import writer_lock
from bot.run.pipeline import open_store, run_cycle
from bot.store import utcnow

from .helpers import Doc, decided, json_lines, write_config
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
from .test_email import Inbox
from .test_email import Server as SmtpServer
from .webtools import free_port

RUNS = int(os.environ.get("REFERATVAGT_CRASH_RUNS", "3"))
SEED = int(os.environ.get("REFERATVAGT_CRASH_SEED", "11"))
MEETINGS = 24
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
# Fields that say when something happened, not what: they differ between any two runs.
WHEN = {
    "items": ("document.fetched_at",),
    "events": ("id", "created_at"),
    "matches": ("matched_at", "document.fetched_at"),
}
TAG = re.compile(r"\bsag-\d+-\d+\b")  # in every item title, nowhere else: which items a digest carries


# --- the processes ------------------------------------------------------------------------------


def start_ingest(config: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bot", "--config", str(config), "ingest"]
    return subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_9(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate()


def ingest_killed_after(config: Path, delay: float) -> bool:
    """Run an ingest and SIGKILL it after ``delay`` seconds; whether it was still running then."""
    process = start_ingest(config)
    try:
        _, stderr = process.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        kill_9(process)
        return True
    assert process.returncode == 0, stderr
    return False


def finish(config: Path) -> None:
    """A normal ingest, a minute after the kills: the bot tries a digest at most once a minute,
    so a digest whose sending a kill cut short is sent again only then."""
    loaded = load_config(config)
    with writer_lock(loaded), open_store(loaded) as store:
        report = run_cycle(loaded, store, utcnow() + MIN_GAP)
    assert report.errors == [], report.errors


# --- what a run leaves behind -------------------------------------------------------------------


def _without(row: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    row = json.loads(json.dumps(row))
    for path in paths:
        *parents, key = path.split(".")
        target = row
        for parent in parents:
            target = target[parent]
        del target[key]
    return row


def snapshot(config: Path) -> dict[str, list[str]]:
    """Items, events and matches as ``--json`` lists them, without times and ids, sorted."""
    return {
        command: sorted(json.dumps(_without(row, WHEN[command]), sort_keys=True) for row in json_lines(config, command))
        for command in WHEN
    }


def identities(config: Path) -> dict[str, Counter[tuple[Any, ...]]]:
    """How often each item, event and match is stored, by what identifies it."""
    meeting_of = ("source", "committee", "meeting_date")
    keys = {
        "items": (*meeting_of, "number"),
        "events": ("kind", *meeting_of, "number", "version"),
        "matches": ("watchlist", *meeting_of, "number", "version"),
    }
    return {
        command: Counter(tuple(row[key] for key in fields) for row in json_lines(config, command))
        for command, fields in keys.items()
    }


def feed_entries(state: Path) -> dict[str, list[tuple[str, str]]]:
    """Every RSS feed with its entries' GUIDs and titles (dates differ between runs)."""
    feeds = {}
    for path in sorted((state / "feeds").glob("*.xml")):
        root = etree.parse(str(path)).getroot()
        feeds[path.name] = sorted(
            (entry.findtext("guid") or "", entry.findtext("title") or "") for entry in root.iter("item")
        )
    return feeds


def check_intact(config: Path) -> None:
    """SQLite and the archive survived the kills: no corruption, no dangling rows, no torn files.

    SQLite's own checks (these PRAGMAs are SQLite's), asked through the store as a read-only command."""
    with open_store(load_config(config), read_only=True) as store, store.engine.connect() as connection:
        assert [tuple(row) for row in connection.execute(text("PRAGMA integrity_check"))] == [("ok",)]
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    for path in (config.parent / "state" / "archive").glob("*/*"):
        if not path.name.startswith("."):  # a temporary file a kill left behind is never read
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, f"torn archive file {path}"


@dataclass
class Delivery:
    recipient: str
    message_id: str
    tags: frozenset[str]


def deliveries(inbox: Inbox) -> list[Delivery]:
    found = []
    for recipients, message in inbox.messages:
        body = message.get_body(("plain",))
        assert body is not None
        tags = frozenset(TAG.findall(body.get_content()))
        found += [Delivery(recipient, str(message["Message-ID"]), tags) for recipient in recipients]
    return found


def by_recipient(found: list[Delivery]) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for delivery in found:
        result.setdefault(delivery.recipient, set()).update(delivery.tags)
    return result


def check_exactly_once(found: list[Delivery], expected: dict[str, set[str]], where: str) -> Counter[str]:
    """Each (recipient, match) arrived at least once, and twice only as a resend of one message
    (same Message-ID, same content); returns how often each Message-ID arrived."""
    assert by_recipient(found) == expected, f"{where}: every (recipient, match) arrives, and nothing else"
    copies: dict[str, Delivery] = {}
    for delivery in found:
        first = copies.setdefault(delivery.message_id, delivery)
        assert (first.recipient, first.tags) == (delivery.recipient, delivery.tags), f"{where}: a resend differs"
    carried = Counter((d.recipient, tag) for d in copies.values() for tag in d.tags)
    assert max(carried.values(), default=1) == 1, f"{where}: a match went out in two different digests"
    return Counter(delivery.message_id for delivery in found)


# --- the scenario: agendas stored, then their minutes and a new watchlist arrive ---------------


class KillingInbox(Inbox):
    """An SMTP server's inbox that can SIGKILL the sending process right after accepting a message,
    before the client reads the 250 reply: the moment the documented resend is for (or send it
    another signal then: Ctrl-C's SIGINT)."""

    victim: subprocess.Popen[str] | None = None
    kill_at: int = 0  # kill after accepting this many messages (0: never)
    signal: int = signal.SIGKILL

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        reply = await super().handle_DATA(server, session, envelope)
        if self.victim is not None and len(self.messages) == self.kill_at:
            self.victim.send_signal(self.signal)
        return reply


@dataclass
class Scenario:
    root: Path
    inbox: KillingInbox
    startup: float = 0.0  # seconds before an ingest process does anything (imports)
    duration: float = 0.0  # seconds a clean ingest of the new documents takes
    reference: dict[str, list[str]] = field(default_factory=dict)
    feeds: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    sent: list[Delivery] = field(default_factory=list)  # by the clean ingest
    mail: dict[str, set[str]] = field(default_factory=dict)  # each recipient's matches

    def fresh(self, name: str) -> Path:
        """A state folder as it was before the minutes arrived, with its own config; the inbox emptied."""
        shutil.copytree(self.root / "baseline", self.root / name)
        self.inbox.messages.clear()
        return self.root / name / "config.toml"

    def check(self, config: Path, where: str) -> list[Delivery]:
        """The state after the crashes and a normal ingest is the state of one clean ingest."""
        state = config.parent / "state"
        check_intact(config)
        for command, counts in identities(config).items():
            assert max(counts.values()) == 1, f"{where}: duplicate {command}: {counts.most_common(1)}"
        assert snapshot(config) == self.reference, where
        assert feed_entries(state) == self.feeds, where
        return deliveries(self.inbox)


TOPICS = ("Busplan for linje 4", "Kontanthjælp og ledighed", "Budgetopfølgning", "Skolestruktur")
WATCHLISTS = {
    "busser": 'terms = ["busplan"]\n[deliver]\nemail = ["a@example.org", "b@example.org"]\ndigest = "immediate"\n',
    "kontant": 'terms = ["kontanthjælp"]\n[deliver]\nemail = ["b@example.org", "c@example.org"]\ndigest = "immediate"\n',
}


def agendas(folder: Path) -> list[Doc]:
    docs = []
    for number in range(MEETINGS):
        doc = Doc(
            committee=("Økonomiudvalget", "Teknik- og Miljøudvalget")[number % 2], day=f"{1 + number:02d}-03-2026"
        )
        for position in range(1, 7):
            topic = TOPICS[(number + position) % len(TOPICS)]
            text = f"Sagen om {topic.lower()}. " * 12
            doc.item(position, f"{topic} sag-{number}-{position}", f"26/{number:02d}{position}", Sagsfremstilling=text)
        (folder / f"{number:02d}-dagsorden.md").write_text(doc.text(), encoding="utf-8")
        docs.append(doc)
    return docs


def timed(command: list[str]) -> float:
    start = time.monotonic()
    subprocess.run(command, env=ENV, check=True, capture_output=True)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("crash")
    smtp = SmtpServer(KillingInbox(), free_port())
    smtp.start()
    try:
        folder = root / "minutes"
        folder.mkdir()
        docs = agendas(folder)
        (root / "baseline").mkdir()
        config = write_config(root / "baseline", folder)
        with config.open("a", encoding="utf-8") as handle:
            handle.write(
                f'\n[feeds]\nmax_entries = 10000\n\n[email]\nhost = "127.0.0.1"\nport = {smtp.port}\n'
                'security = "none"\nfrom = "vagt@example.org"\nmax_items = 1000\n'
            )
        watchlists = config.parent / "watchlists"
        watchlists.mkdir()
        (watchlists / "busser.toml").write_text(WATCHLISTS["busser"], encoding="utf-8")
        finish(config)  # the agendas: a first ingest, so no email
        for number, doc in enumerate(docs):
            (folder / f"{number:02d}-referat.md").write_text(decided(doc).text(), encoding="utf-8")
        (watchlists / "kontant.toml").write_text(WATCHLISTS["kontant"], encoding="utf-8")  # a look back, too

        inbox = smtp.inbox
        assert isinstance(inbox, KillingInbox)
        found = Scenario(root, inbox)
        reference = found.fresh("reference")
        found.startup = timed([sys.executable, "-m", "bot", "--config", str(reference), "check"])
        found.duration = timed([sys.executable, "-m", "bot", "--config", str(reference), "ingest"])
        found.reference, found.feeds = snapshot(reference), feed_entries(reference.parent / "state")
        found.sent = deliveries(inbox)
        found.mail = by_recipient(found.sent)
        assert len(found.sent) == 3 and set(found.mail) == {"a@example.org", "b@example.org", "c@example.org"}
        assert all(found.mail.values()) and len(found.reference["matches"]) > MEETINGS
        yield found
    finally:
        smtp.stop()


def test_the_clean_reference_run_has_no_duplicates_and_each_match_mailed_once(scenario: Scenario) -> None:
    config = scenario.root / "reference" / "config.toml"
    for command, counts in identities(config).items():
        assert max(counts.values()) == 1, command
    check_intact(config)
    assert set(check_exactly_once(scenario.sent, scenario.mail, "clean run").values()) == {1}


def test_kill_9_at_random_moments_loses_nothing_and_doubles_nothing(scenario: Scenario) -> None:
    chance = random.Random(SEED)
    for run in range(RUNS):
        config = scenario.fresh(f"random-{run}")
        # From the end of the imports to the end of a clean run: storing, matching, feeds, email.
        moments = [chance.uniform(0.8 * scenario.startup, scenario.duration) for _ in range(chance.randint(1, 2))]
        killed = [ingest_killed_after(config, moment) for moment in moments]
        finish(config)
        where = f"seed {SEED}, run {run}: kills after {[round(m, 2) for m in moments]} s (killed: {killed})"
        sent = check_exactly_once(scenario.check(config, where), scenario.mail, where)
        assert max(sent.values()) <= 2, where


@pytest.mark.parametrize("nth", [1, 2, 3])
def test_kill_9_right_after_the_server_accepted_a_digest_resends_just_that_one(scenario: Scenario, nth: int) -> None:
    config = scenario.fresh(f"smtp-{nth}")
    scenario.inbox.kill_at = nth
    scenario.inbox.victim = process = start_ingest(config)
    try:
        process.communicate(timeout=120)
    finally:
        scenario.inbox.victim, scenario.inbox.kill_at = None, 0
    assert process.returncode == -signal.SIGKILL, "the SMTP server killed the ingest"
    finish(config)
    where = f"killed after message {nth}"
    sent = check_exactly_once(scenario.check(config, where), scenario.mail, where)
    (resent,) = [message_id for message_id, copies in sent.items() if copies == 2]
    _, killed_on = scenario.inbox.messages[nth - 1]
    assert resent == killed_on["Message-ID"], "only the message the kill interrupted is sent again"


def test_ctrl_c_stops_an_ingest_with_a_line_saying_so_and_the_next_run_finishes_the_work(scenario: Scenario) -> None:
    config = scenario.fresh("ctrl-c")
    scenario.inbox.kill_at, scenario.inbox.signal = 1, signal.SIGINT
    scenario.inbox.victim = process = start_ingest(config)
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        scenario.inbox.victim, scenario.inbox.kill_at, scenario.inbox.signal = None, 0, signal.SIGKILL
    assert process.returncode == 130, stderr
    assert STOPPED in stderr and "Traceback" not in stderr and "Aborted!" not in stderr, stderr
    finish(config)
    sent = check_exactly_once(scenario.check(config, "ctrl-c"), scenario.mail, "ctrl-c")
    assert max(sent.values()) <= 2, "at most the message Ctrl-C cut short is sent again"


# --- a long backlog from a slow portal ---------------------------------------------------------

BACKLOG = 20
FETCHED_BEFORE_KILL = 6


def portal_meeting_id(item_url: str) -> str:
    found = re.search(r"[?&]id=([^&]+)", item_url)
    assert found is not None, item_url
    return found.group(1)


def test_kill_9_during_a_long_backlog_fetch_keeps_what_was_fetched(tmp_path: Path) -> None:
    ids = [f"m{number:02d}" for number in range(BACKLOG)]
    with running(Server()) as portal:
        days = [f"2026-{1 + number // 4:02d}-{1 + 7 * (number % 4):02d}" for number in range(BACKLOG)]
        portal.json(LISTING, listing({"Økonomiudvalget": [meeting(i, day) for i, day in zip(ids, days, strict=True)]}))
        for meeting_id in ids:
            items = [
                item(f"{meeting_id}-{n}", n, f"Sag {n} på møde {meeting_id}", f"26/{n}", "<p>Tekst.</p>")
                for n in (1, 2, 3)
            ]
            body = json.dumps(agenda(meeting_id, "Økonomiudvalget", items)).encode()
            portal.routes[agenda_path(meeting_id)] = Reply(
                body=body, headers={"Content-Type": "application/json"}, delay=0.3
            )
        config = write_portal_config(tmp_path, portal_source("backlog", portal.url))

        def requested() -> list[str]:
            prefix = agenda_path("")
            return [path.removeprefix(prefix) for path in portal.paths() if path.startswith(prefix)]

        process = start_ingest(config)
        deadline = time.monotonic() + 120  # generous: only a stall fails this
        while len(requested()) <= FETCHED_BEFORE_KILL:
            assert process.poll() is None, f"the ingest ended before the kill: {process.communicate()}"
            assert time.monotonic() < deadline, "the ingest stalled"
            time.sleep(0.02)
        kill_9(process)
        # The source asks for the next agenda only when the previous one was handed over.
        before_kill = requested()
        fetched = before_kill[:-1]
        stored = {portal_meeting_id(row["url"]) for row in json_lines(config, "items")}
        assert set(fetched) <= stored, f"fetched before the kill but not stored: {sorted(set(fetched) - stored)}"

        finish(config)
        rows = json_lines(config, "items")
        counts = Counter((portal_meeting_id(row["url"]), row["number"]) for row in rows)
        assert sorted(counts) == [(i, n) for i in ids for n in (1, 2, 3)] and set(counts.values()) == {1}
        again = requested()[len(before_kill) :]
        assert sorted(again) == sorted(set(ids) - stored), "what was stored is not fetched again, the rest once"
