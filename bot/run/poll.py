"""One poll's documents: each archived as it arrives, read (see :mod:`bot.run.reading`), and stored in
batches, one transaction per batch.

Documents that arrive fast (a folder, a portal answering from its cache) are stored in batches
of up to ``BATCH``, or what was read in ``BATCH_SECONDS``; a document a source took
``SLOW_SOURCE`` or longer to deliver is stored, with any before it, before the next is fetched,
so a slow site's long backlog keeps every document it delivered. A kill loses at most the batch
in hand, which is neither stored nor counted as seen: the next poll reads it again, and the store
never holds half a document. A batch the store
refuses is stored again one document per transaction, so one bad document fails alone, named, and
the rest go in.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from bot.attachments import AttachmentReader, Bilag
from bot.errors import BotError
from bot.parse.minutes import ParsedMeeting
from bot.run.reading import Readers, Reading
from bot.run.report import RunReport
from bot.sources import RawDocument
from bot.store import Store
from bot.store.coordination import retrying
from bot.store.models import Document, SourceState
from bot.store.recorder import Tally
from bot.store.versions import NewDocument, record_meeting

BATCH = 32
BATCH_SECONDS = 1.0
SLOW_SOURCE = 0.05  # seconds a source took to deliver a document


@dataclass(frozen=True)
class _Parsed:
    raw: RawDocument
    digest: str
    meeting: ParsedMeeting
    attachments: dict[str, Bilag] | None = None


class Poll:
    """One poll's documents, in the order the source delivers them; counts what failed."""

    def __init__(
        self,
        store: Store,
        state: SourceState,
        now: datetime,
        readers: Readers[tuple[RawDocument, str]],
        report: RunReport,
        label: str,
        backfill: bool,
    ) -> None:
        self.store, self.state, self.now, self.readers, self.label = store, state, now, readers, label
        self.report, self.backfill = report, backfill
        self.failed: list[str] = []
        self.attempted = 0
        self.attachments: AttachmentReader | None = None
        self._seen: dict[str, str] | None = None  # document key → hash of its newest stored version
        self._queued: dict[str, str] = {}  # handed to the readers or in the batch, not yet stored
        self._batch: list[_Parsed] = []
        self._batch_started = 0.0

    def take(self, fetched: RawDocument | BotError, waited: float = 0.0) -> None:
        """Archive a fetched document and hand it on for reading, unless it is stored already;
        then store what is read (all of it, when the source took ``waited`` seconds to deliver
        it: a slow source's next document is no faster for waiting)."""
        self.attempted += 1
        if isinstance(fetched, BotError):
            self._fail(str(fetched))
            return
        self.report.documents += 1
        digest = hashlib.sha256(fetched.content).hexdigest()
        try:
            if digest in (self._stored().get(fetched.key), self._queued.get(fetched.key)):
                self.store.archive(fetched.content, digest)  # back, if someone pruned the archive
                self.report.unchanged += 1
                return
            if fetched.parsed is not None:  # a portal's JSON, parsed by its source
                self.store.archive(fetched.content, digest)
        except BotError as exc:  # the archive or the store cannot be written: this document fails
            self._fail(str(exc))
            return
        self._queued[fetched.key] = digest
        if fetched.parsed is not None:
            self.readers.put_read((fetched, digest), Reading(fetched.parsed))
        else:  # archived by the reader
            self.readers.put((fetched, digest), fetched.content, fetched.name, digest)
        if waited >= SLOW_SOURCE:
            self.finish()
        else:
            self._collect(self.readers.ready())

    def finish(self) -> None:
        """Read and store everything handed in."""
        self._collect(self.readers.drain())
        self.store_batch()

    def close(self) -> None:
        """Store the batch in hand; what is still being read is read again at the next poll."""
        self.store_batch()
        self.readers.discard()

    def store_batch(self) -> None:
        """Store the batch in hand."""
        batch, self._batch = self._batch, []
        if not batch:
            return
        try:
            tallies = retrying(lambda: _store(self.store, self.state, batch, self.now, self.backfill), self.label)
        except (BotError, SQLAlchemyError) as exc:
            if len(batch) == 1:
                self._forget(batch[0].raw.key, batch[0].digest)
                self._fail(_not_stored(batch[0], exc))
            else:
                for parsed in batch:  # find the one the store refuses; the others go in
                    self._batch = [parsed]
                    self.store_batch()
            return
        for parsed, tally in zip(batch, tallies, strict=True):
            self._stored()[parsed.raw.key] = parsed.digest
            self._forget(parsed.raw.key, parsed.digest)
            self._warn(tally.warnings)
            self.report.new += tally.new
            self.report.changed += tally.changed
            self.report.removed += tally.removed

    def failure(self) -> str | None:
        """The poll counts as failed when at least half of its documents failed: a source whose
        meetings mostly fail is failing, even if its listing answers."""
        if not self.failed or len(self.failed) * 2 < self.attempted:
            return None
        return f"{len(self.failed)} of {self.attempted} documents failed; the first: {self.failed[0]}"

    def _collect(self, readings: Iterator[tuple[tuple[RawDocument, str], Reading | BotError]]) -> None:
        for (raw, digest), reading in readings:
            if isinstance(reading, BotError):
                self._forget(raw.key, digest)
                self._fail(str(reading))
                continue
            self._warn(reading.warnings)
            meeting = reading.meeting
            if raw.url and not meeting.url:
                meeting = replace(meeting, url=raw.url)
            parsed = _Parsed(raw, digest, meeting)
            if self.attachments is not None:
                found, warnings = self.attachments.read(meeting, raw.published_at, digest)
                self._warn(warnings)
                parsed = replace(parsed, attachments=found)
            if not self._batch:
                self._batch_started = time.monotonic()
            self._batch.append(parsed)
            if len(self._batch) >= BATCH or time.monotonic() - self._batch_started >= BATCH_SECONDS:
                self.store_batch()

    def _forget(self, key: str, digest: str) -> None:
        """No longer in hand (stored, or failed): a later copy of the document is read again."""
        if self._queued.get(key) == digest:
            del self._queued[key]

    def _stored(self) -> dict[str, str]:
        if self._seen is None:
            self._seen = _newest_digests(self.store, self.state)
        return self._seen

    def _fail(self, message: str) -> None:
        self.report.errors.append(named(self.label, message))
        self.failed.append(message)

    def _warn(self, warnings: Iterable[str]) -> None:
        self.report.warnings += [named(self.label, warning) for warning in warnings]


def named(label: str, message: str) -> str:
    return message if message.startswith(label) else f"{label}: {message}"


def _not_stored(parsed: _Parsed, exc: BotError | SQLAlchemyError) -> str:
    if isinstance(exc, BotError):
        return str(exc)
    first = str(exc).splitlines()[0]
    return f"{parsed.raw.name}: could not be stored ({type(exc).__name__}: {first})"


def _newest_digests(store: Store, state: SourceState) -> dict[str, str]:
    """The hash of the newest stored version of each of the source's documents, read once per
    poll (its claim keeps other workers from storing its documents meanwhile). Only the newest
    counts: a document re-published with an earlier content is read again."""
    query = select(Document.key, Document.raw_sha256).where(Document.source_id == state.id).order_by(col(Document.id))
    with store.session() as session:
        return dict(session.exec(query).all())


def _store(store: Store, state: SourceState, batch: list[_Parsed], now: datetime, backfill: bool) -> list[Tally]:
    """Record a batch of documents in one transaction; what each changed."""
    assert state.id is not None
    tallies: list[Tally] = []
    with store.session() as session:
        for parsed in batch:
            document = NewDocument(
                source_id=state.id,
                key=parsed.raw.key,
                raw_sha256=parsed.digest,
                fetched_at=parsed.raw.fetched_at,
                published_at=parsed.raw.published_at or parsed.raw.fetched_at,
                url=parsed.raw.url,
                kind=parsed.meeting.kind,
            )
            tallies.append(record_meeting(session, state, document, parsed.meeting, now, backfill, parsed.attachments))
    return tallies
