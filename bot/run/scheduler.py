"""The unattended bot (``referatvagt run``): APScheduler 3.x drives the pipeline.

The store holds the plan (each source's next poll, see :mod:`bot.run.workers`); the scheduler only
says when to look at it. Every ``[bot] tick`` a worker claims the polls that are due, one at a
time, and runs each (store, diff, match, publish the feeds, send immediate digests); with no
poll due it finishes what another worker left (unmatched changes, unsent digests). Any number
of workers may share one PostgreSQL store this way; on SQLite one `run` works per state folder.
New web sources are first polled spread over one interval instead of all at once; a poll
missed while the bot was down is due, so it runs once, soon. Daily and weekly digests run on
cron triggers in ``[bot] timezone`` in every worker; the recipient's lock and the (recipient,
period) key make one digest of them. Jobs run one at a time (one worker thread), with
``coalesce`` and a generous misfire grace time. The config and the watchlists are re-read at
every tick. SIGTERM/SIGINT only set an event, which also cuts short every wait of the fetcher
(pacing, backoff, Retry-After); the main thread then shuts the scheduler down, letting the
running job finish. A second signal stops the process at once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Config, find_config_file, load_config
from bot.errors import BotError, PublishError
from bot.match.matches import effective_watchlists, has_unmatched_events, match_changes
from bot.match.watchlists import Watchlist, paused_slugs
from bot.publish.digest import has_undelivered_matches, recipients, send_due
from bot.publish.feeds import publish
from bot.publish.mailer import send_pending
from bot.publish.notify import leftovers, schedule
from bot.publish.notify import send_due as send_due_notifications
from bot.run.pipeline import Progress, email_digests, interval, open_store, run_cycle
from bot.run.report import RunReport
from bot.run.workers import Leases, heartbeat, jittered, leave
from bot.settings import parse_duration
from bot.store import Store, utcnow
from bot.store.coordination import retrying

log = logging.getLogger("referatvagt")
GRACE_SECONDS = 3600


class ZoneFormatter(logging.Formatter):
    """Log lines stamped in ``[bot] timezone`` with the offset, as `status` and the feeds show
    times, not in the machine's zone (a server often runs in UTC)."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        return datetime.fromtimestamp(record.created, self.zone).strftime("%Y-%m-%d %H:%M:%S %z")


def configure_logging(zone: ZoneInfo, verbose: bool) -> None:
    """One line per step on stderr, in the configured time zone (``--verbose``: debug lines too)."""
    handler = logging.StreamHandler()
    handler.setFormatter(ZoneFormatter(zone))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    # A tick that finds the last one still polling is skipped with a warning: expected, not news.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.ERROR)


def spread(every: timedelta, name: str, web: list[str]) -> timedelta:
    """When a new web source is first polled: the sites of a national config are spread evenly
    over one interval instead of all being asked at once; folders are read at once."""
    if name not in web:
        return timedelta(0)
    return every * web.index(name) / len(web)


def run_once(config: Config, store: Store, send_backfill: bool = False, progress: Progress | None = None) -> RunReport:
    """One full cycle (every source, matching, feeds, immediate and due digests): ``run --once``."""
    report = run_cycle(config, store, send_backfill=send_backfill, progress=progress)
    if config.email is not None:
        watchlists, _ = effective_watchlists(store, config.bot.watchlists_dir)
        due = send_due(store, config, watchlists, utcnow(), right_now=False)
        report.errors += due.errors
        if report.mail is not None:
            report.mail.sent += due.sent
            report.mail.failed += due.failed
    watchlists, _ = effective_watchlists(store, config.bot.watchlists_dir)
    notified = send_due_notifications(config, store, watchlists, utcnow())  # the due daily and weekly ones
    report.errors += [error for error in notified.errors if error not in report.errors]  # a broken target: once
    if report.notify is not None:
        report.notify.sent += notified.sent
        report.notify.failed += notified.failed
    return report


def finish_leftovers(config: Config, store: Store, watchlists: list[Watchlist]) -> RunReport:
    """What a worker that died left undone: changes stored but not matched (then the feeds are
    published again), matches not yet in an immediate digest, digests due or left unsent."""
    now, report = utcnow(), RunReport()
    if has_unmatched_events(store):
        paused = paused_slugs(watchlists, now.astimezone(config.bot.zone).date())
        report.matches = match_changes(store, watchlists, now, paused=paused)
        try:
            report.feeds = publish(config, store, watchlists)
        except PublishError as exc:
            report.errors.append(str(exc))
    immediate = sorted(
        {watchlist.slug for theirs in recipients(watchlists, ("immediate",)).values() for watchlist in theirs}
    )
    if config.email is not None and (report.matches or has_undelivered_matches(store, immediate)):
        email_digests(config, store, watchlists, now, report)  # builds the immediate digests, then sends what is due
    elif config.email is not None:
        report.mail = send_pending(store, config.email, now)
        report.errors += report.mail.errors
    if report.notify is None:  # not done by email_digests above: chat and webhook notifications
        report.notify = leftovers(config, store, watchlists, now)
        report.errors += report.notify.errors if report.notify is not None else []
    return report


class Bot:
    """The long-running process: a scheduler, the current config and a stop event."""

    def __init__(self, config_path: Path | None, config: Config) -> None:
        self.config_path = config_path
        self.config = config
        self.stop = threading.Event()
        self._running = threading.Lock()  # held by the job that runs (one at a time)
        self.cycles = 0
        self.scheduler = BackgroundScheduler(
            timezone=config.bot.zone,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": GRACE_SECONDS},
        )

    def start(self) -> None:
        with open_store(self.config) as store:
            heartbeat(store)
            self._plan(store)
        tick = parse_duration(self.config.bot.tick).total_seconds()
        self.scheduler.add_job(self._job(self._tick), IntervalTrigger(seconds=tick), id="tick", next_run_time=utcnow())
        self._schedule_digests()
        self.scheduler.start()
        log.info("referatvagt is running: %d sources; stop with Ctrl-C or SIGTERM", len(self.config.sources))

    def wait(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.stop.wait()
        log.info("stopping: letting the current job finish")
        # Not shutdown(wait=True): APScheduler 3 holds its job store lock while it waits, and a
        # running job may need that lock to finish: the process would hang for good.
        self.scheduler.shutdown(wait=False)
        with self._running:
            with suppress(BotError), open_store(self.config) as store:
                leave(store)
            log.info("stopped")

    def _job(self, work: Callable[..., None]) -> Callable[..., None]:
        """``work`` as a job the shutdown waits for, and that does not start once stopping."""

        def job(*args: str) -> None:
            with self._running:
                if not self.stop.is_set():
                    work(*args)

        return job

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            # A second signal: the user will not wait. Whatever the job had not committed is
            # fetched again next time (its claim runs out); an email being sent may go out once
            # more (same Message-ID).
            log.warning("stopping now, without waiting for the current job")
            os._exit(1)
        log.info("stopping after the current step (send the signal again to stop at once)")
        self.stop.set()

    # --- jobs ---------------------------------------------------------------------------------

    def _plan(self, store: Store) -> None:
        """A first poll for each configured source the store has no plan for: now for folders,
        spread over one interval for web sources."""
        now = utcnow()
        web = [source.name for source in self.config.sources if source.type != "folder"]
        first = {
            source.name: now + spread(interval(self.config, source), source.name, web) for source in self.config.sources
        }
        Leases(store, self._lease()).plan(self.config.sources, first)

    def _schedule_digests(self) -> None:
        email = schedule(self.config)  # [email] daily_at and weekly_on: for notifications too
        hour, minute = (int(part) for part in email.daily_at.split(":"))
        zone = self.config.bot.zone
        self.scheduler.add_job(
            self._job(self._digests),
            CronTrigger(hour=hour, minute=minute, timezone=zone),
            id="digest:daily",
            replace_existing=True,
        )
        day = email.weekly_on[:3]
        self.scheduler.add_job(
            self._job(self._digests),
            CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=zone),
            id="digest:weekly",
            replace_existing=True,
        )

    def _tick(self) -> None:
        """Poll whatever is due, one source at a time; with nothing due, finish what is left."""
        self._reload()
        try:
            with open_store(self.config) as store:
                heartbeat(store)
                self._plan(store)  # sources added to the config since the last tick
                leases = Leases(store, self._lease())
                polled = False
                while not self.stop.is_set():
                    source = leases.claim_due(self.config.sources)
                    if source is None:
                        break
                    self._poll(store, leases, source.name)
                    polled = True
                if not polled and not self.stop.is_set():
                    self._finish_leftovers(store)
        except BotError as exc:
            log.error("%s", exc)
        except SQLAlchemyError as exc:  # the database went away: the next tick tries again
            log.error("the store failed (%s); trying again at the next tick", str(exc).splitlines()[0])

    def _poll(self, store: Store, leases: Leases, name: str) -> None:
        try:
            report = run_cycle(self.config, store, only=[name], stop=self.stop, leases=leases)
        except BotError as exc:  # e.g. the store failed: tried again an interval later, like a failed source
            source = self.config.source(name)
            leases.release(name, utcnow() + jittered(interval(self.config, source)))
            log.error("%s: %s", name, exc)
            return
        self.cycles += 1
        self._log(report)
        log.info("%s: %s", name, report.summary())

    def _finish_leftovers(self, store: Store) -> None:
        """Changes another worker stored but did not match (it died), and digests due or left
        unsent by a worker that died."""
        watchlists, _ = effective_watchlists(store, self.config.bot.watchlists_dir)
        report = finish_leftovers(self.config, store, watchlists)
        self._log(report)
        if report.matches or report.mail and (report.mail.sent or report.mail.failed):
            log.info("left over: %s", report.summary())

    def _log(self, report: RunReport) -> None:
        for error in report.errors:
            log.error("%s", error)
        for warning in report.warnings:
            log.warning("%s", warning)

    def _digests(self) -> None:
        self._reload()
        if self.config.email is not None:
            self._email_digests()
        self._notifications()

    def _notifications(self) -> None:
        try:
            with open_store(self.config) as store:
                watchlists, _ = effective_watchlists(store, self.config.bot.watchlists_dir)
                report = send_due_notifications(self.config, store, watchlists, utcnow())
        except BotError as exc:
            log.error("notifications: %s", exc)
            return
        for error in report.errors:
            log.error("%s", error)
        if report.built or report.sent or report.failed or report.gave_up:
            log.info("notifications: %s", report.summary())

    def _email_digests(self) -> None:
        try:
            with open_store(self.config) as store:
                watchlists, _ = effective_watchlists(store, self.config.bot.watchlists_dir)
                now = utcnow()
                report = retrying(lambda: send_due(store, self.config, watchlists, now, right_now=False), "digests")
        except BotError as exc:
            log.error("digests: %s", exc)
            return
        for error in report.errors:
            log.error("%s", error)
        log.info("digests: %d built, %d sent, %d failed", report.built, report.sent, report.failed + report.gave_up)

    def _lease(self) -> timedelta:
        return parse_duration(self.config.bot.lease)

    def _reload(self) -> None:
        try:
            self.config = load_config(find_config_file(self.config_path))
        except BotError as exc:
            log.error("config: %s (the last valid config stays in force)", exc)
