"""Chat and webhook notifications: a watchlist's ``[deliver] notify`` and ``notify_env``.

Built like the email digests (:mod:`bot.publish.digest`), through an outbox of their own, the
``notification`` table: one row per (watchlist, target, period), rendered and stored before
anything is sent (:mod:`bot.publish.notify_send` sends it), with the matches it carries. Periods as the
digests': ``immediate:<cycle time>`` after each cycle, ``daily:<date>`` and ``weekly:<date>`` at
``[email] daily_at`` / ``weekly_on`` (07:00 and Monday without an ``[email]`` table),
``now:<time>`` for ``referatvagt notify --now``.

A match goes to a target once, if it may be delivered at all (``Match.mail``: not a backfill, not
found while its watchlist was paused), was found after the target was first seen (a target
added to an old watchlist is not sent its history) and less than ``HORIZON`` ago. A paused
watchlist gets nothing; its matches from before the pause wait for it. Targets and their
secrets: :mod:`bot.publish.notify_targets`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.config import Config, EmailSettings
from bot.match.watchlists import Watchlist
from bot.publish.claims import UNSENT, SendReport
from bot.publish.digest import due_period
from bot.publish.digest_render import Pending
from bot.publish.entries import Row
from bot.publish.notify_render import payloads, text, title
from bot.publish.notify_send import retry_failed, send_pending
from bot.publish.notify_targets import has_targets, targets
from bot.store import Store, events_by_id
from bot.store.coordination import insert_ignoring, lock, retrying
from bot.store.models import Match, Notification
from bot.wording import plural

HORIZON = timedelta(days=30)  # an older match is news no more: it is not sent (e.g. once a broken target works)
START = "start"  # the period (and state) of the row that says when a target was first seen
_KEY = ("watchlist", "target", "period")
# Without an [email] table, daily and weekly notifications go out at its default times.
DEFAULT_TIMES = EmailSettings.model_construct(sender="referatvagt@localhost", daily_at="07:00", weekly_on="monday")


def schedule(config: Config) -> EmailSettings:
    """When daily and weekly notifications are due: with the email digests."""
    return config.email or DEFAULT_TIMES


def notifying(watchlists: Sequence[Watchlist]) -> list[Watchlist]:
    return [watchlist for watchlist in watchlists if has_targets(watchlist)]


# --- the rounds: after a cycle, at the digest times, by hand --------------------------------------


def after_cycle(config: Config, store: Store, watchlists: Sequence[Watchlist], now: datetime) -> SendReport | None:
    """After each cycle: note new targets, build the immediate notifications, send what is due.
    None when no watchlist notifies anyone and nothing is left to send."""
    theirs = notifying(watchlists)
    if not theirs and not _unsent(store):
        return None
    report = SendReport("notification")
    retrying(lambda: _register(store, config, theirs, now, report), "notifications")
    report.built = retrying(
        lambda: build(store, config, theirs, ("immediate",), f"immediate:{now.isoformat()}", now, report),
        "notifications",
    )
    _send(store, config, list(watchlists), now, report)
    report.errors = list(dict.fromkeys(report.errors))  # a broken target is named once, not once per step
    return report


def leftovers(config: Config, store: Store, watchlists: Sequence[Watchlist], now: datetime) -> SendReport | None:
    """For an idle worker: immediate notifications a worker that died did not build, and those
    due or left unsent. A cheap look first: at the matches of the last day only."""
    immediate = [w.slug for w in notifying(watchlists) if w.deliver.digest == "immediate"]
    if _unnotified(store, immediate, now - timedelta(days=1)):
        return after_cycle(config, store, watchlists, now)
    if not _unsent(store):
        return None
    report = SendReport("notification")
    _send(store, config, list(watchlists), now, report)
    return report


def send_due(
    config: Config,
    store: Store,
    watchlists: Sequence[Watchlist],
    now: datetime,
    right_now: bool = False,
    again: bool = False,
) -> SendReport:
    """The daily and weekly notifications that are due (``right_now``: all pending matches, at
    once), then whatever is due to be sent; ``again`` first retries the failed ones."""
    report = SendReport("notification")
    theirs = notifying(watchlists)
    if not theirs and not again and not _unsent(store):
        return report
    retrying(lambda: _register(store, config, theirs, now, report), "notifications")
    for kinds, period in due_rounds(config, now, right_now):
        report.built += retrying(
            lambda kinds=kinds, period=period: build(store, config, theirs, kinds, period, now, report),  # type: ignore[misc]
            "notifications",
        )
    if again:
        report.retried = retry_failed(store, now)
    _send(store, config, list(watchlists), now, report, right_now)
    report.errors = list(dict.fromkeys(report.errors))
    return report


def due_rounds(config: Config, now: datetime, right_now: bool) -> list[tuple[tuple[str, ...], str]]:
    if right_now:
        return [(("immediate", "daily", "weekly"), f"now:{now.isoformat()}")]
    local = now.astimezone(config.bot.zone)
    return [((kind,), due_period(kind, schedule(config), local)) for kind in ("daily", "weekly")]


def _send(
    store: Store,
    config: Config,
    watchlists: list[Watchlist],
    now: datetime,
    report: SendReport,
    right_now: bool = False,
) -> None:
    sent = send_pending(store, config, watchlists, now, right_now)
    report.sent, report.failed, report.gave_up, report.held = sent.sent, sent.failed, sent.gave_up, sent.held
    report.errors += sent.errors


# --- building ------------------------------------------------------------------------------------------


def build(
    store: Store,
    config: Config,
    watchlists: Sequence[Watchlist],
    frequencies: Iterable[str],
    period: str,
    now: datetime,
    report: SendReport,
) -> int:
    """Store the notification of each target of these watchlists for ``period`` that has
    matches to tell, with the target locked (two workers never put a match in two); returns how
    many were built. A paused watchlist gets none."""
    wanted, today = set(frequencies), now.astimezone(config.bot.zone).date()
    built = 0
    for watchlist in watchlists:
        if watchlist.deliver.digest not in wanted or watchlist.paused_on(today):
            continue
        found, errors = targets(watchlist, config)
        report.errors += errors
        for target in found:
            with store.session() as session:
                lock(session, f"notify:{watchlist.slug}:{target.key}")
                built += _put(store, session, config, watchlist, target.key, period, now)
    return built


def _put(
    store: Store, session: Session, config: Config, watchlist: Watchlist, key: str, period: str, now: datetime
) -> int:
    taken = select(Notification.id).where(
        Notification.watchlist == watchlist.slug, Notification.target == key, Notification.period == period
    )
    if session.exec(taken).first() is not None:
        return 0  # built already: its matches were taken then
    pending = pending_matches(
        store, session, watchlist.slug, key, max(_started(session, watchlist, key, now), now - HORIZON)
    )
    if not pending:
        return 0
    session.add(
        Notification(
            watchlist=watchlist.slug,
            target=key,
            period=period,
            title=title(watchlist, pending),
            message=text(config, pending),
            payloads=payloads(watchlist, pending),
            match_ids=[one.match.id for one in pending if one.match.id is not None],
            next_attempt_at=now,
            created_at=now,
        )
    )
    return 1


def pending_matches(store: Store, session: Session, slug: str, key: str, since: datetime) -> list[Pending]:
    """The watchlist's deliverable matches since ``since`` that no notification to ``key`` took.
    A match is put in a notification built after it was found: rows older than ``since`` can
    hold none of these."""
    taken: set[int] = set()
    rows = select(Notification.match_ids).where(
        Notification.watchlist == slug, Notification.target == key, col(Notification.created_at) >= since
    )
    for ids in session.exec(rows):
        taken.update(ids)
    query = (
        store.match_query()
        .where(col(Match.watchlist) == slug, col(Match.mail).is_(True), col(Match.created_at) >= since)
        .order_by(col(Match.id))
    )
    found = [row for row in session.execute(query).all() if row[0].id not in taken]
    events = events_by_id(session, (match.event_id for match, *_ in found if match.event_id is not None))
    return [
        Pending(match, Row(*row), events.get(match.event_id) if match.event_id is not None else None)
        for match, *row in found
    ]


def _started(session: Session, watchlist: Watchlist, key: str, now: datetime) -> datetime:
    """When the target was first seen (now, if it was not before)."""
    _note(session, [(watchlist.slug, key)], now)
    query = select(Notification.created_at).where(
        Notification.watchlist == watchlist.slug, Notification.target == key, Notification.period == START
    )
    return session.exec(query).one()


def _register(store: Store, config: Config, watchlists: Sequence[Watchlist], now: datetime, report: SendReport) -> None:
    """Note the targets seen for the first time, whatever their watchlist's ``digest``: a daily
    target added at noon is sent that afternoon's matches the next morning."""
    wanted = set()
    for watchlist in watchlists:
        found, errors = targets(watchlist, config)
        report.errors += errors
        wanted |= {(watchlist.slug, target.key) for target in found}
    if not wanted:
        return
    with store.session() as session:
        seen = set(
            session.exec(select(Notification.watchlist, Notification.target).where(Notification.period == START))
        )
        _note(session, sorted(wanted - {tuple(row) for row in seen}), now)


def _note(session: Session, keys: Sequence[tuple[str, str]], now: datetime) -> None:
    rows = [
        {
            "watchlist": slug,
            "target": key,
            "period": START,
            "state": START,
            "title": "",
            "message": "",
            "payloads": [],
            "match_ids": [],
            "delivered": 0,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for slug, key in keys
    ]
    insert_ignoring(session, Notification, rows, _KEY)


def _unsent(store: Store) -> bool:
    with store.session() as session:
        return (
            session.exec(select(Notification.id).where(col(Notification.state).in_(UNSENT)).limit(1)).first()
            is not None
        )


def _unnotified(store: Store, slugs: Sequence[str], since: datetime) -> bool:
    """Whether a deliverable match of these watchlists found since ``since`` is in no notification."""
    if not slugs:
        return False
    with store.session() as session:
        found = set(
            session.exec(
                select(Match.id).where(
                    col(Match.watchlist).in_(slugs), col(Match.mail).is_(True), col(Match.created_at) >= since
                )
            )
        )
        if not found:
            return False
        rows = select(Notification.match_ids).where(
            col(Notification.watchlist).in_(slugs), col(Notification.created_at) >= since
        )
        for ids in session.exec(rows):
            found.difference_update(ids)
        return bool(found)


# --- status ------------------------------------------------------------------------------------------------


def status_lines(session: Session, when: Callable[[datetime | None], str]) -> list[str]:
    """``referatvagt status``: notifications waiting and failed (targets by their keys only)."""
    counts = dict(
        session.exec(
            select(Notification.state, func.count(col(Notification.id)))
            .where(col(Notification.state) != START)
            .group_by(col(Notification.state))
        ).all()
    )
    if not counts:
        return []
    waiting = sum(counts.get(state, 0) for state in UNSENT)
    failed = list(
        session.exec(select(Notification).where(Notification.state == "failed").order_by(col(Notification.id)))
    )
    lines = [
        "notifications:",
        f"  {plural(waiting, 'notification')} waiting to be sent; {counts.get('sent', 0)} sent; "
        f"{plural(len(failed), 'failed notification')}",
    ]
    if failed:
        lines.append(
            "  failed notifications keep their matches; send them again with `referatvagt notify --retry-failed`:"
        )
    lines += [
        f"    {row.watchlist} → {row.target} {row.period}: {plural(row.attempts, 'attempt')}, "
        f"last try {when(row.last_attempt_at)}: {row.last_error}"
        for row in failed
    ]
    return lines
