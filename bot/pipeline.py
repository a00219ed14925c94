"""One ingest cycle: fetch → extract → parse → store versions and change events.

A document that fails is reported by name with the reason and the rest still go in;
each document is stored in its own transaction as soon as it is fetched, so an interrupted run
leaves the store consistent, keeps what it fetched, and the next run completes it without
duplicates. The order documents arrive in does not matter (see :mod:`bot.versions`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from bot.attachments import AttachmentReader, Bilag, Caps
from bot.claims import SendReport
from bot.config import Config
from bot.coordination import insert_ignoring, retrying
from bot.digest import deliver, recipients
from bot.errors import BotError, OutOfTime, PublishError, SourceError, Stopping
from bot.extract import extract_text
from bot.feeds import FeedReport, publish
from bot.fetch import Fetcher, FetchSettings
from bot.health import record_listing, record_outcome
from bot.http_cache import store_fetcher
from bot.matches import effective_watchlists, match_changes, sync_watchlists
from bot.minutes import ParsedMeeting
from bot.models import Document, Meeting, SourceState
from bot.notify import after_cycle
from bot.parse import parse_minutes
from bot.settings import parse_duration
from bot.source_config import PortalSource, SourceConfig
from bot.sources import RawDocument, Source, SourceContext, make_source
from bot.sources.base import HttpSource
from bot.store import Store, utcnow
from bot.versions import record_meeting
from bot.watchlists import Watchlist, paused_slugs
from bot.wording import plural
from bot.workers import Leases, jittered, source_row

# Told after each document a source delivers: (source name, documents so far, listed or None).
Progress = Callable[[str, int, int | None], None]


@dataclass
class RunReport:
    """Counters printed after each run, plus every error message."""

    documents: int = 0
    unchanged: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    matches: int = 0
    feeds: FeedReport = field(default_factory=FeedReport)
    mail: SendReport | None = None
    notify: SendReport | None = None  # chat and webhook notifications
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # not failures, but worth a look
    watchlist_errors: int = 0  # how many of ``errors`` are broken watchlist files

    @property
    def exit_code(self) -> int:
        """1 when a document, the feeds or an email failed; 3 when only watchlist files have errors
        (the cycle ran with the others); else 0."""
        if len(self.errors) > self.watchlist_errors:
            return 1
        return 3 if self.watchlist_errors else 0

    def summary(self) -> str:
        email = ""
        if self.mail is not None:
            failed = self.mail.failed + self.mail.gave_up
            email = f"{plural(self.mail.sent, 'email')} sent"
            email += f" ({failed} failed); " if failed else "; "
        if self.notify is not None and (self.notify.sent or self.notify.failed or self.notify.gave_up):
            failed = self.notify.failed + self.notify.gave_up
            email += f"{plural(self.notify.sent, 'notification')} sent" + (f" ({failed} failed); " if failed else "; ")
        return (
            f"{plural(self.documents, 'document')} read ({self.unchanged} unchanged): "
            f"{self.new} new, {self.changed} changed, {self.removed} removed items; "
            f"{plural(self.matches, 'new match', 'new matches')}; {email}"
            f"{plural(len(self.errors), 'error')}"
        )


@dataclass(frozen=True)
class _Parsed:
    raw: RawDocument
    digest: str
    meeting: ParsedMeeting


def run_cycle(
    config: Config,
    store: Store,
    now: datetime | None = None,
    fetcher: Fetcher | None = None,
    send_backfill: bool = False,
    only: Sequence[str] | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    leases: Leases | None = None,
) -> RunReport:
    """One cycle: new or edited watchlists first, then every source, then match what changed,
    publish the feeds, and send immediate email digests (and retries that are due).

    Watchlists go first so that items ingested after a watchlist exists are matched as
    changes (and may be emailed), while a new watchlist's look back over stored items is not.
    ``only`` limits the sources polled (the scheduler polls each on its own interval). Each
    source is claimed before it is polled (see :mod:`bot.workers`): one another worker is
    polling is skipped with a warning.
    """
    now = now or utcnow()
    report = RunReport()
    watchlists, report.errors = effective_watchlists(store, config.bot.watchlists_dir)
    report.watchlist_errors = len(report.errors)
    report.matches += retrying(lambda: sync_watchlists(store, watchlists, now), "watchlists")
    own = fetcher is None
    # One HTTP client per cycle unless the caller keeps one.
    fetcher = fetcher or store_fetcher(store, FetchSettings(contact=config.bot.contact), stop=stop)
    leases = leases or Leases(store, parse_duration(config.bot.lease))
    try:
        for source in config.sources:
            if (only is None or source.name in only) and not (stop is not None and stop.is_set()):
                _claimed_poll(config, source, store, report, now, fetcher, stop, progress, leases)
    finally:
        if own:
            fetcher.close()
    paused = paused_slugs(watchlists, now.astimezone(config.bot.zone).date())
    report.matches += match_changes(store, watchlists, now, send_backfill, paused)
    try:
        report.feeds = publish(config, store, watchlists)
    except PublishError as exc:  # the items and matches are stored; the feeds are written next time
        report.errors.append(str(exc))
    email_digests(config, store, watchlists, now, report)
    return report


def _claimed_poll(
    config: Config,
    source: SourceConfig,
    store: Store,
    report: RunReport,
    now: datetime,
    fetcher: Fetcher,
    stop: threading.Event | None,
    progress: Progress | None,
    leases: Leases,
) -> None:
    """Poll ``source`` under this worker's claim; then plan its next poll (unless stopping:
    then it stays due, for whichever worker looks next)."""
    holder = leases.claim(source)
    if holder is not None:
        report.warnings.append(f"{source_label(source)}: skipped: {holder} is polling it now")
        return
    try:
        ingest_source(source, store, report, now, fetcher, stop, progress, keep_claim=lambda: leases.renew(source.name))
    finally:
        stopping = stop is not None and stop.is_set()
        leases.release(source.name, None if stopping else utcnow() + jittered(interval(config, source)))


def interval(config: Config, source: SourceConfig) -> timedelta:
    """How often ``source`` is polled."""
    return parse_duration(source.every or config.bot.every)


def email_digests(config: Config, store: Store, watchlists: list[Watchlist], now: datetime, report: RunReport) -> None:
    """A cycle's immediate email digests, then its chat and webhook notifications (see :mod:`bot.notify`)."""
    _email_digests(config, store, watchlists, now, report)
    report.notify = after_cycle(config, store, watchlists, now)
    if report.notify is not None:
        report.errors += report.notify.errors


def _email_digests(config: Config, store: Store, watchlists: list[Watchlist], now: datetime, report: RunReport) -> None:
    if not recipients(watchlists, ("immediate", "daily", "weekly")):
        return
    if config.email is None:
        report.warnings.append("watchlists list email addresses, but the config has no [email] table: no email")
        return
    period = f"immediate:{now.isoformat()}"
    report.mail = retrying(lambda: deliver(store, config, watchlists, ("immediate",), period, now), "email")
    report.errors += report.mail.errors


def ingest_source(
    config: SourceConfig,
    store: Store,
    report: RunReport,
    now: datetime,
    fetcher: Fetcher | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    keep_claim: Callable[[], bool] | None = None,
) -> None:
    """Poll one source. Each document is parsed and stored as it arrives, in its own
    transaction: memory does not grow with a backlog, and a kill loses at most the document in
    hand. A poll that uses up the source's ``budget`` stops; the rest is fetched next time.
    ``keep_claim`` renews this worker's claim after each document; when it says the claim is
    lost (it ran out and another worker took over), the poll stops."""
    state = _source_state(store, config, now)
    source = make_source(config, SourceContext(fetcher, store, now, state.first_ingest_at))
    label = source_label(config)
    poll = _Poll(store, state, now, report, label, backfill=state.first_ingest_at is None)
    poll.attachments = _attachment_reader(config, source, store, fetcher)
    if poll.attachments is not None and keep_claim is not None:
        poll.attachments.keep_claim = keep_claim
    budget = parse_duration(config.budget).total_seconds()
    watch = fetcher.polling(getattr(config, "url", None), budget) if fetcher is not None else nullcontext()
    give_up_at = time.monotonic() + budget
    cut_short = False  # stopping, or out of time: store what is fetched; the rest comes next time
    try:
        with watch:
            for item in source.fetch():
                if isinstance(item, Stopping):
                    raise item
                poll.take(item)
                if progress is not None:
                    progress(config.name, poll.attempted, source.listed)
                if stop is not None and stop.is_set():
                    cut_short = True
                    break
                if keep_claim is not None and not keep_claim():
                    report.warnings.append(f"{label}: its claim ran out mid-poll; another worker goes on with it")
                    cut_short = True
                    break
                if time.monotonic() >= give_up_at:
                    raise OutOfTime(f"source {config.name!r}")
    except OutOfTime:
        report.warnings.append(
            f"{label}: its time budget of {config.budget} was used up after {poll.attempted} "
            f"of {source.listed if source.listed is not None else 'its'} documents; the rest is fetched at the "
            "next poll (raise `budget` if it is always too short)"
        )
        cut_short = True
    except Stopping as exc:
        report.warnings.append(str(exc))  # not a failure of the source
        cut_short = True
    except SourceError as exc:
        report.errors.append(named(label, str(exc)))
        _finish(store, state, now, error=str(exc))
        return
    finally:
        report.warnings += [named(label, warning) for warning in source.warnings]
    if not cut_short:  # a run cut short says nothing about the source's health
        _check_listed(source, store, state, report, label, now)
        _finish(store, state, now, error=poll.failure())


def _attachment_reader(
    config: SourceConfig, source: Source, store: Store, fetcher: Fetcher | None
) -> AttachmentReader | None:
    """The reader of a source's attachments, when it sets ``attachments = true`` (and the run
    has an HTTP client: attachments go through the same pacing and budget as the rest)."""
    wanted = isinstance(config, PortalSource) and config.attachments and isinstance(source, HttpSource)
    if not wanted or fetcher is None:
        return None
    assert isinstance(config, PortalSource) and isinstance(source, HttpSource)
    caps = Caps(config.attachment_max_mb, config.attachment_max_pages)
    return AttachmentReader(fetcher, store, config.name, source.attachment_url, caps)


def source_label(config: SourceConfig) -> str:
    """How errors and warnings name a source: ``source 'billund' (Billund)``."""
    return f"source {config.name!r} ({config.kommune})"


def named(label: str, message: str) -> str:
    return message if message.startswith(label) else f"{label}: {message}"


class _Poll:
    """One poll's documents, each stored as it arrives; counts what failed."""

    def __init__(
        self, store: Store, state: SourceState, now: datetime, report: RunReport, label: str, backfill: bool
    ) -> None:
        self.store, self.state, self.now, self.report, self.backfill = store, state, now, report, backfill
        self.label = label
        self.attempted = 0
        self.failed: list[str] = []
        self.attachments: AttachmentReader | None = None
        self.seen: dict[str, str] | None = None  # document key → hash of its newest stored version

    def take(self, fetched: RawDocument | BotError) -> None:
        self.attempted += 1
        if isinstance(fetched, BotError):
            self._fail(str(fetched))
            return
        self.report.documents += 1
        try:
            if self.seen is None:
                self.seen = _newest_digests(self.store, self.state)
            parsed = _read(fetched, self.seen, self.store, self.report, self.label)
            if parsed is not None:
                found = self._attachments(parsed)
                retrying(
                    lambda: _store(
                        self.store, self.state, parsed, self.now, self.backfill, self.report, self.label, found
                    ),
                    self.label,
                )
                self.seen[fetched.key] = parsed.digest
        except Stopping:
            raise  # out of time or stopping while fetching attachments: the document comes again next poll
        except BotError as exc:
            self._fail(str(exc))
        except SQLAlchemyError as exc:  # one document the store refuses must not stop the others
            self._fail(f"{fetched.name}: could not be stored ({type(exc).__name__}: {str(exc).splitlines()[0]})")

    def _attachments(self, parsed: _Parsed) -> dict[str, Bilag] | None:
        if self.attachments is None:
            return None
        found, warnings = self.attachments.read(parsed.meeting, parsed.raw.published_at, parsed.digest)
        self.report.warnings += [named(self.label, warning) for warning in warnings]
        return found

    def _fail(self, message: str) -> None:
        self.report.errors.append(named(self.label, message))
        self.failed.append(message)

    def failure(self) -> str | None:
        """The poll counts as failed when at least half of its documents failed: a source whose
        meetings mostly fail is failing, even if its listing answers."""
        if not self.failed or len(self.failed) * 2 < self.attempted:
            return None
        return f"{len(self.failed)} of {self.attempted} documents failed; the first: {self.failed[0]}"


def _check_listed(
    source: Source, store: Store, state: SourceState, report: RunReport, label: str, now: datetime
) -> None:
    """Zero meetings from a site, or from a folder that had some, is a warning, not silence: that
    is how a silently broken adapter shows itself. A site's empty polls reach the health feed."""
    web = isinstance(source, HttpSource)
    if web and source.listed is not None:
        with store.session() as session:
            record_listing(session, state.name, now, empty=source.listed == 0)
    if source.listed != 0:
        return
    if web:
        report.warnings.append(
            f"{label}: 0 meetings in its window – has the site changed? (check its url, committees and since)"
        )
        return
    with store.session() as session:
        had = session.exec(select(Meeting.id).where(Meeting.source_id == state.id).limit(1)).first()
    if had is not None:
        report.warnings.append(
            f"{label}: lists no meetings or documents now, though earlier runs found some; "
            "check its address and filters"
        )


def _source_state(store: Store, config: SourceConfig, now: datetime) -> SourceState:
    """The source's row, with what the config now says of it."""
    with store.session() as session:
        insert_ignoring(session, SourceState, [source_row(config, None)], ["name"])
        state = session.exec(select(SourceState).where(SourceState.name == config.name)).one()
        state.kommune, state.type, state.last_attempt_at = config.kommune, config.type, now
        session.add(state)
    return state


def _read(raw: RawDocument, seen: dict[str, str], store: Store, report: RunReport, label: str) -> _Parsed | None:
    digest = store.archive(raw.content)
    if seen.get(raw.key) == digest:
        report.unchanged += 1
        return None
    meeting = raw.parsed
    if meeting is None:
        extracted = extract_text(raw.content, raw.name)
        report.warnings += [named(label, warning) for warning in extracted.warnings]
        meeting = parse_minutes(extracted.text, raw.name)
    if raw.url and not meeting.url:
        meeting = replace(meeting, url=raw.url)
    return _Parsed(raw, digest, meeting)


def _newest_digests(store: Store, state: SourceState) -> dict[str, str]:
    """The hash of the newest stored version of each of the source's documents, read once per
    poll (its claim keeps other workers from storing its documents meanwhile). Only the newest
    counts: a document re-published with an earlier content is read again."""
    query = select(Document.key, Document.raw_sha256).where(Document.source_id == state.id).order_by(col(Document.id))
    with store.session() as session:
        return dict(session.exec(query).all())


def _store(
    store: Store,
    state: SourceState,
    parsed: _Parsed,
    now: datetime,
    backfill: bool,
    report: RunReport,
    label: str,
    attachments: dict[str, Bilag] | None = None,
) -> None:
    assert state.id is not None
    with store.session() as session:
        document = Document(
            source_id=state.id,
            key=parsed.raw.key,
            raw_sha256=parsed.digest,
            fetched_at=parsed.raw.fetched_at,
            url=parsed.raw.url,
            kind=parsed.meeting.kind,
            published_at=parsed.raw.published_at or parsed.raw.fetched_at,
            outcome="pending",
        )
        session.add(document)
        session.flush()
        tally = record_meeting(session, state, document, parsed.meeting, now, backfill, attachments)
    report.warnings += [named(label, warning) for warning in tally.warnings]
    report.new += tally.new
    report.changed += tally.changed
    report.removed += tally.removed


def _finish(store: Store, state: SourceState, now: datetime, error: str | None) -> None:
    with store.session() as session:
        stored = session.get(SourceState, state.id, with_for_update=True)
        assert stored is not None
        record_outcome(session, stored, now, error)  # the health log, before the count changes
        if error is None:
            stored.first_ingest_at = stored.first_ingest_at or now
            stored.last_success_at, stored.last_error, stored.failures = now, None, 0
        else:
            stored.last_error, stored.failures = error, col(SourceState.failures) + 1  # type: ignore[assignment]
        session.add(stored)


def open_store(config: Config, read_only: bool = False) -> Store:
    """The configured store; ``read_only`` for commands that only read (see :class:`Store`)."""
    return Store(config.bot.database, config.bot.archive, read_only)
