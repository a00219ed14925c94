"""What item pages are made of, read from the store a chunk of items at a time.

:mod:`bot.publish.pages` decides which items need a new page; this module reads, for a few hundred items
at once, everything a page shows: the current version with its meeting, source and document, the
item's change events with the version and document each came from, the watchlists that matched
it, the steps of its case (:mod:`bot.cases`), and what was read from its attachments. A fixed
number of queries per chunk, never one per item, and never every item at once (a national year
is ~160,000 items).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from bot.cases import CaseStep, neighbours_of_changed, stories, story_key
from bot.store import Store
from bot.store.models import AttachmentContent, Document, Event, Item, ItemVersion, Match, Meeting, SourceState

CHUNK = 500  # items per round of queries: bounded memory, few round trips


# What a page shows of each stored row, read as plain columns: building ORM objects for a
# national year's pages cost more than the queries themselves. Field names are the models'.
@dataclass(frozen=True)
class PageItem:
    id: int
    uid: str
    number: int | None
    title: str
    case_number: str | None
    removed: bool


@dataclass(frozen=True)
class PageVersion:
    version: int
    doc_kind: str
    title: str
    case_number: str | None
    closed: bool
    sections: list[list[str]]
    decisions: list[dict[str, Any]]
    decision: str | None
    attachments: list[Any]
    url: str | None


@dataclass(frozen=True)
class PageMeeting:
    committee: str
    meeting_date: date
    start_time: str | None
    place: str | None
    url: str | None


@dataclass(frozen=True)
class PageSource:
    kommune: str
    name: str


@dataclass(frozen=True)
class PageDocument:
    key: str
    raw_sha256: str
    published_at: datetime | None  # as stored (see bot.publish.published)
    fetched_at: datetime


@dataclass(frozen=True)
class Step:
    """One change event of an item, with the version and document it came from."""

    kind: str
    changed_sections: list[str]
    decision_added: bool
    diff: list[dict[str, Any]]
    attachment_changes: list[dict[str, Any]]
    version: int | None
    doc_kind: str | None
    published_at: datetime | None  # of its document, as stored (see bot.publish.published)
    fetched_at: datetime


@dataclass
class PageData:
    item: PageItem
    version: PageVersion
    meeting: PageMeeting
    source: PageSource
    document: PageDocument
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


def item_id_of(store: Store, uid: str) -> int | None:
    with store.session() as session:
        found = session.execute(sa_select(col(Item.id)).where(col(Item.uid) == uid)).scalar()
    return None if found is None else int(found)


def marked(store: Store) -> set[int]:
    """Every matched item: digests and notifications link its page."""
    with store.session() as session:
        return {int(row[0]) for row in session.execute(sa_select(col(Match.item_id)).distinct())}


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


# Each part of a page is the columns of one table, named by the part's fields, in one row.
_PARTS = (
    (PageItem, Item),
    (PageVersion, ItemVersion),
    (PageMeeting, Meeting),
    (PageSource, SourceState),
    (PageDocument, Document),
)
_COLUMNS = [col(getattr(model, part.name)) for view, model in _PARTS for part in fields(view)]
_SPANS = list(itertools.pairwise(itertools.accumulate((len(fields(view)) for view, _ in _PARTS), initial=0)))
_STEP_COLUMNS = (
    *(
        col(getattr(Event, name))
        for name in ("kind", "changed_sections", "decision_added", "diff", "attachment_changes")
    ),
    col(ItemVersion.version),
    col(ItemVersion.doc_kind),
    col(Document.published_at),
    col(Document.fetched_at),
)


def _chunk(session: Session, ids: list[int]) -> tuple[list[PageData], dict[str, ReadAttachment]]:
    current = and_(col(ItemVersion.item_id) == col(Item.id), col(ItemVersion.version) == col(Item.current_version))
    rows = session.execute(
        sa_select(*_COLUMNS)
        .join(ItemVersion, current)
        .join(Meeting, col(Meeting.id) == col(Item.meeting_id))
        .join(SourceState, col(SourceState.id) == col(Meeting.source_id))
        .join(Document, col(Document.id) == col(ItemVersion.document_id))
        .where(col(Item.id).in_(ids))
    )
    pages = {page.item.id: page for page in map(_page, rows)}
    steps = session.execute(
        sa_select(col(Event.item_id), *_STEP_COLUMNS)
        .outerjoin(ItemVersion, col(ItemVersion.id) == col(Event.version_id))
        .join(Document, col(Document.id) == col(Event.document_id))
        .where(col(Event.item_id).in_(ids))
        .order_by(col(Event.id))
    )
    for item_id, *step in steps:
        if item_id in pages:
            pages[item_id].history.append(Step(*step))
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


def _page(row: Sequence[Any]) -> PageData:
    item, version, meeting, source, document = (row[start:end] for start, end in _SPANS)
    return PageData(
        PageItem(*item), PageVersion(*version), PageMeeting(*meeting), PageSource(*source), PageDocument(*document)
    )


def _attachments(session: Session, versions: Iterable[PageVersion]) -> dict[str, ReadAttachment]:
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
