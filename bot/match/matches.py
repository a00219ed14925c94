"""Run the watchlists over stored items and record the matches, exactly once each.

Two ways in: every change event is matched once by the watchlists that exist when it is
processed (its ``matched`` flag is set in the same transaction as its matches), and a new or
edited watchlist is run over the items stored in its last ``backfill_days`` days.

Several workers share the work: each takes a batch of unmatched events no other worker holds
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), one worker at a time runs the watchlists' look back,
and a match another worker recorded a moment earlier is left out (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.attachments import load_texts
from bot.cases import case_alert
from bot.errors import ConfigError
from bot.match.matcher import AttachmentText, ItemText, Matcher, WatchlistMatch
from bot.match.watchlists import Watchlist, load_watchlist, watchlist_from_text
from bot.outcomes import classify
from bot.store import Store
from bot.store.coordination import exclusive, insert_ignoring, retrying
from bot.store.models import Event, Item, ItemVersion, Match, Meeting, SourceState, WatchlistState

BATCH = 500


def item_text(
    version: ItemVersion,
    meeting: Meeting,
    source: SourceState,
    event: Event | None = None,
    texts: dict[str, str] | None = None,
) -> ItemText:
    """``texts``: attachment texts by hash (:func:`bot.attachments.load_texts`), when a
    watchlist searches attachments."""
    added = added_text(event.diff) if event is not None and event.kind == "changed" else None
    return ItemText(
        kommune=source.kommune,
        committee=meeting.committee,
        case_number=version.case_number,
        title=version.title,
        sections=tuple((heading, text) for heading, text in version.sections),
        added=added,
        attachments=attachment_texts(version, event, texts) if texts else (),
        outcome=outcome.label if (outcome := classify(version.decision)) is not None else None,
    )


def attachment_texts(version: ItemVersion, event: Event | None, texts: dict[str, str]) -> tuple[AttachmentText, ...]:
    """The version's attachments that have text; those the event added or changed are new."""
    changed = {(news.get("name"), news.get("url")) for news in (event.attachment_changes or [])} if event else set()
    found = []
    for entry in version.attachments:
        text = texts.get(entry.get("sha256") or "") if isinstance(entry, dict) else None
        if text:
            where = (entry["name"], entry.get("url"))
            found.append(AttachmentText(where[0], where[1], text, new=where in changed))
    return tuple(found)


def added_text(diff: Sequence[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """The text a change added, per section (from the word diff's ``+`` runs)."""
    added = []
    for entry in diff:
        runs = [text for op, text in entry["ops"] if op == "+"]
        if runs:
            added.append((str(entry["section"]), "\n\n".join(runs)))
    return tuple(added)


def match_changes(
    store: Store,
    watchlists: Sequence[Watchlist],
    now: datetime,
    send_backfill: bool = False,
    paused: Collection[str] = (),
) -> int:
    """:func:`match_pending_events` with the watchlists in force. With none, no reader: one UPDATE
    marks every change seen, instead of reading each (a watchlist added later looks back itself)."""
    if not watchlists:
        with store.session() as session:
            session.execute(update(Event).where(col(Event.matched).is_(False)).values(matched=True))
        return 0
    matcher = Matcher(watchlists)
    return retrying(lambda: match_pending_events(store, matcher, now, send_backfill, paused), "matching")


def match_pending_events(
    store: Store, matcher: Matcher, now: datetime, send_backfill: bool = False, paused: Collection[str] = ()
) -> int:
    """Match every event the watchlists have not seen yet; returns the number of new matches.

    Matches of a source's first ingest are backfill: in feeds, but not emailed unless
    ``send_backfill`` (a new source would otherwise flood every inbox). Matches of ``paused``
    watchlists are recorded (feeds) but never delivered, not even once the pause is over.
    """
    created = 0
    while True:
        with store.session() as session:
            rows = session.execute(
                sa_select(Event, ItemVersion, Meeting, SourceState)
                .join(ItemVersion, col(ItemVersion.id) == col(Event.version_id))
                .join(Item, col(Item.id) == col(Event.item_id))
                .join(Meeting, col(Meeting.id) == col(Item.meeting_id))
                .join(SourceState, col(SourceState.id) == col(Meeting.source_id))
                .where(col(Event.matched).is_(False))
                .order_by(col(Event.id))
                .limit(BATCH)
                .with_for_update(of=Event, skip_locked=True)
            ).all()
            if not rows:
                return created
            for event, version, meeting, source in rows:
                if event.kind != "removed":
                    texts = load_texts(session, [version.attachments]) if matcher.wants_attachments else None
                    found = matcher.match(item_text(version, meeting, source, event, texts))
                    mail = send_backfill or not event.backfill
                    created += _record(session, found, version, event, event.backfill, mail, now, paused)
                event.matched = True
                session.add(event)


def has_unmatched_events(store: Store) -> bool:
    with store.session() as session:
        return session.exec(select(Event.id).where(col(Event.matched).is_(False)).limit(1)).first() is not None


def sync_watchlists(store: Store, watchlists: Sequence[Watchlist], now: datetime) -> int:
    """Run the new and edited watchlists over recent items (feed only); returns new matches."""
    digests = {watchlist.slug: watchlist.digest() for watchlist in watchlists}
    if not _changed(store, watchlists, digests):
        return 0
    with exclusive(store.engine, "watchlists"):  # looked at again once it is this worker's turn
        changed = _changed(store, watchlists, digests)
        return _sync(store, changed, digests, now) if changed else 0


def _changed(store: Store, watchlists: Sequence[Watchlist], digests: dict[str, str]) -> list[Watchlist]:
    with store.session() as session:
        known = {state.slug: state.digest for state in session.exec(select(WatchlistState))}
    return [w for w in watchlists if known.get(w.slug) != digests[w.slug]]


def _sync(store: Store, changed: Sequence[Watchlist], digests: dict[str, str], now: datetime) -> int:
    # The states are written after the look back: if it is cut short, the next run does it again
    # (the matches it already made are not made twice).
    created = _backfill(store, changed, now)
    with store.session() as session:
        states = {state.slug: state for state in session.exec(select(WatchlistState))}
        for watchlist in changed:
            digest = digests[watchlist.slug]
            state = states.get(watchlist.slug) or WatchlistState(
                slug=watchlist.slug, digest=digest, token=secrets.token_urlsafe(18), first_seen_at=now, evaluated_at=now
            )
            state.digest, state.evaluated_at, state.text = digest, now, watchlist.text
            session.add(state)
    return created


def effective_watchlists(store: Store, folder: Path) -> tuple[list[Watchlist], list[str]]:
    """The watchlists in force: each valid file, and for a file whose edit does not validate,
    the last valid version the store kept (the error is still reported)."""
    watchlists: list[Watchlist] = []
    errors: list[str] = []
    paths = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    for path in paths:
        try:
            watchlists.append(load_watchlist(path))
        except ConfigError as exc:
            state = store.watchlist_state(path.stem)
            if state is None or not state.text:
                errors.append(str(exc))
                continue
            watchlists.append(watchlist_from_text(state.text, path))
            errors.append(f"{exc}\n(the last valid version of {path.name} stays in force)")
    return watchlists, errors


def _backfill(store: Store, watchlists: Sequence[Watchlist], now: datetime) -> int:
    """One pass over the items of the longest look back, each watchlist keeping those in its own
    (a pass per watchlist would read and search every item again for each); a transaction per
    batch of items, so memory and the write-ahead log stay small however many items match."""
    matcher = Matcher(watchlists)
    since = {watchlist.slug: now - timedelta(days=watchlist.backfill_days) for watchlist in watchlists}
    query = (
        sa_select(ItemVersion, Meeting, SourceState)
        .join(
            Item, (col(Item.id) == col(ItemVersion.item_id)) & (col(Item.current_version) == col(ItemVersion.version))
        )
        .join(Meeting, col(Meeting.id) == col(Item.meeting_id))
        .join(SourceState, col(SourceState.id) == col(Meeting.source_id))
        .where(col(ItemVersion.created_at) >= min(since.values()), col(Item.removed).is_(False))
        .order_by(col(ItemVersion.id))
        .limit(BATCH)
    )
    created, after = 0, 0
    while True:
        with store.session() as session:
            rows = session.execute(query.where(col(ItemVersion.id) > after)).all()
            if not rows:
                return created
            for version, meeting, source in rows:
                # One version's attachment texts at a time: a batch's could take hundreds of megabytes
                texts = load_texts(session, [version.attachments]) if matcher.wants_attachments else None
                found = [
                    result
                    for result in matcher.match(item_text(version, meeting, source, None, texts))
                    if version.created_at >= since[result.slug]
                ]
                if found:
                    # By item too: event.version_id has no index, event.item_id has (a scan of
                    # every event per item made a national look back quadratic).
                    event = session.exec(
                        select(Event)
                        .where(
                            Event.item_id == version.item_id, Event.version_id == version.id, Event.kind != "removed"
                        )
                        .order_by(col(Event.id).desc())
                    ).first()
                    created += _record(session, found, version, event, True, False, now)
            after = rows[-1][0].id


def _record(
    session: Session,
    found: Sequence[WatchlistMatch],
    version: ItemVersion,
    event: Event | None,
    backfill: bool,
    mail: bool,
    now: datetime,
    paused: Collection[str] = (),
) -> int:
    if not found:
        return 0
    assert version.id is not None
    # By item too: the unique (watchlist, version) index cannot serve a lookup by version alone.
    recorded = set(
        session.exec(select(Match.watchlist).where(Match.item_id == version.item_id, Match.version_id == version.id))
    )
    # A case watchlist's alert says where the case is now and its outcome so far, stored as the
    # snippet so every channel (feeds, mail, notifications, `matches`) tells the same at once
    alert = case_alert(session, version) if any(result.by_case for result in found) else None
    rows = []
    for result in found:
        if result.slug in recorded:
            continue
        recorded.add(result.slug)
        rows.append(
            {
                "watchlist": result.slug,
                "item_id": version.item_id,
                "version_id": version.id,
                "event_id": event.id if event else None,
                "kind": event.kind if event else ("new" if version.version == 1 else "changed"),
                "terms": list(result.terms),
                "snippet": (alert or result.snippet.text) if result.by_case else result.snippet.text,
                "highlights": [list(span) for span in result.snippet.highlights],
                "by_case": result.by_case,
                "decision_added": bool(event and event.decision_added),
                "changed_sections": list(event.changed_sections) if event else [],
                "attachment": result.attachment[0] if result.attachment else None,
                "attachment_url": result.attachment[1] if result.attachment else None,
                "backfill": backfill,
                "mail": mail and result.slug not in paused,
                "created_at": now,
            }
        )
    # One INSERT for the event's matches, without building ORM objects (with 1,000 watchlists
    # their constructors were a fifth of matching).
    return insert_ignoring(session, Match, rows, ["watchlist", "version_id"])
