"""What the adapters of kommune sites share: the window of meetings, the committee filter,
remembering which meetings were read, and the probe that recognises a site.

An adapter lists the meetings of its site (:meth:`SiteSource.list_meetings`) and reads one
(:meth:`SiteSource.read_meeting`). A meeting whose listing ``signature`` is the same as when it
was last read and stored is not fetched again; a meeting without a signature is fetched at every
poll with a conditional GET, and the pipeline counts identical bytes as unchanged. A meeting
whose page shows no items yet is skipped while its day is ahead (announced before its agenda),
and is an error ("has the site's layout changed?") once it has passed.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import ClassVar
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.errors import FetchError, ParseError
from bot.fetch import Fetcher
from bot.parse.minutes import DocKind, ParsedMeeting, collapse
from bot.source_config import SiteConfig
from bot.sources.base import HttpSource, RawDocument
from bot.store import Store
from bot.store.models import Document, PortalMeeting, SourceState

ZONE = ZoneInfo("Europe/Copenhagen")
DEFAULT_WINDOW = timedelta(days=180)
MAX_KEY = 100  # PortalMeeting.meeting_id
SETTLED = timedelta(days=60)  # a meeting's pages are hardly amended after this


@dataclass(frozen=True)
class SiteMeeting:
    """One meeting (one published document of it) as the site's listing shows it."""

    key: str  # stable within the source, at most 100 characters: the site's id or path
    committee: str
    start: datetime  # aware, Europe/Copenhagen; midnight when the site gives no time
    kind: DocKind
    url: str  # the meeting's public page: the link in feeds and emails
    signature: str = ""  # changes when the site re-publishes the meeting; "" when it cannot tell


@dataclass(frozen=True)
class MeetingRead:
    """A meeting as read: the exact bytes served (pages joined by :func:`bundle`) and their meaning."""

    content: bytes
    parsed: ParsedMeeting
    fetched_at: datetime
    published_at: datetime | None = None


def bundle(pages: Iterable[tuple[str, bytes]]) -> bytes:
    """The bytes of a meeting served as several pages (a list and each item's page or PDF),
    kept together for the archive: each page under a line naming its URL."""
    return b"".join(f"\n--- {url} ---\n".encode() + content for url, content in pages)


def local(moment: datetime) -> datetime:
    return moment.astimezone(ZONE) if moment.tzinfo else moment.replace(tzinfo=ZONE)


def wanted(committee: str, committees: tuple[str, ...]) -> bool:
    """The ``committees`` filter: a committee is read when its name contains one of them."""
    return not committees or any(name.casefold() in committee.casefold() for name in committees)


def window_start(since: date | None, first_ingest_at: datetime | None, now: datetime | None) -> date:
    """The first day read: ``since``, else 180 days before the source's first ingest."""
    if since is not None:
        return since
    start = first_ingest_at or now or datetime.now(timezone.utc)
    return (start.astimezone(ZONE) - DEFAULT_WINDOW).date()


class SiteSource(HttpSource):
    """A kommune's publishing site: the meetings it lists in the window, each read into items."""

    # What the site is called in messages ("Åben Dagsorden site").
    system: ClassVar[str]
    config: SiteConfig

    def fetch_with(self, fetcher: Fetcher) -> Iterator[RawDocument | FetchError]:
        fetcher.pace(self.config.url, self.config.min_interval)
        since = self.since()
        meetings = [
            m
            for m in self.list_meetings(fetcher)
            if m.start.date() >= since and wanted(m.committee, self.config.committees)
        ]
        meetings.sort(key=lambda m: (m.start, m.committee, m.key))
        self.listed = len(meetings)  # 0 is a warning in the run report and the health feed
        store = self.context.store
        known = remembered(store, self.config.name) if store is not None else {}
        for meeting in meetings:
            if meeting.signature and known.get(fit(meeting.key)) == fit(meeting.signature):
                continue
            document = self._document(fetcher, meeting)
            if document is None:
                continue
            yield document
            if isinstance(document, RawDocument) and store is not None and meeting.signature:
                remember(store, self.config.name, document.key, meeting.signature, document)

    def since(self) -> date:
        return window_start(self.config.since, self.context.first_ingest_at, self.context.now)

    def _document(self, fetcher: Fetcher, meeting: SiteMeeting) -> RawDocument | FetchError | None:
        name = f"{meeting.url} ({meeting.committee} {meeting.start:%d.%m.%Y})"
        try:
            read = self.read_meeting(fetcher, meeting)
        except (FetchError, ParseError) as exc:
            return exc if isinstance(exc, FetchError) else FetchError(f"{name}: {exc}")
        if not read.parsed.items:
            now = self.context.now or datetime.now(timezone.utc)
            if meeting.start > now:  # a meeting announced before its agenda is out: next poll
                return None
            return FetchError(f"{name}: no agenda items found on the page – has the site's layout changed?")
        return RawDocument(
            key=fit(meeting.key),
            name=name,
            content=read.content,
            fetched_at=read.fetched_at,
            url=meeting.url,
            published_at=read.published_at,
            parsed=read.parsed,
        )

    @abstractmethod
    def list_meetings(self, fetcher: Fetcher) -> Iterable[SiteMeeting]:
        """Every meeting the site lists from :meth:`since` on (more is fine: it is filtered)."""

    @abstractmethod
    def read_meeting(self, fetcher: Fetcher, meeting: SiteMeeting) -> MeetingRead:
        """One meeting's items; :class:`FetchError` or :class:`ParseError` when it cannot be read."""


def remembered(store: Store, source: str) -> dict[str, str]:
    """Meetings read and stored before, with the signature they had then.

    A meeting counts only when the bytes yielded for it are in the store: if a run stopped
    between fetching and storing, the next run fetches the meeting again.
    """
    with store.session() as session:
        state = session.exec(select(SourceState).where(SourceState.name == source)).first()
        if state is None:
            return {}
        rows = session.exec(select(PortalMeeting).where(PortalMeeting.source == source)).all()
        stored = set(session.exec(select(Document.key, Document.raw_sha256).where(Document.source_id == state.id)))
    return {row.meeting_id: row.released for row in rows if (row.meeting_id, row.sha256) in stored}


def remember(store: Store, source: str, key: str, signature: str, document: RawDocument) -> None:
    digest = hashlib.sha256(document.content).hexdigest()
    with store.session() as session:
        row = session.get(PortalMeeting, (source, key))
        if row is None:
            row = PortalMeeting(source=source, meeting_id=key, released="", sha256="")
        row.released, row.sha256, row.fetched_at = fit(signature), digest, document.fetched_at
        session.add(row)


def settled_signature(meeting: SiteMeeting, now: datetime) -> str:
    """For sites whose listing shows nothing that changes when a page is amended: a meeting is
    read at every poll (conditional GET) while recent, then once more, then left alone."""
    return meeting.key if meeting.start < local(now) - SETTLED else ""


def fit(text: str) -> str:
    """A key or signature as stored (at most 100 characters): a longer one by its hash."""
    return text if len(text) <= MAX_KEY else hashlib.sha256(text.encode()).hexdigest()


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def title_of(text: str) -> str:
    return collapse(text) or "(uden titel)"
