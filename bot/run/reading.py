"""Reading documents: each kept in the raw archive, its text extracted and parsed into a meeting,
in worker processes when a poll brings many.

Archiving (with its wait for the disk), extracting and parsing (and hashing each item's content)
need no database and no network, so they run in a small process pool beside the process that
fetches and stores: on two cores, one document is read while the one before it is stored. The
pool starts only once a cycle has read ``IN_PROCESS`` documents itself (a scheduled poll that
finds two new agendas never pays for starting processes) and reads at most ``AHEAD`` documents
per process (and ``BYTES_AHEAD`` in all) ahead of what is stored, so memory does not grow with a
backlog. Results come back in the order the documents were handed in.

A worker process that dies (a PDF library crashing on a broken file, the kernel's OOM killer) fails
only the documents it had in hand, with a message saying so; they are not stored, so the next poll
reads them again, and a fresh pool takes the rest. Worker processes import the program's
``__main__`` module, as with any Python multiprocessing: a script that calls the pipeline must
guard its own code with ``if __name__ == "__main__":``; a pool that cannot read a single document
is given up, with a warning, and everything is read in the main process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from bot.errors import BotError, ParseError
from bot.parse.extract import extract_text
from bot.parse.minutes import ParsedMeeting
from bot.parse.parser import parse_minutes
from bot.store import archive_into

log = logging.getLogger("referatvagt")
IN_PROCESS = 8  # documents a cycle reads itself before it starts the pool
AHEAD = 40  # documents in flight per worker process: > bot.run.poll.BATCH, so reading goes on while one is stored
BYTES_AHEAD = 64 * 2**20  # and at most this much of their content in all (a portal's PDFs can be big)
MAX_PROCESSES = 4  # storing in one process is the limit beyond this

Tag = TypeVar("Tag")


@dataclass(frozen=True)
class Reading:
    """A document's meeting as parsed from its text, and what could not be read well."""

    meeting: ParsedMeeting
    warnings: tuple[str, ...] = ()


def read_document(content: bytes, name: str, archive: Path | None = None, digest: str | None = None) -> Reading:
    """Archive (into the raw archive folder ``archive``, unless None; ``digest``: its SHA-256, if
    known), extract and parse one document (``name`` labels errors); raises a :class:`BotError`.
    Archiving here lets a worker process wait for the disk while the main process stores the
    document before."""
    if archive is not None:
        archive_into(archive, content, digest)
    extracted = extract_text(content, name)
    meeting = parse_minutes(extracted.text, name)
    for item in meeting.items:
        item.content_hash()  # cached on the item, so a worker's hashing travels back with it
    return Reading(meeting, extracted.warnings)


def default_processes() -> int:
    """One fewer than the cores (the main process fetches and stores), but two on two or three
    cores, at most ``MAX_PROCESSES``; none on one core. The main process waits for SQLite and the
    disk part of the time, and one reader on two cores left that time unused (a tenth of the
    national year: the main process waited 5.8 s for one reader, 2.4 s for two; cold -9%)."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(MAX_PROCESSES, max(2, cores - 1))


@dataclass(frozen=True)
class _Job:
    """What :func:`read_document` is given for one document."""

    content: bytes
    name: str
    digest: str | None


@dataclass
class _Pending(Generic[Tag]):
    tag: Tag
    job: _Job
    result: Future[Reading] | Reading | BotError


class Readers(Generic[Tag]):
    """Documents handed in, read in order: ``put`` a document with a tag (the caller's, returned
    with its reading), take what is ready with ``ready`` and the rest with ``drain``. Used as a
    context manager: the pool's processes end with the block."""

    def __init__(self, processes: int | None = None, in_process: int = IN_PROCESS, archive: Path | None = None) -> None:
        self.archive = archive  # the raw archive each document is kept in before it is read
        self.processes = default_processes() if processes is None else processes
        self.in_process = in_process
        self.read_here = 0
        self.read_there = 0  # by worker processes
        self._pool: ProcessPoolExecutor | None = None
        self._queue: deque[_Pending[Tag]] = deque()
        self._bytes = 0  # of the documents in the queue

    def __enter__(self) -> Readers[Tag]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Forget what is queued and end the pool's processes."""
        self.discard()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def discard(self) -> None:
        """Forget what is queued (a poll cut short); the pool stays for the next poll."""
        for pending in self._queue:
            if isinstance(pending.result, Future):
                pending.result.cancel()
        self._queue.clear()
        self._bytes = 0

    def put(self, tag: Tag, content: bytes, name: str, digest: str | None = None) -> None:
        """Hand in a document (``digest``: its SHA-256, if the caller has it)."""
        job = _Job(content, name, digest)
        self._bytes += len(content)
        pool = self._pool_for_next()
        if pool is None:
            self._queue.append(_Pending(tag, job, self._here(job)))
            return
        try:
            future = self._submit(pool, job)
        except BrokenProcessPool:  # it died while idle: nothing was in hand
            if not self.read_there:
                self._without_pool()
                self._queue.append(_Pending(tag, job, self._here(job)))
                return
            future = self._submit(self._replace_pool(), job)
        self._queue.append(_Pending(tag, job, future))

    def put_read(self, tag: Tag, reading: Reading) -> None:
        """A document read already (a portal's JSON), queued in its turn."""
        self._queue.append(_Pending(tag, _Job(b"", "", None), reading))

    def ready(self) -> Iterator[tuple[Tag, Reading | BotError]]:
        """What is read, in order, while the pool has more in hand than it needs to stay busy."""
        limit = max(1, self.processes * AHEAD)
        while self._queue and (len(self._queue) > limit or self._bytes > BYTES_AHEAD or _done(self._queue[0].result)):
            yield self._take()

    def drain(self) -> Iterator[tuple[Tag, Reading | BotError]]:
        """Everything handed in, in order, waiting for what is still being read."""
        while self._queue:
            yield self._take()

    def _take(self) -> tuple[Tag, Reading | BotError]:
        pending = self._queue.popleft()
        self._bytes -= len(pending.job.content)
        result = pending.result
        if isinstance(result, Future):
            result = self._outcome(result, pending.job)
        return pending.tag, result

    def _outcome(self, future: Future[Reading], job: _Job) -> Reading | BotError:
        try:
            result: Reading | BotError = future.result()
        except BotError as exc:
            result = exc
        except BrokenProcessPool:
            if not self.read_there:  # not this document's fault: the processes cannot start here
                self._without_pool()
                return self._here(job)
            self._replace_pool()
            return ParseError(
                f"{job.name}: the process reading it stopped unexpectedly (out of memory, or a library "
                "crashed on this file); it is read again at the next poll"
            )
        self.read_there += 1
        return result

    def _without_pool(self) -> None:
        """Read everything in this process from now on: a pool that has not read a single
        document is broken by where it runs (e.g. a program importable only as ``__main__``)."""
        log.warning("worker processes for reading documents could not start; reading them in this process")
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.processes = 0
        for pending in self._unfinished():
            pending.result = self._here(pending.job)

    def _replace_pool(self) -> ProcessPoolExecutor:
        """A dead pool fails the document at the head of the queue (which of those in hand killed
        it is unknown); what it had not finished behind that goes to a fresh pool."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        pool = self._pool = _start(self.processes)
        for pending in self._unfinished():
            pending.result = self._submit(pool, pending.job)
        return pool

    def _unfinished(self) -> Iterator[_Pending[Tag]]:
        """What a dead pool had in hand and had not finished (its reading or its error stands)."""
        for pending in self._queue:
            if isinstance(pending.result, Future) and not _read_well(pending.result):
                yield pending

    def _here(self, job: _Job) -> Reading | BotError:
        self.read_here += 1
        try:
            return read_document(job.content, job.name, self.archive, job.digest)
        except BotError as exc:
            return exc

    def _submit(self, pool: ProcessPoolExecutor, job: _Job) -> Future[Reading]:
        return pool.submit(read_document, job.content, job.name, self.archive, job.digest)

    def _pool_for_next(self) -> ProcessPoolExecutor | None:
        if self._pool is None and self.processes > 0 and self.read_here >= self.in_process:
            self._pool = _start(self.processes)
        return self._pool


def _start(processes: int) -> ProcessPoolExecutor:
    # forkserver (spawn where it is missing): forking a process that runs scheduler threads is
    # unsafe. The server loads this module once, not the program's __main__ (which may be a CLI).
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    if method == "forkserver":
        multiprocessing.set_forkserver_preload([__name__])
    context = multiprocessing.get_context(method)
    return ProcessPoolExecutor(processes, mp_context=context, initializer=_watch, initargs=(os.getpid(),))


def _watch(parent: int) -> None:
    """In each worker process: end it once the process that started the pool is gone. Killed
    (kill -9, OOM), that one could not say so, and a worker waits on its queue for ever. Ctrl-C
    reaches the whole process group: the main process decides what it means (finish the job, or
    stop), so a worker ignores it rather than die with the documents in hand."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while _alive(parent):
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether a process runs; a killed one its parent has not yet reaped (a zombie) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except OSError:  # no /proc (macOS): the signal test must do
        return True


def _done(result: Future[Reading] | Reading | BotError) -> bool:
    return not isinstance(result, Future) or result.done()


def _read_well(future: Future[Reading]) -> bool:
    """Whether a dead pool's future had finished before it died (its reading or its error stands)."""
    return future.done() and not future.cancelled() and not isinstance(future.exception(), BrokenProcessPool)
