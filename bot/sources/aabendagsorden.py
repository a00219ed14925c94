"""``type = "aabendagsorden"``: an Åben Dagsorden site (Glostrup ``dagsorden.glostrup.dk``,
Syddjurs ``aabendagsorden.syddjurs.dk``).

``GET /rest/meeting/search?query=&fromDate=&toDate=`` lists the meetings of a period as JSON
(``{numberOfResults, meetings: [{meetingId, date, committeeName, committeeGroupName, blocked,
agendaItems}]}``), at most 50 per answer. The window, from ``since`` to 30 days ahead (agendas
are published before the meeting), is asked for in 10-day windows on a grid that starts at
``since``, so a poll asks for the same URLs as the last one and conditional GETs answer 304;
a full answer (50 rows, or fewer rows than ``numberOfResults``) is halved and asked again, down
to one day. ``GET /fragments/meeting/{id}/view`` is the meeting's server-rendered HTML: every
item starts at an element of class ``agenda-item-title`` ("Punkt 3 Budget 2027"), and its text
up to the next title carries the sections as headings (``<h4>Resumé</h4>``, ``Beslutning``).

Quirks handled:

- Dates: Glostrup writes ``YYYY-MM-DD``, Syddjurs ``DD/MM/YYYY``, both in the query and in the
  answer's ``date``. ``date_format = "auto"`` asks in ISO first; a site that refuses it (400,
  an answer that is not a search answer) or answers rows dated ``DD/MM/YYYY`` is asked in
  ``DD/MM/YYYY``. A window without meetings in either form (an ISO site answers 0 rows where a
  ``DD/MM/YYYY`` site ignores what it cannot read) leaves the question open for the next window.
  ``date`` is read in both forms whatever the setting.
- ``blocked`` meetings are not public and are left out, as are ``skip_committees`` (a part of
  the committee or group name, e.g. Glostrup's ``Testudvalget``).
- The committee is ``committeeGroupName`` (the committee as the site groups it), else
  ``committeeName``.
- Agenda or minutes: the site shows both at ``/meeting/{id}`` (one key: the minutes replace the
  agenda as a new version); the view counts as minutes when an item carries this meeting's
  decision (``Beslutning``) or the page's header says ``Referat``.
- The search row has nothing that changes when minutes are published (``agendaItems`` is a
  peek at a few titles), so meetings have no signature: each view is fetched at every poll with
  a conditional GET, and identical bytes count as unchanged.

Links: the meeting is ``/meeting/{id}``; an item links there with ``#<id>`` when its title or the
element wrapping only that item has an ``id``. Attachments are the download buttons
(``data-id``/``data-name`` → ``/meeting/files/{id}/{name}``) and ``/files/`` links of an item.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import ClassVar, Literal
from urllib.parse import quote, urlencode, urljoin

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import ExtractError, FetchError, ParseError
from bot.extract import clean_text, html_to_text
from bot.fetch import Fetcher, HTTPStatusError
from bot.minutes import Attachment, DocKind, ParsedItem, ParsedMeeting, collapse
from bot.parse import build_item
from bot.sections import time_in
from bot.source_config import AabenDagsordenSource as AabenDagsordenConfig
from bot.sources.base import Probe, SourceContext
from bot.sources.site import ZONE, MeetingRead, SiteMeeting, SiteSource, bundle, count, local, title_of

SEARCH_PATH = "/rest/meeting/search"
VIEW_PATH = "/fragments/meeting/{}/view"
MEETING_PATH = "/meeting/{}"
FILE_PATH = "/meeting/files/{}/{}"
WINDOW_DAYS = 10
AHEAD = timedelta(days=30)
MAX_ROWS = 50  # the search answers at most this many meetings

DateFormat = Literal["YYYY-MM-DD", "DD/MM/YYYY"]
ISO: DateFormat = "YYYY-MM-DD"
DMY: DateFormat = "DD/MM/YYYY"
_REFUSED = (400, 422)  # how a site says it cannot read the dates it was given

_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2}))?")
_DMY_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[T ,]+(?:kl\.?\s*)?(\d{1,2})[:.](\d{2}))?")
_PUNKT = re.compile(r"^(?:Punkt|Pkt\.?)\s*(\d+)\s*[.:\-–]?\s*(.*)$", re.IGNORECASE)
_CASE_LINE = re.compile(r"^\s*(?:Sagsnr|Sags\s*nr|Sagsnummer|J\.?\s*nr)\.?\s*:?\s*(\S.*?)\s*$", re.IGNORECASE)
_PLACE_LINE = re.compile(r"^\s*(?:Mødested|Sted)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_MARK = "AABENDAGSORDEN-PUNKT-{}"
_MARK_LINE = re.compile(r"^#+ AABENDAGSORDEN-PUNKT-(\d+)\s*$", re.MULTILINE)
_TITLES = CSSSelector(".agenda-item-title")


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Row(_Loose):
    meetingId: int | str
    date: str | None = None
    committeeName: str | None = None
    committeeGroupName: str | None = None
    blocked: bool | None = False


class _Answer(_Loose):
    numberOfResults: int | None = None
    meetings: list[_Row]


@dataclass(frozen=True)
class Search:
    """One answer of the meeting search, as asked for."""

    url: str
    rows: tuple[_Row, ...]
    total: int
    raw: Mapping[str, object]  # each row as served, by meeting id: kept with the meeting's view

    @property
    def full(self) -> bool:
        return len(self.rows) >= MAX_ROWS or self.total > len(self.rows)

    @property
    def date_format(self) -> DateFormat | None:
        """How the rows write their dates; None without rows that show it."""
        for row in self.rows:
            if row.date and _ISO_DATE.match(row.date):
                return ISO
            if row.date and _DMY_DATE.match(row.date):
                return DMY
        return None


def query_date(day: date, fmt: DateFormat) -> str:
    return day.isoformat() if fmt == ISO else day.strftime("%d/%m/%Y")


def search_url(base: str, start: date, end: date, fmt: DateFormat) -> str:
    query = {"query": "", "fromDate": query_date(start, fmt), "toDate": query_date(end, fmt)}
    return f"{base}{SEARCH_PATH}?{urlencode(query)}"


def parse_search(content: bytes, url: str) -> Search:
    try:
        answer = _Answer.model_validate_json(content)
        raw = json.loads(content)
    except (ValidationError, ValueError):
        raise ParseError(f"{url}: not an Åben Dagsorden meeting search (no 'meetings' list)") from None
    rows = {str(row.get("meetingId")): row for row in raw.get("meetings") or [] if isinstance(row, dict)}
    total = answer.numberOfResults if answer.numberOfResults is not None else len(answer.meetings)
    return Search(url, tuple(answer.meetings), total, rows)


def meeting_start(text: str | None) -> datetime | None:
    """``2026-11-18``, ``2026-11-18T16:30:00``, ``18/11/2026`` or ``18/11/2026 16:30``, local time."""
    if not text:
        return None
    iso, dmy = _ISO_DATE.match(text), _DMY_DATE.match(text)
    try:
        if iso:
            day = date(int(iso[1]), int(iso[2]), int(iso[3]))
            clock = time(int(iso[4]), int(iso[5])) if iso[4] else time(0)
        elif dmy:
            day = date(int(dmy[3]), int(dmy[2]), int(dmy[1]))
            clock = time(int(dmy[4]), int(dmy[5])) if dmy[4] else time(0)
        else:
            return None
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=ZONE)


def windows(since: date, until: date, days: int = WINDOW_DAYS) -> Iterator[tuple[date, date]]:
    """Periods of ``days`` days (both ends included) from ``since`` until ``until`` is covered."""
    start = since
    while start <= until:
        yield start, start + timedelta(days=days - 1)
        start += timedelta(days=days)


def listed_meeting(row: _Row, base: str) -> SiteMeeting | None:
    start = meeting_start(row.date)
    committee = collapse(clean_text(row.committeeGroupName or row.committeeName or ""))
    if start is None or not committee:
        return None
    key = str(row.meetingId)
    return SiteMeeting(key, committee, start, "dagsorden", base + MEETING_PATH.format(quote(key, safe="")))


def skipped(row: _Row, skip: tuple[str, ...]) -> bool:
    names = [collapse(name).casefold() for name in (row.committeeName, row.committeeGroupName) if name]
    return bool(row.blocked) or any(s.casefold() in name for s in skip for name in names)


# --- the meeting view ------------------------------------------------------------------------------


def html_root(content: bytes) -> lxml.html.HtmlElement:
    """A page or fragment as a tree, read as UTF-8: a fragment has no ``<meta charset>`` to go by."""
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        return lxml.html.document_fromstring(content.decode("utf-8", "replace").encode(), parser=parser)
    except (etree.ParserError, ValueError):  # nothing but whitespace: a page without items
        return lxml.html.document_fromstring(b"<html></html>")


def parse_view(content: bytes, meeting: SiteMeeting, base: str, name: str) -> ParsedMeeting:
    """``/fragments/meeting/{id}/view`` → the meeting with its items (none when no title is found)."""
    root = html_root(content)
    titles = _TITLES(root)
    heads = [collapse(clean_text(title.text_content())) for title in titles]
    anchors = _anchors(titles)
    files = _attachments(root, titles, base)
    for index, title in enumerate(titles):  # the text is split at these marks below
        mark = etree.Element("h1")
        mark.text, mark.tail = _MARK.format(index), title.tail
        parent = title.getparent()
        if parent is not None:
            parent.replace(title, mark)
    try:
        text = html_to_text(lxml.html.tostring(root, encoding="unicode"))
    except ExtractError as exc:
        raise ParseError(f"{name}: {exc}") from None
    parts = _MARK_LINE.split(text)
    header, bodies = parts[0], dict(zip((int(n) for n in parts[1::2]), parts[2::2], strict=False))
    day = meeting.start.date()
    items = [_item(heads[i], bodies.get(i, ""), i, anchors[i], files[i], meeting, base) for i in range(len(titles))]
    place = _PLACE_LINE.search(header)
    start = meeting.start.time() if meeting.start.time() != time(0) else time_in(header)
    return ParsedMeeting(
        kind=_kind(items, header),
        committee=meeting.committee,
        date=day,
        start=start,
        place=collapse(place[1]) if place else None,
        items=tuple(items),
        url=meeting.url,
    )


def _item(
    head: str, body: str, index: int, anchor: str | None, files: list[Attachment], meeting: SiteMeeting, base: str
) -> ParsedItem:
    found = _PUNKT.match(head)
    # Without "Punkt N" the position stands in: identity needs a number, and the order is the site's.
    number, title = (int(found[1]), found[2]) if found else (index + 1, head)
    lines = body.split("\n")
    case = None
    for position, line in enumerate(lines[:6]):  # the case number stands right under the title
        if matched := _CASE_LINE.match(line):
            case, lines = matched[1], lines[:position] + lines[position + 1 :]
            break
    digits = re.search(r"\d+$", anchor or "")
    item = build_item(
        number,
        title_of(title),
        case,
        "\n".join(lines),
        meeting.committee,
        meeting.start.date(),
        portal_id=digits[0] if digits else anchor,
        url=meeting.url + (f"#{anchor}" if anchor else ""),
    )
    return replace(item, attachments=tuple(files)) if files else item


def _kind(items: list[ParsedItem], header: str) -> DocKind:
    if any(item.decision is not None for item in items):
        return "referat"
    starts = (re.sub(r"^[#*\s]+", "", line).casefold() for line in header.split("\n"))
    return "referat" if any(line.startswith("referat") for line in starts) else "dagsorden"


def _anchors(titles: list[etree._Element]) -> list[str | None]:
    """Each title's own id, else that of the nearest element around it that holds no other title."""
    holds: Counter[etree._Element] = Counter(anc for title in titles for anc in title.iterancestors())
    anchors: list[str | None] = []
    for title in titles:
        found = title.get("id")
        for ancestor in title.iterancestors():
            if found or holds[ancestor] > 1:
                break
            found = ancestor.get("id")
        anchors.append(found.strip() if found and found.strip() else None)
    return anchors


def _attachments(root: etree._Element, titles: list[etree._Element], base: str) -> list[list[Attachment]]:
    """Download buttons and file links, each given to the item whose title comes before it."""
    files: list[list[Attachment]] = [[] for _ in titles]
    wanted = set(titles)
    current = -1
    for element in root.iter():
        if element in wanted:
            current += 1
            continue
        found = _attachment(element, base) if current >= 0 else None
        if found is not None and found not in files[current]:
            files[current].append(found)
    return files


def _attachment(element: etree._Element, base: str) -> Attachment | None:
    if not isinstance(element.tag, str):
        return None
    label = collapse(clean_text(element.text_content()))
    file_id, file_name = element.get("data-id"), element.get("data-name")
    if element.tag == "button" and file_id and file_name:
        url = base + FILE_PATH.format(quote(file_id.strip(), safe=""), quote(file_name.strip(), safe=""))
        return Attachment(label or collapse(file_name), url)
    href = (element.get("href") or "").strip()
    if element.tag == "a" and "/files/" in href:
        return Attachment(label or href.rsplit("/", 1)[-1], urljoin(base + "/", href))
    return None


# --- the source ----------------------------------------------------------------------------------


class AabenDagsorden(SiteSource):
    """Meetings of an Åben Dagsorden site: its meeting search and each meeting's HTML view."""

    type = "aabendagsorden"
    system: ClassVar[str] = "Åben Dagsorden"
    config: AabenDagsordenConfig

    def __init__(self, config: AabenDagsordenConfig, context: SourceContext | None = None) -> None:
        super().__init__(config, context)
        self._format: DateFormat | None = None  # the site's way of writing dates, once known
        self._rows: dict[str, tuple[str, object]] = {}  # meeting id → the search URL and its row

    def list_meetings(self, fetcher: Fetcher) -> Iterable[SiteMeeting]:
        self._format = None if self.config.date_format == "auto" else self.config.date_format
        today = local(self.context.now or datetime.now(ZONE)).date()
        meetings: dict[str, SiteMeeting] = {}
        for start, end in windows(self.since(), today + AHEAD):
            for search in self._searches(fetcher, start, end):
                for row in search.rows:
                    found = None if skipped(row, self.config.skip_committees) else listed_meeting(row, self.config.url)
                    if found is not None:
                        meetings[found.key] = found
                        self._rows[found.key] = (search.url, search.raw.get(found.key))
        return meetings.values()

    def _searches(self, fetcher: Fetcher, start: date, end: date) -> Iterator[Search]:
        """The window's answers; a full one is halved until each half fits in one answer."""
        search = self._search(fetcher, start, end)
        if search.full and end > start:
            middle = start + (end - start) // 2
            yield from self._searches(fetcher, start, middle)
            yield from self._searches(fetcher, middle + timedelta(days=1), end)
            return
        if search.full:
            self.warnings.append(
                f"{search.url}: {search.total} meetings on one day, the search shows {len(search.rows)}; "
                "some may be missing"
            )
        yield search

    def _search(self, fetcher: Fetcher, start: date, end: date) -> Search:
        if self._format is not None:
            return self._ask(fetcher, start, end, self._format)
        answers: dict[DateFormat, Search | None] = {}
        for fmt in (ISO, DMY):
            answer = answers[fmt] = self._try(fetcher, start, end, fmt)
            shown = answer.date_format if answer is not None else None
            if shown is not None:
                self._format = shown
                return answer if answer is not None and shown == fmt else self._ask(fetcher, start, end, shown)
        accepted = [answer for answer in answers.values() if answer is not None]
        if not accepted:
            raise ParseError(
                f"{search_url(self.config.url, start, end, ISO)}: the meeting search reads neither "
                "YYYY-MM-DD nor DD/MM/YYYY dates – is this an Åben Dagsorden site?"
            )
        if len(accepted) == 1:  # the other form was refused: this one is the site's
            self._format = ISO if answers[ISO] is not None else DMY
        return accepted[0]

    def _try(self, fetcher: Fetcher, start: date, end: date, fmt: DateFormat) -> Search | None:
        """The answer in ``fmt``; None when the site refuses dates written that way."""
        try:
            return self._ask(fetcher, start, end, fmt)
        except HTTPStatusError as exc:
            if exc.status in _REFUSED:
                return None
            raise
        except ParseError:
            return None

    def _ask(self, fetcher: Fetcher, start: date, end: date, fmt: DateFormat) -> Search:
        url = search_url(self.config.url, start, end, fmt)
        return parse_search(fetcher.get(url, conditional=True, keep_body=True).content, url)

    def read_meeting(self, fetcher: Fetcher, meeting: SiteMeeting) -> MeetingRead:
        url = self.config.url + VIEW_PATH.format(quote(meeting.key, safe=""))
        response = fetcher.get(url, conditional=True, keep_body=True)
        name = f"{meeting.url} ({meeting.committee} {meeting.start:%d.%m.%Y})"
        parsed = parse_view(response.content, meeting, self.config.url, name)
        search, row = self._rows.get(meeting.key, (url, None))
        listed = json.dumps(row, ensure_ascii=False, sort_keys=True).encode()
        return MeetingRead(bundle([(search, listed), (url, response.content)]), parsed, response.fetched_at)

    @classmethod
    def probe(cls, fetcher: Fetcher, base: str) -> Probe:
        base = (base.strip() if "://" in base else f"https://{base.strip()}").rstrip("/")
        today = datetime.now(ZONE).date()
        start, end = today - timedelta(days=WINDOW_DAYS * 3), today + timedelta(days=WINDOW_DAYS)
        answers: list[tuple[DateFormat, Search]] = []
        try:
            for fmt in (ISO, DMY):
                try:
                    url = search_url(base, start, end, fmt)
                    answers.append((fmt, parse_search(fetcher.get(url).content, url)))
                except HTTPStatusError as exc:
                    if exc.status not in _REFUSED:
                        raise
                except ParseError:
                    continue
        except FetchError as exc:
            return Probe(False, f"{base} does not answer like an Åben Dagsorden site: {exc}")
        if not answers:
            return Probe(
                False, f"{base} does not answer like an Åben Dagsorden site: no meeting search at {SEARCH_PATH}"
            )
        fmt, search = max(answers, key=lambda answer: (answer[1].date_format is not None, len(answer[1].rows)))
        shown = search.date_format or fmt
        committees = {row.committeeGroupName or row.committeeName for row in search.rows}
        return Probe(
            True,
            f"{base} answers like an Åben Dagsorden site: {count(len(search.rows), 'meeting')} of "
            f"{count(len(committees), 'committee')} from {start:%d.%m.%Y} to {end:%d.%m.%Y}, dates as {shown}",
        )
