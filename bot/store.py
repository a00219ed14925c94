"""The store: sessions, named schema migrations, the raw archive, and the reads other stages need.

The engine (SQLite settings, read-only opening, masked URLs) comes from :mod:`bot.engine`.

Migrations are named steps recorded in ``schema_migration``. A new database is created from
the models and stamped with every known step (Alembic's "create_all, then stamp head"); an
existing database runs the steps it has not recorded, each in its own transaction, so an
upgrade never needs a rebuilt database.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, inspect
from sqlalchemy import select as sa_select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, SQLModel, col, select

from bot.engine import cannot_open, describe, make_engine
from bot.errors import StoreError, os_reason
from bot.models import (
    AttachmentContent,
    AttachmentFetch,
    Document,
    Event,
    Item,
    ItemVersion,
    Match,
    Meeting,
    Outbox,
    SchemaMigration,
    SourceState,
    WatchlistState,
)

Migration = Callable[[Connection], None]


def _initial(connection: Connection) -> None:
    """0001: the first release's schema (created from the models on a new database)."""


def _add_column(model: Any, name: str) -> Migration:
    """A step that adds one nullable column of ``model`` as the model declares it."""

    def step(connection: Connection) -> None:
        column = model.__table__.c[name]
        kind = column.type.compile(dialect=connection.dialect)
        table = connection.dialect.identifier_preparer.quote(model.__tablename__)  # "match" is a keyword somewhere
        connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    return step


def _attachments(connection: Connection) -> None:
    """0004: attachment texts by hash, the last download of each attachment, and where an event's
    attachments changed and a match's snippet comes from."""
    tables = [AttachmentContent.__table__, AttachmentFetch.__table__]  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(connection, tables=tables)
    for model, name in ((Event, "attachment_changes"), (Match, "attachment"), (Match, "attachment_url")):
        _add_column(model, name)(connection)


MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("0001_initial", _initial),
    # when each document was published, so documents of one meeting may arrive in any order
    ("0002_document_published_at", _add_column(Document, "published_at")),
    # when each digest was last tried, so no digest is tried twice within a minute
    ("0003_outbox_last_attempt_at", _add_column(Outbox, "last_attempt_at")),
    # attachments (bilag): their texts, their downloads, and the events and matches about them
    ("0004_attachments", _attachments),
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def migrate(engine: Engine) -> list[str]:
    """Bring the schema up to date; returns the names of the steps applied."""
    try:
        if _pending(engine) == []:
            return []  # the common case, settled without a write lock
        with engine.connect().execution_options(immediate=True) as connection, connection.begin():
            fresh = not inspect(connection).has_table("schema_migration")
            if fresh:
                SQLModel.metadata.create_all(connection)
                _stamp(connection, [name for name, _ in MIGRATIONS])
                return [name for name, _ in MIGRATIONS]
        applied = []
        for name, step in MIGRATIONS:
            with engine.connect().execution_options(immediate=True) as connection, connection.begin():
                done = connection.execute(select(SchemaMigration.name).where(SchemaMigration.name == name))
                if done.first() is None:
                    step(connection)
                    _stamp(connection, [name])
                    applied.append(name)
        return applied
    except SQLAlchemyError as exc:
        raise StoreError(cannot_open(engine, exc, "open or upgrade")) from exc


def check_schema(engine: Engine) -> None:
    """For read-only commands, which cannot migrate: the store must exist at the newest schema."""
    try:
        pending = _pending(engine)
    except SQLAlchemyError as exc:
        raise StoreError(cannot_open(engine, exc, "read")) from exc
    if pending is None:
        raise StoreError(f"no store yet at {describe(engine)}: run `referatvagt ingest` first")
    if pending:
        raise StoreError(
            f"the store at {describe(engine)} is from an older version: run `referatvagt ingest` once to upgrade it"
        )


def _pending(engine: Engine) -> list[str] | None:
    """The migration steps not applied yet; None when there is no schema at all."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("schema_migration"):
            return None
        done = {row[0] for row in connection.execute(select(SchemaMigration.name))}
    return [name for name, _ in MIGRATIONS if name not in done]


def _stamp(connection: Connection, names: list[str]) -> None:
    now = utcnow()
    for name in names:
        connection.execute(SchemaMigration.__table__.insert().values(name=name, applied_at=now))  # type: ignore[attr-defined]


class Store:
    """The database plus the raw-document archive, both under the state folder."""

    def __init__(self, url: str, archive_dir: Path, read_only: bool = False) -> None:
        """``read_only`` is for commands that only read (items, status, backup, …): nothing is
        created, migrated or written, so they also work for a user who may only read the store."""
        self.engine = make_engine(url, read_only)
        try:
            if read_only:
                check_schema(self.engine)
            else:
                migrate(self.engine)
        except StoreError:
            self.engine.dispose()
            raise
        self.archive_dir = archive_dir

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any error.

        An OperationalError (disk full, no permission, locked too long) is the environment's,
        not a bug: it becomes a StoreError, one line for the user."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                raise StoreError(cannot_open(self.engine, exc, "use")) from exc
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()

    def backup(self, target: Path) -> None:
        """A consistent copy of a SQLite store, taken while others keep writing (online backup)."""
        if self.engine.dialect.name != "sqlite":
            raise StoreError("backup copies SQLite stores; for PostgreSQL use pg_dump")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # The store's own connection: opened read-only when the store is, like everything else
            with self.engine.connect() as connection, closing(sqlite3.connect(target)) as destination:
                source = connection.connection.driver_connection
                assert source is not None  # an open connection has its driver's
                # The copy's rollback journal in memory: a failed copy leaves no TARGET-journal behind
                destination.execute("PRAGMA journal_mode=MEMORY")
                with destination:
                    source.backup(destination)
        except (OSError, sqlite3.Error) as exc:
            reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
            raise StoreError(
                f"cannot write the backup to {target} ({reason}): "
                "choose a file in a folder you may write to, on a disk with free space"
            ) from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- raw archive ------------------------------------------------------------------------

    def archive(self, raw: bytes) -> str:
        """Keep the exact published bytes under their SHA-256; returns the hash."""
        digest = hashlib.sha256(raw).hexdigest()
        target = self.archive_path(digest)
        if not target.exists():
            try:
                write_atomically(target, raw, durable=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot write to the raw archive {self.archive_dir} ({os_reason(exc)}): check its owner, "
                    "permissions and free space, or set [bot] state_dir"
                ) from exc
        return digest

    def archive_path(self, digest: str) -> Path:
        return self.archive_dir / digest[:2] / digest

    # --- reads ------------------------------------------------------------------------------

    def latest_items(self) -> list[tuple[Item, ItemVersion, Meeting, SourceState, Document]]:
        """The current version of every item, by source, meeting date, committee and number."""
        current = and_(col(ItemVersion.item_id) == col(Item.id), col(ItemVersion.version) == col(Item.current_version))
        query = _where_published(
            sa_select(Item, ItemVersion, Meeting, SourceState, Document).join(ItemVersion, current)
        )
        order = (
            col(SourceState.name),
            col(Meeting.meeting_date),
            col(Meeting.committee),
            col(Item.number),
            col(Item.id),
        )
        return self._rows(query.order_by(*order))

    def events(self) -> list[tuple[Event, Item, ItemVersion, Meeting, SourceState, Document]]:
        """Every change event, oldest first, with the item version it points at."""
        return self._rows(self._event_query().order_by(col(Event.id)))

    def matches(
        self, watchlist: str | None = None
    ) -> list[tuple[Match, Item, ItemVersion, Meeting, SourceState, Document]]:
        """Stored watchlist matches, oldest first, optionally of one watchlist."""
        query = self.match_query().order_by(col(Match.id))
        if watchlist is not None:
            query = query.where(col(Match.watchlist) == watchlist)
        return self._rows(query)

    def match_query(self) -> Any:
        """Matches with the item version, meeting, source and document each one is about."""
        query = sa_select(Match, Item, ItemVersion, Meeting, SourceState, Document)
        return _where_published(_version_of(query, Match.item_id, Match.version_id))

    def feed_rows(
        self, watchlist: str, limit: int
    ) -> list[tuple[Match, Item, ItemVersion, Meeting, SourceState, Document]]:
        """The newest matches of one watchlist, newest first: the entries of its feed."""
        query = self.match_query().where(col(Match.watchlist) == watchlist)
        return self._rows(query.order_by(col(Match.id).desc()).limit(limit))

    def source_feed_rows(
        self, source: str, limit: int
    ) -> list[tuple[Event, Item, ItemVersion, Meeting, SourceState, Document]]:
        """The newest new-or-changed events of one source, newest first."""
        query = self._event_query().where(col(SourceState.name) == source, col(Event.kind) != "removed")
        return self._rows(query.order_by(col(Event.id).desc()).limit(limit))

    def _event_query(self) -> Any:
        query = sa_select(Event, Item, ItemVersion, Meeting, SourceState, Document)
        return _where_published(_version_of(query, Event.item_id, Event.version_id))

    def _rows(self, query: Any) -> list[Any]:
        with self.session() as session:
            return [tuple(row) for row in session.execute(query)]

    def events_by_id(self, ids: Iterable[int]) -> dict[int, Event]:
        """The events with these ids (a feed's entries need theirs together)."""
        with self.session() as session:
            return events_by_id(session, ids)

    def watchlist_state(self, slug: str) -> WatchlistState | None:
        with self.session() as session:
            return session.get(WatchlistState, slug)


def write_atomically(target: Path, data: bytes, durable: bool = False, mode: int | None = None) -> None:
    """Write to a temporary file beside ``target``, then rename it: a reader, a crash or a full
    disk never sees a half file. ``durable`` syncs it to disk first (the raw archive, which the
    database points at); ``mode`` sets its permissions (mkstemp's are 0600)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except OSError:
        with suppress(OSError):
            os.unlink(temp)
        raise


def _version_of(query: Any, item_id: Any, version_id: Any) -> Any:
    """Join the item and the version a row (a match or an event) points at."""
    return query.join(Item, col(Item.id) == col(item_id)).join(ItemVersion, col(ItemVersion.id) == col(version_id))


def _where_published(query: Any) -> Any:
    """Join an item version's meeting, source and document."""
    return (
        query.join(Meeting, col(Meeting.id) == col(Item.meeting_id))
        .join(SourceState, col(SourceState.id) == col(Meeting.source_id))
        .join(Document, col(Document.id) == col(ItemVersion.document_id))
    )


_IN_LIST = 5000  # ids per query: far below SQLite's and PostgreSQL's limits on bound parameters


def events_by_id(session: Session, ids: Iterable[int]) -> dict[int, Event]:
    """The events with these ids, a query per few thousand instead of one per event."""
    wanted = sorted(set(ids))
    found: dict[int, Event] = {}
    for start in range(0, len(wanted), _IN_LIST):
        chunk = wanted[start : start + _IN_LIST]
        found.update(
            (event.id, event)
            for event in session.exec(select(Event).where(col(Event.id).in_(chunk)))
            if event.id is not None
        )
    return found
