"""The store's tables (SQLModel), written to run on SQLite and PostgreSQL alike.

A meeting is identified by source + committee + meeting date; its items keep every
published version. Change events point at the version that caused them. The schema is
created and upgraded only by the named migrations in :mod:`bot.store.migrations`.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, timezone-aware UTC datetimes out, on every dialect."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware datetimes")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _when(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


def _json() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class SchemaMigration(SQLModel, table=True):
    __tablename__ = "schema_migration"

    name: str = Field(primary_key=True, max_length=100)
    applied_at: datetime = _when()


class SourceState(SQLModel, table=True):
    __tablename__ = "source"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    kommune: str
    type: str = Field(max_length=40)
    first_ingest_at: datetime | None = _when(nullable=True)
    last_attempt_at: datetime | None = _when(nullable=True)
    last_success_at: datetime | None = _when(nullable=True)
    last_error: str | None = None
    failures: int = 0
    next_run_at: datetime | None = _when(nullable=True)  # when the next poll is due: the plan every worker reads
    # The worker polling it now and until when its claim holds unless renewed (see bot.run.workers)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = _when(nullable=True)


class Worker(SQLModel, table=True):
    """A `run` process: what `status` shows of it. ``last_seen_at`` is renewed at every tick."""

    __tablename__ = "worker"

    id: str = Field(primary_key=True, max_length=200)
    host: str = Field(max_length=200)
    pid: int
    started_at: datetime = _when()
    last_seen_at: datetime = _when()


class HealthEvent(SQLModel, table=True):
    """The health log: each failed poll of a source (``failure``, numbered within its streak of
    consecutive failures) and the first success after a streak (``recovered``)."""

    __tablename__ = "health_event"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=20)
    streak_start: datetime = _when()  # when the streak's first failure happened: part of feed GUIDs
    failures: int  # consecutive failures so far (for ``recovered``: how many there were)
    error: str | None = None
    created_at: datetime = _when()


class HttpCache(SQLModel, table=True):
    """Validators of the last successful response per URL, for conditional GET."""

    __tablename__ = "http_cache"

    url: str = Field(primary_key=True, max_length=2000)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    sha256: str = Field(max_length=64)  # of the body: many servers send no validators at all
    checked_at: datetime = _when()


class PortalMeeting(SQLModel, table=True):
    """A portal meeting as last fetched: its agenda is fetched again only when ``released``
    (FirstAgenda's ``ReleasedDate``) changes."""

    __tablename__ = "portal_meeting"

    source: str = Field(primary_key=True, max_length=100)
    meeting_id: str = Field(primary_key=True, max_length=100)
    released: str = Field(max_length=100)
    sha256: str = Field(max_length=64)  # of the agenda bytes yielded, to check they were stored
    fetched_at: datetime = _when()


class Document(SQLModel, table=True):
    """One fetched version of one source document, kept for provenance."""

    __tablename__ = "document"
    __table_args__ = (Index("ix_document_source_key", "source_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id")
    key: str = Field(max_length=1000)
    raw_sha256: str = Field(max_length=64)
    fetched_at: datetime = _when()
    # When the source says it was published (else when fetched): the newest of a meeting's
    # documents of one kind wins, whatever order they are read in.
    published_at: datetime | None = _when(nullable=True)
    url: str | None = None
    kind: str | None = Field(default=None, max_length=40)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)  # bot.store.versions
    outcome: str = Field(max_length=40)
    error: str | None = None


class Meeting(SQLModel, table=True):
    __tablename__ = "meeting"
    __table_args__ = (UniqueConstraint("source_id", "committee_key", "meeting_date"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    committee: str
    committee_key: str
    meeting_date: date
    start_time: str | None = Field(default=None, max_length=5)
    place: str | None = None
    participants: list[str] = _json()
    kind: str = Field(max_length=40)
    url: str | None = None


class Item(SQLModel, table=True):
    __tablename__ = "item"

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=40, unique=True)  # stable across store rebuilds: feed GUIDs use it
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    portal_id: str | None = Field(default=None, max_length=100)
    number: int | None = None
    title: str
    case_number: str | None = Field(default=None, max_length=100, index=True)  # a case's steps: bot.cases
    current_version: int = 1
    removed: bool = False


class ItemVersion(SQLModel, table=True):
    __tablename__ = "item_version"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    # Not indexed on their own (migration 0009): the unique (item_id, version) index finds an
    # item's versions, and a content hash is only ever compared with the one just read.
    item_id: int = Field(foreign_key="item.id")
    version: int
    document_id: int = Field(foreign_key="document.id")
    doc_kind: str = Field(max_length=40)
    content_hash: str = Field(max_length=64)
    number: int | None = None
    title: str
    case_number: str | None = Field(default=None, max_length=100)
    closed: bool = False
    sections: list[list[str]] = _json()
    decisions: list[dict[str, Any]] = _json()
    decision: str | None = None
    attachments: list[Any] = _json()  # {"name", "url"} objects; older rows hold the name alone
    url: str | None = None
    created_at: datetime = _when()


class Event(SQLModel, table=True):
    """A change event: ``new``, ``changed`` or ``removed``."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_unmatched", "matched"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    version_id: int | None = Field(default=None, foreign_key="item_version.id")
    document_id: int = Field(foreign_key="document.id")
    kind: str = Field(max_length=20)
    changed_sections: list[str] = _json()
    decision_added: bool = False
    diff: list[dict[str, Any]] = _json()
    # Attachments added or changed by this change: {"name", "url", "change": "added" | "changed"};
    # each also stands in changed_sections as "Bilag: <name>". NULL in events older than 0004.
    attachment_changes: list[dict[str, Any]] = _json()
    backfill: bool = False
    matched: bool = False  # set, with the matches, once the watchlists have seen this event
    created_at: datetime = _when()

    @property
    def attachment_added(self) -> bool:
        return any(change.get("change") == "added" for change in self.attachment_changes or ())

    @property
    def attachment_changed(self) -> bool:
        return any(change.get("change") == "changed" for change in self.attachment_changes or ())


class AttachmentContent(SQLModel, table=True):
    """What was read from one attachment file (bilag), by the SHA-256 of its bytes: the same PDF
    attached to many items is read and kept once. The bytes are in the raw archive."""

    __tablename__ = "attachment_content"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    pages: int | None = None
    text: str | None = None  # None: no text could be read (``error`` says why)
    error: str | None = None
    created_at: datetime = _when()


class AttachmentFetch(SQLModel, table=True):
    """The last download of one attachment of a source, by the site's id of it (else its url):
    an attachment is fetched again only when its meeting is re-published (``stamp`` changes)."""

    __tablename__ = "attachment_fetch"

    source: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=2000)
    stamp: str = Field(max_length=200)  # the document's publication time, else the hash of its bytes
    sha256: str | None = Field(default=None, max_length=64)  # None: the download failed (``error``)
    error: str | None = None  # why it was not downloaded or has no text
    fetched_at: datetime = _when()


class WatchlistState(SQLModel, table=True):
    """What the store knows of a watchlist file: a new or edited one is run on recent items."""

    __tablename__ = "watchlist"

    slug: str = Field(primary_key=True, max_length=200)
    digest: str = Field(max_length=64)
    token: str = Field(max_length=64)  # the unguessable path part of a private watchlist's feed
    text: str = ""  # the last valid version of the file: it stays in force while an edit is broken
    first_seen_at: datetime = _when()
    evaluated_at: datetime = _when()


class Match(SQLModel, table=True):
    """An item version that a watchlist matched, at most once per (watchlist, version)."""

    __tablename__ = "match"
    __table_args__ = (UniqueConstraint("watchlist", "version_id"),)

    id: int | None = Field(default=None, primary_key=True)
    watchlist: str = Field(max_length=200, index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    version_id: int = Field(foreign_key="item_version.id")
    event_id: int | None = Field(default=None, foreign_key="event.id")
    kind: str = Field(max_length=20)  # the event's kind: new or changed
    terms: list[str] = _json()
    snippet: str
    highlights: list[list[int]] = _json()
    by_case: bool = False
    decision_added: bool = False
    changed_sections: list[str] = _json()
    attachment: str | None = None  # the name of the attachment (bilag) the snippet is from; None: the item's text
    attachment_url: str | None = None
    backfill: bool = False  # found by running a new watchlist on stored items, or in a source's first ingest
    mail: bool = True  # may go out by email: not a backfill (unless sent with --send-backfill)
    created_at: datetime = _when()


class Outbox(SQLModel, table=True):
    """One email digest, stored with its rendered message before it is sent.

    A retry resends exactly this message (same Message-ID); ``state`` goes pending → sending
    (claimed by one worker, with a lease) → sent, or back to pending with a later
    ``next_attempt_at`` when the server fails, or to ``failed`` when its attempts are used up,
    from where it is retried (see :mod:`bot.publish.mailer`).
    """

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("recipient", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(max_length=320)
    period: str = Field(max_length=80)
    subject: str
    message: str  # the whole RFC 5322 message
    message_id: str = Field(max_length=200)
    items: int = 0
    state: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = _when()
    last_attempt_at: datetime | None = _when(nullable=True)  # keeps even `digest --now` to one try a minute
    last_error: str | None = None
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)
    # The worker sending it and until when: only it may mark it sent; after that, any worker resends it
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = _when(nullable=True)


class DigestItem(SQLModel, table=True):
    """Which match went into which digest: each match reaches each recipient once."""

    __tablename__ = "digest_item"
    __table_args__ = (UniqueConstraint("match_id", "recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    match_id: int = Field(foreign_key="match.id")
    recipient: str = Field(max_length=320)


class Notification(SQLModel, table=True):
    """One chat or webhook notification: the matches of one watchlist for one target and period,
    stored rendered before anything is sent (see :mod:`bot.publish.notify`).

    ``target`` is what may be shown: an Apprise URL with its secrets masked, ``env:NAME`` (the
    URL with its secret is read from that variable only when sending) or ``tag:NAME <masked
    URL>`` (an entry of the Apprise config file). ``state`` goes pending → sending (claimed, with
    a lease) → sent, as the email outbox does; ``skipped`` keeps the matches of a paused
    watchlist from going out later, and ``start`` marks when a target was first seen (older
    matches are not sent to it).
    """

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("watchlist", "target", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    watchlist: str = Field(max_length=200)
    target: str = Field(max_length=500)
    period: str = Field(max_length=80)
    title: str = ""
    message: str = ""  # the chat text
    payloads: list[str] = _json()  # the webhook body of each match, exactly as signed and sent
    match_ids: list[int] = _json()
    delivered: int = 0  # webhook bodies accepted so far: a retry goes on with the next one
    state: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = _when()
    last_attempt_at: datetime | None = _when(nullable=True)
    last_error: str | None = None
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = _when(nullable=True)
