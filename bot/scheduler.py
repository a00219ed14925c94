"""The unattended bot (``referatvagt run``): APScheduler 3.x drives the pipeline.

Each source is polled on its own interval (``every``, default ``[bot] every``) with jitter, so
sources do not all fire at once; each poll stores, diffs, matches, publishes the feeds and sends
immediate digests. Daily and weekly digests run on cron triggers in ``[bot] timezone``. Jobs
run one at a time (one worker thread: one writer to the store), with ``coalesce`` and a
generous misfire grace time; the plan (next run per source) is kept in the store, so a restart
runs a missed poll once, not many times. The config and the watchlists are re-read at every
poll. SIGTERM/SIGINT only set an event, which also cuts short every wait of the fetcher
(pacing, backoff, Retry-After); the main thread then shuts the scheduler down, letting the
running job finish. A second signal stops the process at once.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import select

from bot.config import Config, find_config_file, load_config
from bot.digest import send_due
from bot.errors import BotError
from bot.matches import effective_watchlists
from bot.models import SourceState
from bot.pipeline import Progress, RunReport, open_store, run_cycle
from bot.settings import parse_duration
from bot.source_config import SourceConfig
from bot.store import Store, utcnow

log = logging.getLogger("referatvagt")
GRACE_SECONDS = 3600
RECONCILE_EVERY = timedelta(minutes=1)


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
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.WARNING)


def spread(every: timedelta, name: str, web: list[str]) -> timedelta:
    """When a new web source is first polled: the sites of a national config are spread evenly
    over one interval instead of all being asked at once; folders are read at once."""
    if name not in web:
        return timedelta(0)
    return every * web.index(name) / len(web)


def interval(config: Config, source: SourceConfig) -> timedelta:
    return parse_duration(source.every or config.bot.every)


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
        self._schedule_sources()
        self._schedule_digests()
        self.scheduler.add_job(
            self._job(self._reconcile), IntervalTrigger(seconds=RECONCILE_EVERY.total_seconds()), id="reconcile"
        )
        self.scheduler.start()
        log.info("referatvagt is running: %d sources; stop with Ctrl-C or SIGTERM", len(self.config.sources))

    def wait(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.stop.wait()
        log.info("stopping: letting the current job finish")
        # Not shutdown(wait=True): APScheduler 3 holds its job store lock while it waits, and a
        # running poll needs that lock (get_job) to finish: the process would hang for good.
        self.scheduler.shutdown(wait=False)
        with self._running:
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
            # fetched again next time; an email being sent may go out once more (same Message-ID).
            log.warning("stopping now, without waiting for the current job")
            os._exit(1)
        log.info("stopping after the current step (send the signal again to stop at once)")
        self.stop.set()

    # --- jobs ---------------------------------------------------------------------------------

    def _schedule_sources(self) -> None:
        now = utcnow()
        with open_store(self.config) as store, store.session() as session:
            planned = {state.name: state.next_run_at for state in session.exec(select(SourceState))}
        web = [source.name for source in self.config.sources if source.type != "folder"]
        for position, source in enumerate(self.config.sources):
            every = interval(self.config, source)
            first = planned.get(source.name) or now + spread(every, source.name, web)
            # A missed poll (the bot was down) runs once, soon, staggered so sources don't collide.
            if first < now:
                first = now + timedelta(seconds=2 + position)
            self._add_source_job(source, every, first)

    def _add_source_job(self, source: SourceConfig, every: timedelta, first: datetime) -> None:
        jitter = int(min(every.total_seconds() * 0.1, 300))
        trigger = IntervalTrigger(seconds=every.total_seconds(), start_date=first, jitter=jitter or None)
        self.scheduler.add_job(
            self._job(self._poll),
            trigger,
            args=[source.name],
            id=f"source:{source.name}",
            replace_existing=True,
            next_run_time=first,
        )

    def _schedule_digests(self) -> None:
        email = self.config.email
        if email is None:
            return
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

    def _poll(self, name: str) -> None:
        self._reload()
        if name not in {source.name for source in self.config.sources}:
            return
        try:
            with open_store(self.config) as store:
                report = run_cycle(self.config, store, only=[name], stop=self.stop)
                self._remember_next_run(store, name)
        except BotError as exc:
            log.error("%s: %s", name, exc)
            return
        self.cycles += 1
        for error in report.errors:
            log.error("%s", error)
        for warning in report.warnings:
            log.warning("%s", warning)
        log.info("%s: %s", name, report.summary())

    def _digests(self) -> None:
        self._reload()
        if self.config.email is None:
            return
        try:
            with open_store(self.config) as store:
                watchlists, _ = effective_watchlists(store, self.config.bot.watchlists_dir)
                report = send_due(store, self.config, watchlists, utcnow(), right_now=False)
        except BotError as exc:
            log.error("digests: %s", exc)
            return
        for error in report.errors:
            log.error("%s", error)
        log.info("digests: %d built, %d sent, %d failed", report.built, report.sent, report.failed + report.gave_up)

    def _reconcile(self) -> None:
        """Sources added to or removed from the config get or lose their job without a restart."""
        self._reload()
        wanted = {source.name: source for source in self.config.sources}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("source:") and job.id.removeprefix("source:") not in wanted:
                job.remove()
        for name, source in wanted.items():
            if self.scheduler.get_job(f"source:{name}") is None:
                self._add_source_job(
                    source, interval(self.config, source), utcnow() + timedelta(seconds=random.randint(1, 10))
                )

    def _reload(self) -> None:
        try:
            self.config = load_config(find_config_file(self.config_path))
        except BotError as exc:
            log.error("config: %s (the last valid config stays in force)", exc)

    def _remember_next_run(self, store: Store, name: str) -> None:
        job = self.scheduler.get_job(f"source:{name}")
        with store.session() as session:
            state = session.exec(select(SourceState).where(SourceState.name == name)).first()
            if state is not None and job is not None and job.next_run_time is not None:
                state.next_run_at = job.next_run_time
                session.add(state)
