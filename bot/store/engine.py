"""The database engine: SQLite settings, read-only opening, URLs shown without passwords, and
inserts of many rows through the driver (:class:`BulkInsert`).

SQLite is the default (WAL journal, foreign keys on, a busy timeout); every statement is
dialect-neutral so a PostgreSQL URL works too. Transactions begin deferred, so readers
(`items`, `status`) never wait for the bot: one writer per state folder is guaranteed by the
writer lock (:mod:`bot.run.lock`), and only migrations, which may race at a first start, begin
``IMMEDIATE`` (the ``immediate`` execution option).

Commands that only read open the store read-only: no file is created, nothing is migrated or
written, so they also work for a user who may only read the state folder. Every message that
shows a database URL, or a driver's error that may quote it, shows it with the password masked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

import orjson
from sqlalchemy import URL, Connection, Dialect, Engine, Table, create_engine, event, insert, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from bot.errors import StoreError, os_reason

# The writer checkpoints its write-ahead log every 40,000 pages (160 MB), not SQLite's 1,000: a
# page written again and again (an index's, the table's last) is copied into the database once per
# checkpoint, so far fewer times. A national year's cold ingest: 105 s → 90 s (4,000 pages: 96 s;
# never: 106 s, the log's index grows too long to search). Once a checkpoint has emptied it, the
# log file is cut back to 64 MB rather than kept at its largest.
_WRITER_PRAGMAS = (
    "foreign_keys=ON",
    "journal_mode=WAL",
    "synchronous=NORMAL",
    "busy_timeout=30000",
    "wal_autocheckpoint=40000",
    f"journal_size_limit={64 * 2**20}",
)

# user:password@ in a URL, and password=… in a connection string a driver may quote
_CREDENTIALS = re.compile(r"(://[^:/@\s]*:)[^\s/]*@")
_PASSWORD_PARAMETER = re.compile(r"(password=)[^&\s'\"]*", re.IGNORECASE)


def masked_url(url: str) -> str:
    """A database URL as errors, logs and status may show it: its password replaced by ***."""
    return _PASSWORD_PARAMETER.sub(r"\1***", _CREDENTIALS.sub(r"\1***@", url))


def _masked(text: str, url: str) -> str:
    """A driver's message may quote the URL or the bare password: show neither."""
    with suppress(ArgumentError, ValueError):  # an unparsable URL still has its credentials masked
        password = make_url(url).password
        if password:
            text = text.replace(str(password), "***")
    return masked_url(text)


def _one_line(exc: BaseException) -> str:
    """The driver's own message: SQLAlchemy's adds the SQL and a link on further lines."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def make_engine(url: str, read_only: bool = False) -> Engine:
    """An engine for ``url``. Read-only, a SQLite store must exist already, and its connections
    refuse every write (``query_only``), which works for a user who may only read the store."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            path = Path(str(parsed.database))
            if read_only:
                parsed = _read_only_sqlite(parsed, path)
            else:
                _create_folder(path.parent)
        engine = create_engine(parsed, json_serializer=_json_text)
    except ImportError as exc:
        raise StoreError(
            f"cannot use database {masked_url(url)}: its driver is not installed ({_masked(str(exc), url)}); "
            'install it (for PostgreSQL: pip install "psycopg[binary]") or change [bot] database_url'
        ) from exc
    except (SQLAlchemyError, ValueError) as exc:
        raise StoreError(
            f"cannot use database {masked_url(url)} ({_masked(_one_line(exc), url)}): check [bot] database_url, "
            "e.g. sqlite:////var/lib/referatvagt/referatvagt.db or postgresql+psycopg://user@host/referatvagt"
        ) from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, read_only)
    return engine


def _json_text(value: Any) -> str:
    """A JSON column's value as stored. Every item version's sections and every event's diff pass
    through here: orjson writes them several times faster than the json module, as UTF-8 rather
    than \\u escapes (a smaller store). Rows written by older versions keep their escapes; both
    read back the same. Reading stays with the json module: orjson, handed the driver's str, encodes
    it to UTF-8 again and read the store's JSON 8% slower."""
    return orjson.dumps(value).decode()


def _create_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the database folder {folder} ({os_reason(exc)}): "
            "check the permissions of its parent, or set [bot] state_dir or database_url"
        ) from exc


def _read_only_sqlite(url: URL, path: Path) -> URL:
    if not path.is_file():
        raise StoreError(f"no store yet at {path}: run `referatvagt ingest` first")
    if os.access(path.parent, os.W_OK):
        # Opened as usual, so that closing removes the -wal and -shm files it may have created
        # (a mode=ro connection leaves them behind, owned by whoever ran the command).
        return url
    # Not ours to write: SQLite reads a WAL database through its -shm file. mode=ro reads an
    # existing one (a writer is running); when there is none, no writer is, the file alone holds
    # every commit, and it is read as immutable since SQLite could not create the -shm file (a
    # writer starting during this short read is the one case this does not cover).
    query = {"mode": "ro", "uri": "true"}
    companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    if not any(companion.exists() for companion in companions):
        query["immutable"] = "1"
    return URL.create("sqlite", database=f"file:{quote(str(path.absolute()))}", query=query)


def describe(engine: Engine) -> str:
    """The database as users know it: the SQLite file, or the URL without its password."""
    if engine.dialect.name == "sqlite":
        return unquote(str(engine.url.database or ":memory:").removeprefix("file:"))
    return engine.url.render_as_string(hide_password=True)


def _configure_sqlite(engine: Engine, read_only: bool) -> None:
    # A read-only connection refuses writes, and leaves the journal mode (a write) alone.
    pragmas = ("query_only=ON", "busy_timeout=30000") if read_only else _WRITER_PRAGMAS

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" below start transactions
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def cannot_open(engine: Engine, exc: SQLAlchemyError, verb: str) -> str:
    """One line for a database that failed: the driver's reason, masked, and what to check."""
    reason = _masked(_one_line(exc), engine.url.render_as_string(hide_password=False))
    return (
        f"cannot {verb} the database at {describe(engine)} ({reason}): check that it is reachable, that referatvagt "
        "may use the file and its folder (owner, permissions) and that the disk has free space, "
        "or set [bot] database_url"
    )


class _Plan(NamedTuple):
    sql: str
    names: tuple[str, ...]  # the parameters, in the order a positional driver takes them
    values: Callable[[Mapping[str, Any]], tuple[Any, ...]]  # a row's values, in that order
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, its column type's bind processor)
    positional: bool


_UNSEEN = object()


class BulkInsert:
    """An INSERT of many rows into ``table``, compiled once per dialect and handed to the driver's
    ``executemany``, each value bound by its column's type as SQLAlchemy binds it: the same rows,
    without SQLAlchemy's per-row parameter handling, which cost more than the database's work on
    the item versions and events of a cold ingest (issue 17). The new rows' ids are not returned
    (SQLite's driver drops what an ``executemany`` returns): see ``bot.store.recorder._insert``."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan] = {}

    def __call__(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows``, which all have the same keys."""
        if not rows:
            return
        keys = tuple(rows[0])
        plan = self._plans.get((connection.dialect.name, keys)) or self._plan(connection.dialect, keys)
        # One processor call per value, but a value the row before had (the batch's time, a flag) is bound once.
        last = [(_UNSEEN, None)] * len(plan.processors)
        params: list[Any] = []
        for row in rows:
            values = list(plan.values(row))
            for at, (position, processor) in enumerate(plan.processors):
                value = values[position]
                seen, bound = last[at]
                if value is not seen:
                    bound = processor(value)
                    last[at] = (value, bound)
                values[position] = bound
            params.append(tuple(values) if plan.positional else dict(zip(plan.names, values, strict=True)))
        connection.exec_driver_sql(plan.sql, params)

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
        compiled = insert(self._table).compile(dialect=dialect, column_keys=list(keys))
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
        missing = sorted(set(names) - set(keys))
        if missing:  # a column's default would be SQLAlchemy's to fill in, which the driver cannot
            raise ValueError(f"{self._table.name}: rows must give every column inserted, also {missing}")
        processors = []
        for position, name in enumerate(names):
            processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors.append((position, processor))
        get = itemgetter(*names)
        values = get if len(names) > 1 else lambda row: (get(row),)
        plan = _Plan(compiled.string, names, values, tuple(processors), compiled.positional)
        self._plans[dialect.name, keys] = plan
        return plan
