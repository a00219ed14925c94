"""Attachments (bilag): fetch their PDFs, keep the bytes, read the text, and tell what changed.

For a source with ``attachments = true`` the pipeline hands each meeting it is about to store
to an :class:`AttachmentReader`, which fetches every attachment the site has a PDF of through
the run's fetcher (the same pacing, retries, time budget and cache as every request), keeps the
bytes in the raw archive and the text in ``attachment_content`` under their SHA-256, and
remembers each download in ``attachment_fetch`` by the site's id of the attachment (its url when
the site has no id: a signed url changes at every request, an id does not). An attachment is
downloaded again only when its meeting is re-published (the document's publication time
changes); one that failed is tried again when its meeting is read again.

An attachment that fails (an HTTP error, too large, not a PDF, unreadable) never fails its item:
the reader returns a warning naming the item and the attachment, and the item is stored with
the attachment listed but without its text.

The version's ``attachments`` JSON then carries each attachment's ``key`` and ``sha256`` (and
``error`` when it has no text); :func:`attachment_news` compares two such lists: an attachment
added, or one whose bytes changed, makes a ``changed`` event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import lxml.html
from lxml.etree import ParserError
from sqlmodel import Session, col, select

from bot.errors import ExtractError, FetchError, Stopping
from bot.fetch import Fetcher, Response
from bot.parse.minutes import Attachment, ParsedItem, ParsedMeeting
from bot.parse.pdf import read_pdf
from bot.store import Store, utcnow
from bot.store.coordination import insert_ignoring
from bot.store.models import AttachmentContent, AttachmentFetch

_MB = 2**20
_MAX_KEY = 2000  # AttachmentFetch.key
_IN_LIST = 5000  # hashes per query, far below every database's limit on bound parameters


def identity(attachment: Attachment) -> str:
    """What identifies an attachment across readings: the site's id, else its url, else its name."""
    return attachment.key or attachment.url or attachment.name


@dataclass(frozen=True)
class Bilag:
    """One attachment as fetched: the hash of its bytes (None: not downloaded) and why it has no
    text (None: its text was read)."""

    key: str
    sha256: str | None
    error: str | None = None


@dataclass(frozen=True)
class Caps:
    max_mb: float  # attachment_max_mb
    max_pages: int  # attachment_max_pages

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * _MB)


@dataclass
class _Download:
    """What one download gave: the PDF's bytes, or why there are none."""

    content: bytes | None = None
    error: str | None = None


class AttachmentReader:
    """Fetches and reads the attachments of one source's meetings, during its poll."""

    def __init__(
        self,
        fetcher: Fetcher,
        store: Store,
        source: str,
        where: Callable[[Attachment], str | None],
        caps: Caps,
    ) -> None:
        self.fetcher, self.store, self.source, self.where, self.caps = fetcher, store, source, where, caps
        # Called after each download: renews the worker's claim on the poll (one meeting's
        # attachments may take longer than the claim lasts).
        self.keep_claim: Callable[[], object] = lambda: None

    def read(
        self, meeting: ParsedMeeting, published_at: datetime | None, digest: str
    ) -> tuple[dict[str, Bilag], list[str]]:
        """Every attachment of the meeting the site has a PDF of, by :func:`identity`; and the
        warnings about those that failed. ``published_at`` is when the source says the document
        was published (None: it cannot tell); ``digest`` is the hash of the document's bytes."""
        stamp = published_at.isoformat() if published_at is not None else digest
        wanted = {
            identity(attachment): (item, attachment, url)
            for item in meeting.items
            for attachment in item.attachments
            if (url := self.where(attachment)) is not None
        }
        known = self._known([_row_key(key) for key in wanted])
        found: dict[str, Bilag] = {}
        warnings: list[str] = []
        for key, (item, attachment, url) in wanted.items():
            row = known.get(_row_key(key))
            if row is not None and _still_good(row, stamp, published_at is not None):
                found[key] = Bilag(key, row.sha256, row.error)
                continue
            bilag, notes = self._fetch(key, attachment, url)
            self.keep_claim()
            where = f"{meeting.committee} {meeting.date:%d.%m.%Y}, item {item.number} ({item.title})"
            what = f"{where}: attachment {attachment.name!r} ({url})"
            if bilag.sha256 is None and row is not None and row.sha256 is not None:
                # Not tried again until the meeting is read again; meanwhile the copy read before stands
                warnings.append(f"{what}: {bilag.error}; the copy downloaded before is kept")
                found[key] = Bilag(key, row.sha256, row.error)
                continue
            self._remember(key, stamp, bilag)
            found[key] = bilag
            if bilag.error is not None:
                warnings.append(f"{what}: {bilag.error}; the item is stored without the attachment's text")
            warnings += [f"{what}: {note}" for note in notes]
        return found, warnings

    def _known(self, keys: Sequence[str]) -> dict[str, AttachmentFetch]:
        found: dict[str, AttachmentFetch] = {}
        with self.store.session() as session:
            for start in range(0, len(keys), _IN_LIST):
                query = select(AttachmentFetch).where(
                    AttachmentFetch.source == self.source, col(AttachmentFetch.key).in_(keys[start : start + _IN_LIST])
                )
                found.update((row.key, row) for row in session.exec(query))
        return found

    def _fetch(self, key: str, attachment: Attachment, url: str) -> tuple[Bilag, list[str]]:
        download = self._download(url)
        if download.content is None:
            return Bilag(key, None, download.error), []
        digest = self.store.archive(download.content)
        with self.store.session() as session:
            stored = session.get(AttachmentContent, digest)
        if stored is not None:  # the same file, attached elsewhere or before: read once
            return Bilag(key, digest, stored.error), []
        content, notes = self._read_pdf(digest, download.content, attachment.name)
        with self.store.session() as session:  # another worker may have read the same file meanwhile
            insert_ignoring(session, AttachmentContent, [content.model_dump()], ["sha256"])
        return Bilag(key, digest, content.error), notes

    def _download(self, url: str) -> _Download:
        """The PDF at ``url``; an HTML page (FirstAgenda's viewer) is followed to the PDF its
        iframe shows, once."""
        try:
            response = self.fetcher.get(url, max_bytes=self.caps.max_bytes)
            if not is_pdf(response.content):
                inner = embedded_url(response)
                if inner is None:
                    return _Download(error=f"not a PDF ({_kind(response)})")
                response = self.fetcher.get(inner, max_bytes=self.caps.max_bytes)
                if not is_pdf(response.content):
                    return _Download(error=f"the page's document is not a PDF ({_kind(response)})")
        except Stopping:
            raise  # out of time or stopping: the document is read again, with this attachment, next poll
        except FetchError as exc:
            reason = str(exc).removeprefix(f"{url}: ")  # the warning names the url already
            if "larger than the limit" in reason:
                reason += f" (attachment_max_mb = {self.caps.max_mb:g})"
            return _Download(error=f"not downloaded: {reason}")
        return _Download(content=response.content)

    def _read_pdf(self, digest: str, raw: bytes, name: str) -> tuple[AttachmentContent, list[str]]:
        content = AttachmentContent(sha256=digest, size=len(raw), created_at=utcnow())
        label = f"attachment {name!r}"  # the reader's messages start with it; ours name it already
        try:
            read = read_pdf(raw, label, max_pages=self.caps.max_pages)
        except ExtractError as exc:
            content.error = f"no text could be read ({str(exc).removeprefix(f'{label}: ')})"
            return content, []
        except Exception as exc:  # noqa: BLE001 - a PDF that trips the reader must not fail its item
            content.error = f"no text could be read ({type(exc).__name__}: {exc})"
            return content, []
        content.text, content.pages = read.text, read.pages
        notes = [warning.removeprefix(f"{label}: ") for warning in read.warnings]
        if read.pages > self.caps.max_pages and not any(str(self.caps.max_pages) in note for note in notes):
            notes.append(f"only the first {self.caps.max_pages} of its {read.pages} pages are read")
        return content, [
            f"{note} (attachment_max_pages = {self.caps.max_pages})" if "first" in note else note for note in notes
        ]

    def _remember(self, key: str, stamp: str, bilag: Bilag) -> None:
        """Each download in its own transaction: a poll cut short keeps what it fetched."""
        with self.store.session() as session:
            row = session.get(AttachmentFetch, (self.source, _row_key(key)))
            if row is None:
                row = AttachmentFetch(source=self.source, key=_row_key(key), stamp=stamp)
            row.stamp, row.sha256, row.error, row.fetched_at = stamp, bilag.sha256, bilag.error, utcnow()
            session.add(row)


def _row_key(key: str) -> str:
    """The key as ``attachment_fetch`` holds it: a url longer than its column stands as its hash."""
    return key if len(key) <= _MAX_KEY else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _still_good(row: AttachmentFetch, stamp: str, published: bool) -> bool:
    """Whether a stored download stands: a downloaded file until its meeting is re-published (for
    ever where the source cannot tell); a failed download until the document is read again."""
    if row.sha256 is not None and not published:
        return True
    return row.stamp == stamp


def is_pdf(content: bytes) -> bool:
    return b"%PDF-" in content[:1024]


def embedded_url(response: Response) -> str | None:
    """The document an HTML page shows in an iframe, embed or object, as an absolute URL."""
    if "html" not in response.content_type.casefold() and not response.content.lstrip()[:1] == b"<":
        return None
    try:
        page = lxml.html.fromstring(response.content)
    except (ParserError, ValueError):
        return None
    found = page.xpath("//iframe/@src | //embed/@src | //object/@data")
    target = next((str(value).strip() for value in found if str(value).strip()), None)
    return urljoin(response.final_url, target) if target else None


def _kind(response: Response) -> str:
    return response.content_type.split(";")[0].strip() or "no content type"


# --- what the store keeps of an item's attachments ------------------------------------------------


def attachment_entries(item: ParsedItem, fetched: Mapping[str, Bilag] | None) -> list[dict[str, Any]]:
    """The version's ``attachments`` JSON: ``{name, url}``, and where attachments are fetched
    also ``key`` and, for those the site has a PDF of, ``sha256`` (and ``error``)."""
    if fetched is None:
        return [attachment.as_json() for attachment in item.attachments]
    entries: list[dict[str, Any]] = []
    for attachment in item.attachments:
        key = identity(attachment)
        entry: dict[str, Any] = {**attachment.as_json(), "key": key}
        bilag = fetched.get(key)
        if bilag is not None:
            entry["sha256"] = bilag.sha256
            if bilag.error is not None:
                entry["error"] = bilag.error
        entries.append(entry)
    return entries


def attachment_news(old: Iterable[Any], new: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attachments of ``new`` that ``old`` lacks (``added``) or had with other bytes
    (``changed``), as ``{name, url, change}``. Entries are paired by key, then url, then name
    (versions stored before attachments were fetched have no key; the oldest, only a name)."""
    earlier: dict[tuple[str, Any], dict[str, Any]] = {}
    for stored in old:
        entry = {"name": stored, "url": None} if isinstance(stored, str) else dict(stored)
        # An entry with a key is that attachment only: another one of the same name is another.
        for field in ("key",) if entry.get("key") else ("url", "name"):
            if entry.get(field):
                earlier.setdefault((field, entry[field]), entry)
    news = []
    for entry in new:
        pairs = ((field, entry.get(field)) for field in ("key", "url", "name"))
        before = next((earlier[pair] for pair in pairs if pair in earlier), None)
        if before is None:
            change = "added"
        elif before.get("sha256") and entry.get("sha256") and before["sha256"] != entry["sha256"]:
            change = "changed"
        else:
            continue
        news.append({"name": entry["name"], "url": entry.get("url"), "change": change})
    return news


# --- reading the texts back, for matching -----------------------------------------------------------


def load_texts(session: Session, entries: Iterable[Iterable[Any]]) -> dict[str, str]:
    """The text of every attachment named in these versions' ``attachments`` JSON, by hash."""
    wanted = sorted(
        {e["sha256"] for some in entries for e in some if isinstance(e, dict) and isinstance(e.get("sha256"), str)}
    )
    texts: dict[str, str] = {}
    for start in range(0, len(wanted), _IN_LIST):
        query = select(AttachmentContent.sha256, AttachmentContent.text).where(
            col(AttachmentContent.sha256).in_(wanted[start : start + _IN_LIST]),
            col(AttachmentContent.text).is_not(None),
        )
        texts.update((sha, text) for sha, text in session.exec(query) if text)
    return texts
