"""Named schema migrations, recorded in ``schema_migration``.

A new database is created from the models and stamped with every known step (Alembic's
"create_all, then stamp head"); an existing database runs the steps it has not recorded, each in
its own transaction, so an upgrade never needs a rebuilt database. Processes starting at once
take turns: SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's advisory lock; each checks again what is
applied once it has its turn.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel, select

from bot.errors import StoreError
from bot.store.coordination import exclusive
from bot.store.engine import cannot_open, describe
from bot.store.models import (
    AttachmentContent,
    AttachmentFetch,
    Document,
    Event,
    Item,
    Match,
    Notification,
    Outbox,
    SchemaMigration,
    SourceState,
    Worker,
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


def _workers(connection: Connection) -> None:
    """0005: several workers on one database: who they are, and the leases on polls and emails."""
    SQLModel.metadata.create_all(connection, tables=[Worker.__table__])  # type: ignore[attr-defined]
    for model in (SourceState, Outbox):
        _add_column(model, "lease_owner")(connection)
        _add_column(model, "lease_until")(connection)


def _notifications(connection: Connection) -> None:
    """0006: chat and webhook notifications, delivered like the email outbox."""
    SQLModel.metadata.create_all(connection, tables=[Notification.__table__])  # type: ignore[attr-defined]


def _add_index(model: Any, name: str) -> Migration:
    """A step that creates one index of ``model`` as the model declares it."""

    def step(connection: Connection) -> None:
        next(index for index in model.__table__.indexes if index.name == name).create(connection)

    return step


def _drop_indexes(*names: str) -> Migration:
    """A step that drops indexes the models no longer declare, where a store has them."""

    def step(connection: Connection) -> None:
        for name in names:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")

    return step


MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("0001_initial", _initial),
    # when each document was published, so documents of one meeting may arrive in any order
    ("0002_document_published_at", _add_column(Document, "published_at")),
    # when each digest was last tried, so no digest is tried twice within a minute
    ("0003_outbox_last_attempt_at", _add_column(Outbox, "last_attempt_at")),
    # attachments (bilag): their texts, their downloads, and the events and matches about them
    ("0004_attachments", _attachments),
    # several workers on one PostgreSQL database
    ("0005_workers", _workers),
    # chat and webhook notifications (Apprise)
    ("0006_notifications", _notifications),
    # a case's steps are found by case number (referatvagt case, item pages, mails)
    ("0007_case_index", _add_index(Item, "ix_item_case_number")),
    # a meeting's documents are found without reading the source's others (issue 17)
    ("0008_document_meeting_index", _add_index(Document, "ix_document_meeting_id")),
    # two indexes every new version paid for and no query used: one the unique (item_id, version)
    # index covers, one on content hashes, which are compared, never searched (issue 17)
    ("0009_no_unused_version_indexes", _drop_indexes("ix_item_version_item_id", "ix_item_version_content_hash")),
)


def migrate(engine: Engine) -> list[str]:
    """Bring the schema up to date; returns the names of the steps applied."""
    try:
        if _pending(engine) == []:
            return []  # the common case, settled without a write lock
        with exclusive(engine, "migrations"):
            return _apply(engine)
    except SQLAlchemyError as exc:
        raise StoreError(cannot_open(engine, exc, "open or upgrade")) from exc


def _apply(engine: Engine) -> list[str]:
    """Every step not applied yet, each checked again in its own (on SQLite: immediate) transaction."""
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
    now = datetime.now(timezone.utc)
    for name in names:
        connection.execute(SchemaMigration.__table__.insert().values(name=name, applied_at=now))  # type: ignore[attr-defined]
