"""What item pages are made of, read from the store a chunk of items at a time.

:mod:`bot.pages` decides which items need a new page; this module reads, for a few hundred items
at once, everything a page shows: the current version with its meeting, source and document, the
item's change events with the version and document each came from, the watchlists that matched
it, the steps of its case (:mod:`bot.cases`), and what was read from its attachments. A fixed
number of queries per chunk, never one per item, and never every item at once (a national year
is ~160,000 items).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from bot.cases import CaseStep, neighbours_of_changed, stories, story_key
from bot.models import AttachmentContent, Document, Event, Item, ItemVersion, Match, Meeting, SourceState
from bot.store import Store

CHUNK = 500  # items per round of queries: bounded memory, few round trips


@dataclass(frozen=True)
class Step:
    """One change event of an item, with the version and document it came from."""

    event: Event
    version: int | None
    doc_kind: str | None
    published_at: datetime | None  # of its document, as stored (see bot.published)
    fetched_at: datetime


@dataclass
class PageData:
    item: Item
    version: ItemVersion
    meeting: Meeting
    source: SourceState
    document: Document
    history: list[Step] = field(default_factory=list)
    watchlists: set[str] = field(default_factory=set)
    case: list[CaseStep] = field(default_factory=list)  # every step of the item's case (bot.cases), its own too


@dataclass(frozen=True)
class ReadAttachment:
    """What reading one attachment file gave: its pages, or why it has no text."""

    pages: int | None
    has_text: bool
    error: str | None


@dataclass(frozen=True)
class Marks:
    """The newest event and match ids: everything after them is news to the pages."""

    event: int
    match: int


def marks(store: Store) -> Marks:
    with store.session() as session:
        event = session.execute(sa_select(func.max(col(Event.id)))).scalar()
        match = session.execute(sa_select(func.max(col(Match.id)))).scalar()
    return Marks(int(event or 0), int(match or 0))


def all_items(store: Store) -> dict[int, str]:
    """Every item's id and uid (the page's file name)."""
    with store.session() as session:
        return {int(row[0]): str(row[1]) for row in session.execute(sa_select(col(Item.id), col(Item.uid)))}


def items_touched(store: Store, since: Marks, watchlists: Iterable[str], sources: Iterable[str]) -> set[int]:
    """Items with an event or a match newer than ``since``, matched by one of ``watchlists``, or
    from one of ``sources`` (whose feed links changed)."""
    watched, named = sorted(set(watchlists)), sorted(set(sources))
    queries: list[Any] = [
        sa_select(col(Event.item_id)).where(col(Event.id) > since.event).distinct(),
        sa_select(col(Match.item_id)).where(col(Match.id) > since.match).distinct(),
        neighbours_of_changed(since.event),  # their pages list the changed item's step in the case
    ]
    if watched:
        queries.append(sa_select(col(Match.item_id)).where(col(Match.watchlist).in_(watched)).distinct())
    if named:
        queries.append(
            sa_select(col(Item.id))
            .join(Meeting, col(Meeting.id) == col(Item.meeting_id))
            .join(SourceState, col(SourceState.id) == col(Meeting.source_id))
            .where(col(SourceState.name).in_(named))
        )
    with store.session() as session:
        return {int(row[0]) for query in queries for row in session.execute(query)}


def pages_of(store: Store, item_ids: Sequence[int]) -> Iterator[tuple[list[PageData], dict[str, ReadAttachment]]]:
    """The pages' data, a chunk at a time, with what was read from the chunk's attachments."""
    ordered = sorted(item_ids)
    for start in range(0, len(ordered), CHUNK):
        with store.session() as session:
            yield _chunk(session, ordered[start : start + CHUNK])


def _chunk(session: Session, ids: list[int]) -> tuple[list[PageData], dict[str, ReadAttachment]]:
    current = and_(col(ItemVersion.item_id) == col(Item.id), col(ItemVersion.version) == col(Item.current_version))
    rows = session.execute(
        sa_select(Item, ItemVersion, Meeting, SourceState, Document)
        .join(ItemVersion, current)
        .join(Meeting, col(Meeting.id) == col(Item.meeting_id))
        .join(SourceState, col(SourceState.id) == col(Meeting.source_id))
        .join(Document, col(Document.id) == col(ItemVersion.document_id))
        .where(col(Item.id).in_(ids))
    )
    pages = {row[0].id: PageData(*row) for row in rows}
    steps = session.execute(
        sa_select(
            Event,
            col(ItemVersion.version),
            col(ItemVersion.doc_kind),
            col(Document.published_at),
            col(Document.fetched_at),
        )
        .outerjoin(ItemVersion, col(ItemVersion.id) == col(Event.version_id))
        .join(Document, col(Document.id) == col(Event.document_id))
        .where(col(Event.item_id).in_(ids))
        .order_by(col(Event.id))
    )
    for event, version, doc_kind, published, fetched in steps:
        if event.item_id in pages:
            pages[event.item_id].history.append(Step(event, version, doc_kind, published, fetched))
    matched = session.execute(
        sa_select(col(Match.item_id), col(Match.watchlist)).where(col(Match.item_id).in_(ids)).distinct()
    )
    for item_id, watchlist in matched:
        if item_id in pages:
            pages[item_id].watchlists.add(watchlist)
    told = stories(session, ((page.source.kommune, page.item.case_number) for page in pages.values()))
    for page in pages.values():
        key = story_key(page.source.kommune, page.item.case_number)
        page.case = told.get(key, []) if key else []
    return list(pages.values()), _attachments(session, [page.version for page in pages.values()])


def _attachments(session: Session, versions: Iterable[ItemVersion]) -> dict[str, ReadAttachment]:
    hashes = sorted(
        {entry["sha256"] for version in versions for entry in version.attachments if _hash_of(entry) is not None}
    )
    if not hashes:
        return {}
    query = sa_select(
        col(AttachmentContent.sha256),
        col(AttachmentContent.pages),
        col(AttachmentContent.text).is_not(None),
        col(AttachmentContent.error),
    ).where(col(AttachmentContent.sha256).in_(hashes))
    return {sha: ReadAttachment(pages, bool(has_text), error) for sha, pages, has_text, error in session.execute(query)}


def _hash_of(entry: Any) -> str | None:
    return entry["sha256"] if isinstance(entry, dict) and isinstance(entry.get("sha256"), str) else None
