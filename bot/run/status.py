"""``referatvagt status``: what the store says about sources, watchlists and email."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.config import Config
from bot.match.matches import effective_watchlists
from bot.match.watchlists import Watchlist
from bot.publish.claims import UNSENT
from bot.publish.notify import status_lines as notify_status
from bot.run.workers import workers
from bot.store import Store
from bot.store.models import DigestItem, Item, Match, Meeting, Outbox, SourceState, WatchlistState
from bot.wording import plural


def render_status(store: Store, config: Config) -> str:
    zone = config.bot.zone

    def when(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M") if moment else "never"

    lines = ["sources:"]
    watchlists, _ = effective_watchlists(store, config.bot.watchlists_dir)
    emailed = [watchlist.slug for watchlist in watchlists if watchlist.deliver.email]
    with store.session() as session:
        counts = dict(
            session.exec(
                select(Meeting.source_id, func.count(col(Item.id)))
                .join(Item, col(Item.meeting_id) == col(Meeting.id))
                .group_by(col(Meeting.source_id))
            ).all()
        )
        states = {state.name: state for state in session.exec(select(SourceState))}
        for source in config.sources:
            state = states.get(source.name)
            if state is None:
                lines.append(f"  {source.name} ({source.kommune}): not polled yet")
                continue
            lines.append(
                f"  {source.name} ({source.kommune}): last success {when(state.last_success_at)}, "
                f"next run {when(state.next_run_at)}, {counts.get(state.id or 0, 0)} items stored"
            )
            if state.failures or state.last_error:
                lines.append(f"    {plural(state.failures, 'failure')} in a row; last error: {state.last_error}")
        lines += _workers(store, when)
        lines.append("watchlists:")
        last_match = dict(
            session.exec(select(Match.watchlist, func.max(col(Match.created_at))).group_by(col(Match.watchlist))).all()
        )
        in_force = {watchlist.slug: watchlist for watchlist in watchlists}
        today = datetime.now(zone).date()
        for listed in session.exec(select(WatchlistState).order_by(col(WatchlistState.slug))):
            watchlist = in_force.get(listed.slug)
            note = _paused(watchlist, today) if watchlist else " (its file is gone: no longer matched)"
            lines.append(f"  {listed.slug}: last match {when(last_match.get(listed.slug))}{note}")
        lines += _email(session, when, emailed)
        lines += notify_status(session, when)
    return "\n".join(lines)


def _paused(watchlist: Watchlist, today: date) -> str:
    if watchlist.paused:
        return " (paused: matched and in its feed, not emailed or notified; remove `paused` to resume)"
    if watchlist.paused_on(today):
        assert watchlist.paused_until is not None
        return f" (paused until {watchlist.paused_until:%d.%m.%Y}: matched and in its feed, not emailed or notified)"
    return ""


def _workers(store: Store, when: Callable[[datetime | None], str]) -> list[str]:
    """Each `run` worker seen in the last day and the polls it holds now."""
    seen = workers(store)
    if not seen:
        return []
    lines = ["workers:"]
    for worker, holding in seen:
        polling = f"polling {', '.join(holding)}" if holding else "idle"
        lines.append(f"  {worker.host} pid {worker.pid}: last seen {when(worker.last_seen_at)}, {polling}")
    return lines


def _email(session: Session, when: Callable[[datetime | None], str], emailed: list[str]) -> list[str]:
    """``emailed``: the watchlists with recipients; the matches of the others never wait for a digest."""
    lines = ["email:"]
    pending = session.exec(
        select(Outbox.recipient, func.count(col(Outbox.id)))
        .where(col(Outbox.state).in_(UNSENT))
        .group_by(col(Outbox.recipient))
    ).all()
    waiting = session.exec(
        select(func.count(col(Match.id))).where(
            col(Match.mail).is_(True),
            col(Match.watchlist).in_(emailed),
            ~select(DigestItem.id).where(DigestItem.match_id == Match.id).exists(),
        )
    ).one()
    failed = list(session.exec(select(Outbox).where(Outbox.state == "failed").order_by(col(Outbox.id))))
    lines += [f"  {recipient}: {plural(count, 'digest')} waiting to be sent" for recipient, count in pending]
    lines.append(f"  {plural(waiting, 'match', 'matches')} not yet in a digest; {plural(len(failed), 'failed digest')}")
    if failed:
        lines.append(
            "  failed digests keep their matches and go out when the relay next accepts a message, "
            "or now with `referatvagt digest --retry-failed`:"
        )
    lines += [
        f"    {outbox.recipient} {outbox.period}: {plural(outbox.items, 'item')}, "
        f"{plural(outbox.attempts, 'attempt')}, last try {when(outbox.last_attempt_at)}: {outbox.last_error}"
        for outbox in failed
    ]
    return lines
