"""Source health: a log of failed polls and recoveries, and the notes of the ``_health`` feed.

Every failed poll of a source is logged with its place in the streak of consecutive failures
and when the streak started; the first success after a streak is logged as ``recovered``.
The feed (``state/feeds/_health.xml``, written by :mod:`bot.publish.feeds`) says "failing" once a
streak reaches ``[bot] alert_after_failures`` and "recovered" when such a streak ends; each
note's GUID is built from the source and the streak's start, so it never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from sqlmodel import Session, col, select

from bot.store import Store
from bot.store.models import HealthEvent, SourceState

MAX_ERROR = 2000
NoteKind = Literal["failing", "recovered", "empty", "listed"]
# The log's kinds, and the note each gives; a failure streak is told only once it is long enough.
_NOTES: dict[str, NoteKind] = {"failure": "failing", "recovered": "recovered", "empty": "empty", "listed": "listed"}


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


def record_listing(session: Session, source: str, now: datetime, empty: bool) -> None:
    """Log a web source that lists no meetings (``empty``, one streak per run of empty polls) and
    the first poll that lists some again (``listed``): a silently broken adapter shows itself so."""
    query = (
        select(HealthEvent)
        .where(HealthEvent.source == source, col(HealthEvent.kind).in_(("empty", "listed")))
        .order_by(col(HealthEvent.id).desc())
        .limit(1)
    )
    last = session.exec(query).first()
    in_streak = last is not None and last.kind == "empty"
    if empty:
        start, polls = (last.streak_start, last.failures + 1) if last is not None and in_streak else (now, 1)
        session.add(HealthEvent(source=source, kind="empty", streak_start=start, failures=polls, created_at=now))
    elif last is not None and in_streak:
        session.add(
            HealthEvent(
                source=source, kind="listed", streak_start=last.streak_start, failures=last.failures, created_at=now
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
    kind: NoteKind
    title: str
    text: str
    at: datetime


def health_notes(store: Store, threshold: int, limit: int) -> list[HealthNote]:
    """The health feed's entries, newest first: streaks that reached ``threshold`` failures, and
    every streak of polls that listed no meetings."""
    with store.session() as session:
        kommuner = {state.name: state.kommune for state in session.exec(select(SourceState))}
        failing = col(HealthEvent.kind).in_(("failure", "recovered")) & (col(HealthEvent.failures) >= threshold)
        query = select(HealthEvent).where(failing | col(HealthEvent.kind).in_(("empty", "listed")))
        events = list(session.exec(query.order_by(col(HealthEvent.id))))
    notes: dict[tuple[str, str, str], HealthNote] = {}
    for event in events:
        kind = _NOTES[event.kind]
        start = event.streak_start.astimezone(timezone.utc).isoformat(timespec="microseconds")
        key = (event.source, start, kind)
        if key in notes:
            continue  # a streak is reported once, when it reaches the threshold
        kommune = kommuner.get(event.source, event.source)
        notes[key] = _note(event, kind, kommune, start)
    return sorted(notes.values(), key=lambda note: note.at, reverse=True)[:limit]


def _note(event: HealthEvent, kind: NoteKind, kommune: str, start: str) -> HealthNote:
    since = event.streak_start.strftime("%d.%m.%Y %H:%M UTC")
    if kind == "failing":
        title = f"Kilden {event.source} ({kommune}) fejler: {event.failures} forsøg i træk"
        text = f"Fejlet siden {since}. Seneste fejl: {event.error or 'ukendt'}"
    elif kind == "empty":
        title = f"Kilden {event.source} ({kommune}) viser 0 møder – har siden ændret sig?"
        text = (
            f"Siden {since} finder kilden ingen møder i sit tidsrum. Tjek adressen og filtrene (committees, "
            "since, committee_ids), og om kommunen har skiftet system: `referatvagt sources probe URL`."
        )
    elif kind == "listed":
        title = f"Kilden {event.source} ({kommune}) viser møder igen"
        text = f"Viste 0 møder fra {since} til {event.created_at.strftime('%d.%m.%Y %H:%M UTC')}."
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
