"""Record a parsed document as item versions and change events, in one transaction.

Rules (see issue 2 and the README): an item gets a new version only when its content hash
differs from every stored version; minutes are never overridden by an agenda of the same
meeting, nor a document by an older-published one of the same kind for the same meeting, so
the order documents arrive in never matters; a full document (agenda or minutes, not a
tillægsdagsorden) that lacks an item withdraws it. An item a document lists twice is stored
once (with a warning when the two differ): one odd document never stops an ingest.

Meetings, documents, items, versions and events are read and written as plain rows (SQLAlchemy
Core), a few batched statements per document: building and flushing ORM objects for them cost
more than parsing the document did (issue 17). Here: the meeting and the document; what the
document changes in the meeting's items: :mod:`bot.store.recorder`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, insert, select, update
from sqlmodel import Session, SQLModel

from bot.attachments import Bilag
from bot.parse.minutes import KIND_RANK, ParsedMeeting, committee_key
from bot.store.coordination import DIALECTS, ignoring_insert
from bot.store.models import SourceState
from bot.store.recorder import RecordedDocument, Recorder, Tally


@dataclass(frozen=True)
class NewDocument:
    """A fetched document to record: its row, but for the meeting and the outcome recording gives it."""

    source_id: int
    key: str
    raw_sha256: str
    fetched_at: datetime
    published_at: datetime | None
    url: str | None
    kind: str | None


_DOCUMENTS: Table = SQLModel.metadata.tables["document"]
_MEETINGS: Table = SQLModel.metadata.tables["meeting"]
# The statements are built once: building one costs more than SQLite takes to run it.
_MEETING = (
    select(_MEETINGS)
    .where(
        _MEETINGS.c.source_id == bindparam("source_id"),
        _MEETINGS.c.committee_key == bindparam("committee_key"),
        _MEETINGS.c.meeting_date == bindparam("meeting_date"),
    )
    .with_for_update()
)
_UPDATE_MEETING = update(_MEETINGS).where(_MEETINGS.c.id == bindparam("b_id"))
_MEETING_KEY = ("source_id", "committee_key", "meeting_date")
_INSERT_MEETING = {  # returning the row, as _MEETING reads it; none when another worker's came first
    dialect: ignoring_insert(dialect, _MEETINGS, _MEETING_KEY).returning(*_MEETINGS.c) for dialect in DIALECTS
}
_INSERT_DOCUMENT = insert(_DOCUMENTS).returning(_DOCUMENTS.c.id)
_NEWER = (
    select(_DOCUMENTS.c.id)
    .where(
        _DOCUMENTS.c.source_id == bindparam("source"),  # the meeting's, implied: lets the (source_id, key) index serve
        _DOCUMENTS.c.meeting_id == bindparam("meeting"),
        _DOCUMENTS.c.kind == bindparam("kind"),
        _DOCUMENTS.c.key != bindparam("key"),
        _DOCUMENTS.c.outcome == "stored",
        _DOCUMENTS.c.published_at > bindparam("published"),
    )
    .limit(1)
)


def record_meeting(
    session: Session,
    source: SourceState,
    document: NewDocument,
    meeting: ParsedMeeting,
    now: datetime,
    backfill: bool,
    attachments: Mapping[str, Bilag] | None = None,
) -> Tally:
    """Store one parsed document, its meeting and items; returns what changed.

    Nothing is kept between calls: several documents may be recorded in one session, each
    reading what the ones before it wrote. ``attachments`` are the fetched attachments by
    :func:`bot.attachments.identity` when the source fetches them (else None): an attachment
    added, or one whose bytes changed, is then a change of its item too."""
    connection = session.connection()
    stored, created = _meeting(connection, source, meeting)
    tally = Tally()
    # the minutes, or a newer version, are stored: this document adds nothing (a meeting created
    # just now has no document yet)
    superseded = not created and (
        meeting.rank < KIND_RANK.get(stored.kind, 0) or _newer_stored(connection, stored.id, document)
    )
    row = {**vars(document), "meeting_id": stored.id, "outcome": "superseded" if superseded else "stored"}
    document_id: int = connection.execute(_INSERT_DOCUMENT, row).scalar_one()
    if superseded:
        return tally
    if not created:  # a new meeting was inserted with all the document says of it
        _update_meeting(connection, stored, meeting)
    recorded = RecordedDocument(document_id, document.key, document.url, document.kind)
    Recorder(connection, source.name, recorded, now, backfill, tally, attachments).record(stored, meeting, created)
    return tally


def _newer_stored(connection: Connection, meeting_id: int, document: NewDocument) -> bool:
    """Whether another document of the same kind, published later, is already stored for this
    meeting (a re-read older copy of an agenda must not undo the newer one)."""
    if document.published_at is None:
        return False
    params = {
        "source": document.source_id,
        "meeting": meeting_id,
        "kind": document.kind,
        "key": document.key,
        "published": document.published_at,
    }
    return connection.execute(_NEWER, params).first() is not None


def _meeting(connection: Connection, source: SourceState, meeting: ParsedMeeting) -> tuple[Row[Any], bool]:
    """The stored meeting's row, created with what the document says of it if new (and then
    whether it was), and locked until the document is recorded: two workers recording documents
    of one meeting take turns (no item is withdrawn twice)."""
    key = committee_key(meeting.committee)
    identity: dict[str, Any] = {"source_id": source.id, "committee_key": key, "meeting_date": meeting.date}
    stored = connection.execute(_MEETING, identity).first()
    if stored is not None:
        return stored, False
    blank: dict[str, Any] = {"kind": meeting.kind, "start_time": None, "place": None, "participants": [], "url": None}
    row = {**identity, "committee": meeting.committee, **_details(blank, meeting)}
    created = connection.execute(_INSERT_MEETING[connection.dialect.name], row).first()
    if created is None:  # another worker's insert came first; its row is locked once read
        return connection.execute(_MEETING, identity).one(), False
    return created, True


def _details(stored: Mapping[Any, Any], meeting: ParsedMeeting) -> dict[str, Any]:
    """What the document says of the meeting, where it says it: the kind only upwards (minutes
    over an agenda), the rest where the document gives it."""
    return {
        "kind": meeting.kind if meeting.rank >= KIND_RANK.get(stored["kind"], 0) else stored["kind"],
        "start_time": meeting.start.strftime("%H:%M") if meeting.start else stored["start_time"],
        "place": meeting.place or stored["place"],
        "participants": list(meeting.participants) or stored["participants"],
        "url": meeting.url or stored["url"],
    }


def _update_meeting(connection: Connection, stored: Row[Any], meeting: ParsedMeeting) -> None:
    """The stored meeting with what the document says of it (:func:`_details`), if that changes it."""
    details = _details(stored._mapping, meeting)
    if any(value != stored._mapping[name] for name, value in details.items()):
        connection.execute(_UPDATE_MEETING, {"b_id": stored.id, **details})
