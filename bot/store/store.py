"""The store: sessions, the raw archive, and the reads other stages need.

The engine (SQLite settings, read-only opening, masked URLs) comes from :mod:`bot.store.engine`; the
schema and its upgrades from :mod:`bot.store.migrations`.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import and_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from bot.errors import StoreError, os_reason
from bot.store.engine import cannot_open, make_engine
from bot.store.migrations import check_schema, migrate
from bot.store.models import (
    Document,
    Event,
    Item,
    ItemVersion,
    Match,
    Meeting,
    SourceState,
    WatchlistState,
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
            url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=True)
            raise StoreError(
                "backup copies SQLite stores; back up PostgreSQL with its own tools, e.g. "
                f"`pg_dump --format=custom --file={target} '{url}'` (restore with pg_restore), "
                "and copy the raw archive folder beside it (see docs/deploy.md)"
            )
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

    def archive(self, raw: bytes, digest: str | None = None) -> str:
        """Keep the exact published bytes under their SHA-256 (``digest``, if known); returns the hash."""
        return archive_into(self.archive_dir, raw, digest)

    def archive_path(self, digest: str) -> Path:
        return archived(self.archive_dir, digest)

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
        # The newest ids first, then their rows: sorting all of a source's events with all their
        # columns (each version's text) to keep ``limit`` of them took SQLite ~40 ms a source in a
        # national year. Ordered by an expression, not the key: PostgreSQL would walk every event
        # backwards by key until it met ``limit`` of this source's (0.9 s for a source polled early
        # in a national year, 0.3 s on average; 0.09 s this way).
        newest = (
            self._event_query(col(Event.id))
            .where(col(SourceState.name) == source, col(Event.kind) != "removed")
            .order_by((col(Event.id) + 0).desc())
            .limit(limit)
        )
        return self._rows(self._event_query().where(col(Event.id).in_(newest)).order_by(col(Event.id).desc()))

    def _event_query(self, *columns: Any) -> Any:
        """Events joined to their item, version, meeting, source and document (or just ``columns``)."""
        query = sa_select(*(columns or (Event, Item, ItemVersion, Meeting, SourceState, Document)))
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

    # --- the search page ----------------------------------------------------------------------

    def kommuner(self) -> list[str]:
        """Every source's kommune, sorted."""
        with self.session() as session:
            return sorted(set(session.exec(select(SourceState.kommune))))

    def committees(self) -> list[str]:
        """Every committee name a meeting has, sorted."""
        with self.session() as session:
            return sorted(set(session.exec(select(Meeting.committee).distinct())))

    def search_version_ids(
        self,
        kommuner: Sequence[str] | None,
        committees: Sequence[str] | None,
        since: date | None,
        until: date | None,
        limit: int,
    ) -> list[int]:
        """The current versions of the items within the filters (None: any), newest meeting first,
        at most ``limit``. Ids only: sorting whole rows with their texts would cost far more."""
        current = and_(col(ItemVersion.item_id) == col(Item.id), col(ItemVersion.version) == col(Item.current_version))
        query = (
            sa_select(col(ItemVersion.id))
            .join(Item, current)
            .join(Meeting, col(Meeting.id) == col(Item.meeting_id))
            .join(SourceState, col(SourceState.id) == col(Meeting.source_id))
        )
        if kommuner is not None:
            query = query.where(col(SourceState.kommune).in_(kommuner))
        if committees is not None:
            query = query.where(col(Meeting.committee).in_(committees))
        if since is not None:
            query = query.where(col(Meeting.meeting_date) >= since)
        if until is not None:
            query = query.where(col(Meeting.meeting_date) <= until)
        query = query.order_by(col(Meeting.meeting_date).desc(), col(Item.id).desc()).limit(limit)
        with self.session() as session:
            return [row[0] for row in session.execute(query)]

    def texts_by_id(self, ids: Sequence[int]) -> list[tuple[int, str, str, str | None, str, list[list[str]]]]:
        """What a watchlist reads of these item versions: ``(id, kommune, committee, case number,
        title, sections)``, in the order given. Plain columns: building whole rows cost as much as matching."""
        query = (
            sa_select(
                col(ItemVersion.id),
                col(SourceState.kommune),
                col(Meeting.committee),
                col(ItemVersion.case_number),
                col(ItemVersion.title),
                col(ItemVersion.sections),
            )
            .join(Item, col(Item.id) == col(ItemVersion.item_id))
            .join(Meeting, col(Meeting.id) == col(Item.meeting_id))
            .join(SourceState, col(SourceState.id) == col(Meeting.source_id))
        )
        found = {}
        for start in range(0, len(ids), _IN_LIST):
            for row in self._rows(query.where(col(ItemVersion.id).in_(ids[start : start + _IN_LIST]))):
                found[row[0]] = row
        return [found[id] for id in ids if id in found]

    def versions_by_id(self, ids: Sequence[int]) -> list[tuple[Item, ItemVersion, Meeting, SourceState, Document]]:
        """The item versions with these ids and where they were published, in the order given."""
        found: dict[int, tuple[Item, ItemVersion, Meeting, SourceState, Document]] = {}
        query = _where_published(
            sa_select(Item, ItemVersion, Meeting, SourceState, Document).join(
                ItemVersion, col(ItemVersion.item_id) == col(Item.id)
            )
        )
        for start in range(0, len(ids), _IN_LIST):
            chunk = ids[start : start + _IN_LIST]
            for row in self._rows(query.where(col(ItemVersion.id).in_(chunk))):
                found[row[1].id] = row
        return [found[id] for id in ids if id in found]


def archived(folder: Path, digest: str) -> Path:
    """Where the raw archive ``folder`` keeps the document of this SHA-256."""
    return folder / digest[:2] / digest


def archive_into(folder: Path, raw: bytes, digest: str | None = None) -> str:
    """Keep ``raw`` in the raw archive ``folder`` under its SHA-256 (synced to disk: the database
    points at it); returns the hash. Also called in worker processes (see :mod:`bot.run.reading`)."""
    digest = digest or hashlib.sha256(raw).hexdigest()
    target = archived(folder, digest)
    if not target.exists():
        try:
            write_atomically(target, raw, durable=True)
        except OSError as exc:
            raise StoreError(
                f"cannot write to the raw archive {folder} ({os_reason(exc)}): check its owner, "
                "permissions and free space, or set [bot] state_dir"
            ) from exc
    return digest


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
