"""Source health: a log of failed polls and recoveries, and the notes of the ``_health`` feed.

Every failed poll of a source is logged with its place in the streak of consecutive failures
and when the streak started; the first success after a streak is logged as ``recovered``.
The feed (``state/feeds/_health.xml``, written by :mod:`bot.feeds`) says "failing" once a
streak reaches ``[bot] alert_after_failures`` and "recovered" when such a streak ends; each
note's GUID is built from the source and the streak's start, so it never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from sqlmodel import Session, col, select

from bot.models import HealthEvent, SourceState
from bot.store import Store

MAX_ERROR = 2000


def record_outcome(session: Session, state: SourceState, now: datetime, error: str | None) -> None:
    """Log one poll's outcome; call it before ``state.failures`` is updated for this poll."""
    if error is None:
        if state.failures:
            start = _streak_start(session, state.name) or now
            session.add(
                HealthEvent(
                    source=state.name, kind="recovered", streak_start=start, failures=state.failures, created_at=now
                )
            )
        return
    start = (_streak_start(session, state.name) if state.failures else None) or now
    session.add(
        HealthEvent(
            source=state.name,
            kind="failure",
            streak_start=start,
            failures=state.failures + 1,
            error=error[:MAX_ERROR],
            created_at=now,
        )
    )


def _streak_start(session: Session, source: str) -> datetime | None:
    query = (
        select(HealthEvent.streak_start)
        .where(HealthEvent.source == source, HealthEvent.kind == "failure")
        .order_by(col(HealthEvent.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


@dataclass(frozen=True)
class HealthNote:
    """One entry of the health feed."""

    guid: str
    source: str
    kommune: str
    kind: Literal["failing", "recovered"]
    title: str
    text: str
    at: datetime


def health_notes(store: Store, threshold: int, limit: int) -> list[HealthNote]:
    """The health feed's entries, newest first: streaks that reached ``threshold`` failures."""
    with store.session() as session:
        kommuner = {state.name: state.kommune for state in session.exec(select(SourceState))}
        query = (
            select(HealthEvent)
            .where(HealthEvent.failures >= threshold, col(HealthEvent.kind).in_(("failure", "recovered")))
            .order_by(col(HealthEvent.id))
        )
        events = list(session.exec(query))
    notes: dict[tuple[str, str, str], HealthNote] = {}
    for event in events:
        kind: Literal["failing", "recovered"] = "failing" if event.kind == "failure" else "recovered"
        start = event.streak_start.astimezone(timezone.utc).isoformat(timespec="microseconds")
        key = (event.source, start, kind)
        if key in notes:
            continue  # a streak is reported once, when it reaches the threshold
        kommune = kommuner.get(event.source, event.source)
        notes[key] = _note(event, kind, kommune, start)
    return sorted(notes.values(), key=lambda note: note.at, reverse=True)[:limit]


def _note(event: HealthEvent, kind: Literal["failing", "recovered"], kommune: str, start: str) -> HealthNote:
    since = event.streak_start.strftime("%d.%m.%Y %H:%M UTC")
    if kind == "failing":
        title = f"Kilden {event.source} ({kommune}) fejler: {event.failures} forsøg i træk"
        text = f"Fejlet siden {since}. Seneste fejl: {event.error or 'ukendt'}"
    else:
        title = f"Kilden {event.source} ({kommune}) virker igen efter {event.failures} fejl i træk"
        text = f"Fejlede fra {since} til {event.created_at.strftime('%d.%m.%Y %H:%M UTC')}."
    return HealthNote(
        guid=f"urn:referatvagt:_health:{event.source}:{start}:{kind}",
        source=event.source,
        kommune=kommune,
        kind=kind,
        title=title,
        text=text,
        at=event.created_at,
    )
