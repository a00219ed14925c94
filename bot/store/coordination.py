"""What lets several workers share one PostgreSQL store without doing anything twice.

SQLite has one writer process per state folder (:mod:`bot.run.lock`), so there every helper here
is plain: a lock that is never contended, an insert that never races. On PostgreSQL:

- :func:`exclusive` holds a session-level advisory lock for a block that spans transactions
  (migrations, the watchlists' look back, publishing the feed folder): one worker at a time;
- :func:`lock` takes a transaction-level advisory lock (a recipient while its digest is planned);
- :func:`insert_ignoring` inserts rows that another worker may have inserted a moment earlier
  (``ON CONFLICT DO NOTHING``) and returns how many were new;
- :func:`retrying` runs a unit of work again when the database gave it up to another
  (serialization failure, deadlock, a unique key taken in between), instead of crashing the job.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

log = logging.getLogger("referatvagt")
T = TypeVar("T")

# SQLSTATEs of a transaction the server gave up so that another could go on
_LOST_RACE = {"40001", "40P01", "23505"}  # serialization failure, deadlock, unique violation
ATTEMPTS = 5
# This process as the owner of its leases and claims: host, pid, and a random part (pids are reused)
IDENTITY = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for an advisory lock named ``name``."""
    return int.from_bytes(hashlib.sha256(f"referatvagt:{name}".encode()).digest()[:8], "big", signed=True)


def is_postgresql(bind: Engine | Connection | Session) -> bool:
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    return dialect.name == "postgresql"


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[None]:
    """Hold the advisory lock ``name`` for the block, waiting for another worker that holds it."""
    if not is_postgresql(engine):
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": lock_key(name)})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(name)})
            connection.commit()


def lock(session: Session | Connection, name: str) -> None:
    """Take the advisory lock ``name`` until the session's transaction ends."""
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})


def insert_ignoring(session: Session, model: Any, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> int:
    """Insert ``rows`` into ``model``'s table, leaving out those whose unique ``keys`` are taken
    already; returns how many were inserted."""
    if not rows:
        return 0
    table = model.__table__
    statement = ignoring_insert(session.get_bind().dialect.name, table, keys)
    return len(session.execute(statement.returning(table.c[_primary_key(table)]), list(rows)).all())


# The databases the store can write to: each has its own upsert (below) and locking. The config
# refuses any other (bot.config).
DIALECTS = ("sqlite", "postgresql")


def ignoring_insert(dialect: str, table: Any, keys: Sequence[str]) -> Any:
    """An insert into ``table`` that leaves out a row whose unique ``keys`` are taken already
    (``ON CONFLICT DO NOTHING``, in the words of ``dialect``); add ``returning`` to tell which were new."""
    insert: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing(index_elements=list(keys))


def _primary_key(table: Any) -> str:
    return str(next(iter(table.primary_key.columns)).name)


def lost_race(exc: BaseException) -> bool:
    """Whether the database refused this work only because another worker's came first."""
    if isinstance(exc, IntegrityError) and "UNIQUE constraint failed" in str(exc.orig):
        return True  # SQLite's words for a taken unique key
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(exc, DBAPIError) and code in _LOST_RACE


def retrying(work: Callable[[], T], what: str) -> T:
    """Run ``work`` (which opens its own transactions) again after a lost race, a few times,
    with a short growing pause; the last failure is raised."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return work()
        except DBAPIError as exc:
            if not lost_race(exc) or attempt == ATTEMPTS:
                raise
            log.info("%s: another worker came first (%s); trying again", what, type(exc.orig).__name__)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")
