"""One writer per SQLite store: `run`, `ingest` and `digest` hold a lock file while they write.

On PostgreSQL there is no such lock: any number of workers, on any number of machines, share the
work through the database itself (:mod:`bot.run.workers`, :mod:`bot.store.coordination`).

filelock uses an OS lock (fcntl/msvcrt), which the OS releases when the process dies, so a
crashed bot never leaves a stale lock behind. Read-only commands (items, status) need none: they
open the store read-only (:class:`bot.store.Store`), so a user who may only read the folder can run them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout
from sqlalchemy import make_url

from bot.config import Config
from bot.errors import BotError, StoreError, os_reason

LOCK_NAME = ".referatvagt.lock"


class LockedError(BotError):
    """Another referatvagt process is writing to the same state folder."""


@contextmanager
def writer_lock(config: Config) -> Iterator[None]:
    if make_url(config.bot.database).get_backend_name() != "sqlite":
        yield
        return
    folder = config.bot.state_dir
    lock = FileLock(str(folder / LOCK_NAME))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except Timeout:  # before OSError: filelock's Timeout is a TimeoutError
        raise LockedError(
            f"another referatvagt process (run, ingest or digest) is using {folder}; "
            "wait for it to finish, or stop `referatvagt run` first"
        ) from None
    except OSError as exc:
        raise StoreError(
            f"cannot write to the state folder {folder} ({os_reason(exc)}): "
            "check its owner and permissions, or set [bot] state_dir"
        ) from exc
    try:
        yield
    finally:
        lock.release()
