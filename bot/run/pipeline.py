"""One ingest cycle: fetch → extract → parse → store versions and change events.

A document that fails is reported by name with the reason and the rest still go in;
each document is stored in its own transaction as soon as it is fetched, so an interrupted run
leaves the store consistent, keeps what it fetched, and the next run completes it without
duplicates. The order documents arrive in does not matter (see :mod:`bot.store.versions`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta
from functools import partial

from sqlmodel import col, select

from bot.attachments import AttachmentReader, Caps
from bot.config import Config
from bot.errors import OutOfTime, PublishError, SourceError, Stopping
from bot.fetch import Fetcher, FetchSettings
from bot.http_cache import store_fetcher
from bot.match.matches import effective_watchlists, match_changes, sync_watchlists
from bot.match.watchlists import Watchlist, paused_slugs
from bot.publish.digest import deliver, recipients
from bot.publish.feeds import publish
from bot.publish.health import record_listing, record_outcome
from bot.publish.notify import after_cycle
from bot.run.poll import Poll, named
from bot.run.reading import Readers
from bot.run.report import RunReport
from bot.run.workers import Leases, jittered, source_row
from bot.settings import parse_duration
from bot.source_config import PortalSource, SourceConfig
from bot.sources import RawDocument, Source, SourceContext, make_source
from bot.sources.base import HttpSource
from bot.store import Store, utcnow
from bot.store.coordination import insert_ignoring, retrying
from bot.store.models import Meeting, SourceState

# Told after each document a source delivers: (source name, documents so far, listed or None).
Progress = Callable[[str, int, int | None], None]


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
    source is claimed before it is polled (see :mod:`bot.run.workers`): one another worker is
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
        with Readers[tuple[RawDocument, str]](config.bot.readers, archive=store.archive_dir) as readers:
            for source in config.sources:
                if (only is None or source.name in only) and not (stop is not None and stop.is_set()):
                    _claimed_poll(config, source, store, report, now, fetcher, stop, progress, leases, readers)
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
    readers: Readers[tuple[RawDocument, str]],
) -> None:
    """Poll ``source`` under this worker's claim; then plan its next poll (unless stopping:
    then it stays due, for whichever worker looks next)."""
    holder = leases.claim(source)
    if holder is not None:
        report.warnings.append(f"{source_label(source)}: skipped: {holder} is polling it now")
        return
    try:
        renew = partial(leases.renew, source.name)
        ingest_source(source, store, report, now, fetcher, stop, progress, keep_claim=renew, readers=readers)
    finally:
        stopping = stop is not None and stop.is_set()
        leases.release(source.name, None if stopping else utcnow() + jittered(interval(config, source)))


def interval(config: Config, source: SourceConfig) -> timedelta:
    """How often ``source`` is polled."""
    return parse_duration(source.every or config.bot.every)


def email_digests(config: Config, store: Store, watchlists: list[Watchlist], now: datetime, report: RunReport) -> None:
    """A cycle's immediate email digests, then its chat and webhook notifications (see :mod:`bot.publish.notify`)."""
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
    readers: Readers[tuple[RawDocument, str]] | None = None,
) -> None:
    """Poll one source. Documents are read as they arrive (``readers``: the cycle's, else this
    poll's own) and stored in batches (see :mod:`bot.run.poll`): memory does not grow with a
    backlog, and a kill loses at most the batch in hand. A poll that uses up the source's
    ``budget`` stops; the rest is fetched next time. ``keep_claim`` renews this worker's claim
    after each document; when it says the claim is lost (it ran out and another worker took
    over), the poll stops."""
    if readers is None:
        with Readers[tuple[RawDocument, str]](archive=store.archive_dir) as own:
            ingest_source(config, store, report, now, fetcher, stop, progress, keep_claim, own)
        return
    state = _source_state(store, config, now)
    source = make_source(config, SourceContext(fetcher, store, now, state.first_ingest_at))
    label = source_label(config)
    poll = Poll(store, state, now, readers, report, label, backfill=state.first_ingest_at is None)
    poll.attachments = _attachment_reader(config, source, store, fetcher)
    if poll.attachments is not None and keep_claim is not None:
        poll.attachments.keep_claim = keep_claim
    budget = parse_duration(config.budget).total_seconds()
    watch = fetcher.polling(getattr(config, "url", None), budget) if fetcher is not None else nullcontext()
    give_up_at = time.monotonic() + budget
    cut_short = False  # stopping, or out of time: store what is read; the rest comes next time
    try:
        with watch:
            try:
                asked = time.monotonic()
                for item in source.fetch():
                    if isinstance(item, Stopping):
                        raise item
                    poll.take(item, waited=time.monotonic() - asked)
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
                    asked = time.monotonic()
            except Stopping:
                raise
            except SourceError:
                poll.finish()  # what was fetched before the source failed goes in
                raise
            if not cut_short:
                poll.finish()
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
        poll.close()
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
