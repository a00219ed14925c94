"""The store: engine and sessions, named schema migrations, and the reads other stages need.

SQLite is the default (WAL journal, foreign keys on, a busy timeout); every statement is
dialect-neutral so a PostgreSQL URL works too. Transactions begin deferred, so readers
(`items`, `status`) never wait for the bot: one writer per state folder is guaranteed by the
writer lock (:mod:`bot.lock`), and only migrations, which may race at a first start, begin
``IMMEDIATE``.

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
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, create_engine, event, inspect
from sqlalchemy import select as sa_select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, col, select

from bot.errors import StoreError
from bot.models import (
    Document,
    Event,
    Item,
    ItemVersion,
    Match,
    Meeting,
    SchemaMigration,
    SourceState,
    WatchlistState,
)

Migration = Callable[[Connection], None]


def _initial(connection: Connection) -> None:
    """0001: the first release's schema (created from the models on a new database)."""


MIGRATIONS: tuple[tuple[str, Migration], ...] = (("0001_initial", _initial),)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"cannot use database {url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" below start transactions
        cursor = dbapi_connection.cursor()
        for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def migrate(engine: Engine) -> list[str]:
    """Bring the schema up to date; returns the names of the steps applied."""
    try:
        if _up_to_date(engine):
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
        raise StoreError(f"cannot open or upgrade the database at {engine.url}: {exc}") from exc


def _up_to_date(engine: Engine) -> bool:
    with engine.connect() as connection:
        if not inspect(connection).has_table("schema_migration"):
            return False
        done = {row[0] for row in connection.execute(select(SchemaMigration.name))}
    return all(name in done for name, _ in MIGRATIONS)


def _stamp(connection: Connection, names: list[str]) -> None:
    now = utcnow()
    for name in names:
        connection.execute(SchemaMigration.__table__.insert().values(name=name, applied_at=now))  # type: ignore[attr-defined]


class Store:
    """The database plus the raw-document archive, both under the state folder."""

    def __init__(self, url: str, archive_dir: Path) -> None:
        self.engine = make_engine(url)
        migrate(self.engine)
        self.archive_dir = archive_dir

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()

    def backup(self, target: Path) -> None:
        """A consistent copy of a SQLite store, taken while others keep writing (online backup)."""
        if self.engine.dialect.name != "sqlite":
            raise StoreError("backup copies SQLite stores; for PostgreSQL use pg_dump")
        target.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(str(self.engine.url.database))
        destination = sqlite3.connect(str(target))
        try:
            with destination:
                source.backup(destination)
        finally:
            destination.close()
            source.close()

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
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
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
