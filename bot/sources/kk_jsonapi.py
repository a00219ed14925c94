"""``type = "kk-jsonapi"``: København's own site ``www.kk.dk`` (Drupal), read through its JSON:API.

``GET /jsonapi/node/agenda_element`` with two date filters on ``agenda_meeting_date`` (``>=``
the window's first day; ``<`` the first day of the month after the day 30 days ahead, as
agendas are published before the meeting and the URL then stays the same for weeks), the
fields ``title,path,agenda_meeting_date,agenda_element_serial_no``, ``sort=agenda_meeting_date``
and ``page[limit]=50`` lists every agenda item of every committee, local committees
(lokaludvalg) included, 50 per page; ``links.next.href`` leads on. Each item has its own page
at its ``path.alias``, e.g.
``/dagsordener-og-referater/Borgerrepræsentationen/møde-22042021/referat/punkt-10``: the item's
text with its sections as headings and its attachments as links.

Quirks handled:

- ``links.next.href`` names the real host: only its path and query are used, on ``url``.
- The committee is the second segment of ``path.alias``, written as the site names it
  (``Borgerrepræsentationen``, percent-encoded or not); a meeting is a committee and a day.
- The same item appears under a ``dagsorden`` and a ``referat`` alias once minutes exist: the
  two are merged by item number and the ``referat`` page is read. A meeting with at least one
  ``referat`` alias is minutes, else an agenda; both share one key (committee and day), so the
  minutes replace the agenda as a new version.
- The signature is the meeting's sorted set of aliases: a meeting is read again when an item or
  its minutes appear, not when a page's text changes without a new alias (the limit of this).
- An item page's ``Mødedato: 22.04.2021, kl. 17:30`` gives the meeting's time, ``Mødested:`` its
  place; the text after the page's ``<h1>`` is the item's body; links to documents (``.pdf``,
  ``.docx``…) are its attachments.

The archived bytes of a meeting are its rows of the listing (as JSON) and each item page, joined
by :func:`~bot.sources.site.bundle`. The meeting's link is its alias without the item segment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import ClassVar
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

import lxml.html
from lxml import etree
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import BotError, ExtractError, ParseError
from bot.fetch import Fetcher
from bot.parse.extract import clean_text, html_to_text
from bot.parse.minutes import Attachment, DocKind, ParsedMeeting, collapse, committee_name
from bot.parse.parser import build_item
from bot.parse.sections import time_in
from bot.source_config import KkJsonApiSource as KkJsonApiConfig
from bot.sources.base import Probe, SourceContext
from bot.sources.site import ZONE, MeetingRead, SiteMeeting, SiteSource, bundle, count, local, title_of

LISTING_PATH = "/jsonapi/node/agenda_element"
FIELDS = "title,path,agenda_meeting_date,agenda_element_serial_no"
PAGE_SIZE = 50
MAX_PAGES = 1000  # 50,000 items: a next link that never ends is a broken site, not a backfill
AHEAD = timedelta(days=30)

_PUNKT = re.compile(r"punkt-(\d{1,9})$", re.IGNORECASE)  # longer numbers would not fit the store
_MEETING_DAY = re.compile(r"Mødedato\s*:?\s*([^\n]+)", re.IGNORECASE)
_PLACE = re.compile(r"^\s*Mødested\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_META_LINE = re.compile(r"^\s*(?:Mødedato|Mødested)\s*:|^\s*Se alle bilag\s*$", re.IGNORECASE)
_DOCUMENT = re.compile(r"\.(?:pdf|docx?|xlsx?|pptx?|odt)$", re.IGNORECASE)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Path(_Loose):
    alias: str | None = None


class _Attributes(_Loose):
    title: str | None = None
    path: _Path | None = None
    agenda_meeting_date: str | None = None
    agenda_element_serial_no: int | str | None = None


class _Node(_Loose):
    id: str
    attributes: _Attributes


class _Href(_Loose):
    href: str


class _Links(_Loose):
    next: _Href | None = None


class _Page(_Loose):
    data: list[_Node]
    links: _Links | None = None


@dataclass(frozen=True)
class Element:
    """One row of the listing: one item under one alias."""

    id: str
    title: str
    alias: str
    committee: str
    start: datetime
    number: int | None
    minutes: bool  # a ``referat`` alias
    row: dict[str, object]  # as served, for the archive


@dataclass
class Meeting:
    committee: str
    start: datetime
    listing: str  # the first listing URL: where the rows came from
    elements: list[Element] = field(default_factory=list)

    @property
    def minutes(self) -> bool:
        return any(e.minutes for e in self.elements)

    def items(self) -> list[Element]:
        """One element per item number, its ``referat`` alias before its ``dagsorden`` one."""
        chosen: dict[int | str, Element] = {}
        for element in sorted(self.elements, key=lambda e: (not e.minutes, e.alias)):
            chosen.setdefault(element.number if element.number is not None else element.alias, element)
        return sorted(chosen.values(), key=lambda e: (e.number is None, e.number or 0, e.alias))


def listing_url(base: str, first: date, last: date) -> str:
    """The first page of the items from ``first`` to ``last``; the end is the first day of the next
    month, so the URL stays the same for weeks and conditional GETs can answer 304."""
    before = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    query = {
        "filter[a][condition][path]": "agenda_meeting_date",
        "filter[a][condition][operator]": ">=",
        "filter[a][condition][value]": first.isoformat(),
        "filter[b][condition][path]": "agenda_meeting_date",
        "filter[b][condition][operator]": "<",
        "filter[b][condition][value]": before.isoformat(),
        "fields[node--agenda_element]": FIELDS,
        "sort": "agenda_meeting_date",
        "page[limit]": str(PAGE_SIZE),
    }
    return f"{base}{LISTING_PATH}?{urlencode(query)}"


def rebase(href: str, base: str) -> str:
    """A link the site wrote for its own host, on ``base``: path and query kept."""
    parts = urlsplit(href)
    return base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def page_link(alias: str, base: str) -> str:
    return base + quote(unquote(alias))


def parse_page(content: bytes, url: str) -> tuple[list[Element], str | None]:
    """One page of the listing → its rows (those with an alias and a date) and the next page's link."""
    try:
        page = _Page.model_validate_json(content)
        raw = json.loads(content)["data"]
    except (ValidationError, ValueError, KeyError, TypeError):
        raise ParseError(f"{url}: not a JSON:API list of agenda elements (no 'data' list)") from None
    elements = [e for node, row in zip(page.data, raw, strict=False) if (e := _element(node, row)) is not None]
    following = page.links.next.href if page.links and page.links.next else None
    return elements, following


def _element(node: _Node, row: object) -> Element | None:
    alias = unquote((node.attributes.path.alias if node.attributes.path else None) or "").strip()
    segments = [s for s in alias.split("/") if s]
    start = _moment(node.attributes.agenda_meeting_date)
    committee = committee_name(clean_text(segments[1])) if len(segments) > 1 else ""
    if start is None or not committee:
        return None
    serial = str(node.attributes.agenda_element_serial_no or "").strip()
    found = _PUNKT.search(segments[-1])
    number = int(serial) if serial.isdigit() and len(serial) <= 9 else int(found[1]) if found else None
    kinds = {s.casefold() for i, s in enumerate(segments) if i != 1}
    title = collapse(clean_text(node.attributes.title or ""))
    kept = row if isinstance(row, dict) else {}
    return Element(node.id, title, alias, committee, start, number, "referat" in kinds, kept)


def _moment(text: str | None) -> datetime | None:
    """``2026-10-01``, or a date and time with its offset; local time."""
    try:
        moment = datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return local(moment)


def meetings_of(elements: Iterable[Element], listing: str) -> dict[str, Meeting]:
    """The rows grouped by committee and day, keyed by both."""
    meetings: dict[str, Meeting] = {}
    for element in elements:
        key = f"{element.committee}/{element.start.date().isoformat()}"
        meeting = meetings.setdefault(key, Meeting(element.committee, element.start, listing))
        meeting.start = min(meeting.start, element.start)
        if all(e.alias != element.alias for e in meeting.elements):
            meeting.elements.append(element)
    return meetings


def site_meeting(key: str, meeting: Meeting, base: str) -> SiteMeeting:
    kind: DocKind = "referat" if meeting.minutes else "dagsorden"
    first = next(e for e in meeting.items() if e.minutes == meeting.minutes)
    signature = "\n".join(sorted(e.alias for e in meeting.elements))
    return SiteMeeting(
        key, meeting.committee, meeting.start, kind, page_link(first.alias.rsplit("/", 1)[0], base), signature
    )


# --- an item's page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemPage:
    body: str
    attachments: tuple[Attachment, ...]
    start: time | None
    place: str | None


def parse_item_page(content: bytes, url: str) -> ItemPage:
    """An item's page → its text after the ``<h1>``, its document links, the meeting's time and place."""
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        root = lxml.html.document_fromstring(content.decode("utf-8", "replace").encode(), parser=parser)
    except (etree.ParserError, ValueError):
        root = None
    found = (root.xpath("//article") or root.xpath("//main")) if root is not None else []
    heading = found[0].xpath(".//h1") if found else []
    if not heading:
        raise ParseError(f"{url}: no <article> or <main> with the item's <h1> – has the site's layout changed?")
    container, title = found[0], collapse(heading[0].text_content())
    try:
        text = html_to_text(lxml.html.tostring(container, encoding="unicode"))
    except ExtractError as exc:
        raise ParseError(f"{url}: {exc}") from None
    lines = text.split("\n")
    marks = [i for i, line in enumerate(lines) if line.startswith("# ") and collapse(line[2:]) == title]
    body = [line for line in lines[marks[0] + 1 if marks else 0 :] if not _META_LINE.match(line)]
    day, place = _MEETING_DAY.search(text), _PLACE.search(text)
    files: dict[str, Attachment] = {}
    for link in container.iter("a"):
        href = (link.get("href") or "").strip()
        if _DOCUMENT.search(urlsplit(href).path):
            target = urljoin(url, href)
            files.setdefault(target, Attachment(collapse(link.text_content()) or href.rsplit("/", 1)[-1], target))
    return ItemPage(
        "\n".join(body).strip(),
        tuple(files.values()),
        time_in(day[1]) if day else None,
        collapse(place[1]) if place else None,
    )


# --- the source ----------------------------------------------------------------------------------


class KkJsonApi(SiteSource):
    """København's agenda items (Drupal JSON:API), grouped into meetings, each item read from its page."""

    type = "kk-jsonapi"
    system: ClassVar[str] = "kk.dk (Drupal JSON:API)"
    config: KkJsonApiConfig

    def __init__(self, config: KkJsonApiConfig, context: SourceContext | None = None) -> None:
        super().__init__(config, context)
        self._meetings: dict[str, Meeting] = {}

    def list_meetings(self, fetcher: Fetcher) -> Iterable[SiteMeeting]:
        today = local(self.context.now or datetime.now(ZONE)).date()
        first = listing_url(self.config.url, self.since(), today + AHEAD)
        elements = [e for page in self._pages(fetcher, first) for e in page]
        self._meetings = meetings_of(elements, first)
        return [site_meeting(key, meeting, self.config.url) for key, meeting in self._meetings.items()]

    def _pages(self, fetcher: Fetcher, url: str | None) -> Iterator[list[Element]]:
        seen: set[str] = set()
        while url is not None and url not in seen:
            if len(seen) >= MAX_PAGES:
                self.warnings.append(f"{url}: more than {MAX_PAGES} pages of agenda items; the rest is left out")
                return
            seen.add(url)
            elements, following = parse_page(fetcher.get(url, conditional=True, keep_body=True).content, url)
            yield elements
            url = rebase(urljoin(url, following), self.config.url) if following else None

    def read_meeting(self, fetcher: Fetcher, meeting: SiteMeeting) -> MeetingRead:
        found = self._meetings[meeting.key]
        rows = sorted((e.row for e in found.elements), key=lambda r: json.dumps(r, sort_keys=True))
        pages = [(found.listing, json.dumps(rows, ensure_ascii=False, sort_keys=True).encode())]
        items, start, place, fetched_at = [], None, None, None
        for element in found.items():
            url = page_link(element.alias, self.config.url)
            response = fetcher.get(url, conditional=True, keep_body=True)
            page = parse_item_page(response.content, url)
            pages.append((url, response.content))
            start, place, fetched_at = start or page.start, place or page.place, response.fetched_at
            title = title_of(element.title)
            item = build_item(
                element.number, title, None, page.body, found.committee, found.start.date(), element.id, url
            )
            items.append(replace(item, attachments=page.attachments) if page.attachments else item)
        listed = found.start.time() if found.start.time() != time(0) else None
        parsed = ParsedMeeting(
            kind=meeting.kind,
            committee=found.committee,
            date=found.start.date(),
            start=listed or start,
            place=place,
            items=tuple(items),
            url=meeting.url,
        )
        return MeetingRead(bundle(pages), parsed, fetched_at or datetime.now(ZONE))

    @classmethod
    def probe(cls, fetcher: Fetcher, base: str) -> Probe:
        base = (base.strip() if "://" in base else f"https://{base.strip()}").rstrip("/")
        today = datetime.now(ZONE).date()
        url = listing_url(base, today - timedelta(days=30), today + AHEAD)
        try:
            elements, following = parse_page(fetcher.get(url).content, url)
        except BotError as exc:
            return Probe(False, f"{base} does not answer like København's Drupal JSON:API: {exc}")
        if not elements and following is None:
            return Probe(False, f"{url} lists no agenda elements with an alias and a meeting date")
        committees = {e.committee for e in elements}
        more = " (first page)" if following else ""
        return Probe(
            True,
            f"{base} answers like København's Drupal JSON:API: {count(len(elements), 'agenda item')} of "
            f"{count(len(committees), 'committee')}{more} from {today - timedelta(days=30):%d.%m.%Y}",
        )
