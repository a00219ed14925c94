"""``type = "meetingsplus"``: a Formpipe Meetings+ site (Billund, Norddjurs: ``<kommune>.meetingsplus.dk``).

Endpoints (paths of the real site, put after ``url``):

- ``GET /overview`` lists the upcoming and recent meetings of every committee on one page: each
  row ``class="meeting-list-item"`` carries ``data-content-id`` (the key), a link to the meeting's
  page, an ISO date (in a ``datetime``/``data-*`` attribute or the text) and the committee in
  ``class="url-text"``. The links' slugs cannot be built, so they are always read from here.
- The meeting's page has the tab ``id="agendaTabContent"`` and, once the minutes are out,
  ``id="protocolTabContent"``; the minutes replace the agenda under the same key. Each item is an
  ``li.meeting-item-row`` with ``list-item-number``, ``class="item-title"`` and an anchor
  ``name="id_<n>"`` (the item's id and the ``#id_<n>`` of its link).
- Item texts (resumé, indstilling, beslutning) are published only as one PDF per item. ASSUMED
  shape (not yet seen on the real site): the first link in the item row whose href contains
  ``pdf``, outside an element with ``attachment`` in its class (those are the bilag). The PDF's
  bold headings open sections; what comes before the first known one (the PDF's heading with the
  item's title, ``Sagsnr.``) gives only the case number.

Quirks: Billund prefixes titles with ``D - `` / ``O - `` (drøftelse / orientering); they are
dropped. A row without a link or a date is a meeting not published yet and is skipped.

Limits: the overview covers about two months, so a ``since`` before that finds nothing older
(the site has no archive search used here). The row shows nothing that changes when the minutes
appear, so every listed meeting in the window is read at every poll: its page and PDFs with
conditional GETs (``304`` when unchanged) and identical bytes count as unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from bot.errors import BotError, ParseError
from bot.fetch import Fetcher
from bot.parse.minutes import Attachment, DocKind, ParsedItem, ParsedMeeting, collapse, committee_name
from bot.parse.parser import build_item
from bot.parse.pdf import read_pdf
from bot.parse.sections import is_section_heading
from bot.source_config import MeetingsPlusSource as MeetingsPlusConfig
from bot.sources.base import Probe
from bot.sources.site import ZONE, MeetingRead, SiteMeeting, SiteSource, bundle, count, title_of

OVERVIEW_PATH = "/overview"
# The tabs of a meeting page, the minutes first: once they exist they are the document.
TABS: tuple[tuple[str, DocKind], ...] = (("protocolTabContent", "referat"), ("agendaTabContent", "dagsorden"))

_ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b")
_KIND_PREFIX = re.compile(r"^\s*[DO]\s+[-–]\s+")  # Billund: "D - " drøftelse, "O - " orientering
_NUMBER = re.compile(r"\d+")
_ANCHOR = re.compile(r"^id_(\w+)$")
_CASE = re.compile(r"^(?:Sagsnr|Sags\s*nr|Sagsnummer|J\.?\s*nr)\.?\s*:?\s*([0-9][\w./-]*\w)", re.IGNORECASE)
_MARKUP = re.compile(r"^\s*#{1,6}\s+")


@dataclass(frozen=True)
class Row:
    """One item row of a meeting page."""

    number: int | None
    title: str
    anchor: str | None  # the ``<n>`` of ``name="id_<n>"``
    pdf: str | None  # the item's PDF, on the configured site
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class MeetingPage:
    kind: DocKind
    rows: tuple[Row, ...]


# --- the overview ---------------------------------------------------------------------------------


def parse_overview(content: bytes, base: str, url: str) -> list[SiteMeeting]:
    """``/overview`` → its meetings, each once; rows without a link, date or committee are skipped."""
    meetings: dict[str, SiteMeeting] = {}
    for row in _root(content).cssselect(".meeting-list-item"):
        link = _first_link(row)
        start = _iso_moment(row)
        committee = committee_name(_text(row.cssselect(".url-text")[:1]))
        if link is None or start is None or not committee:
            continue
        page = on_site(base, urljoin(url, link))
        if page is None:
            continue
        key = collapse(row.get("data-content-id") or "") or urlsplit(page).path
        meetings.setdefault(key, SiteMeeting(key=key, committee=committee, start=start, kind="dagsorden", url=page))
    return list(meetings.values())


def _first_link(row: etree._Element) -> str | None:
    for anchor in [row] if row.get("href") else row.iter("a"):
        href = (anchor.get("href") or "").strip()
        if href and not href.startswith(("#", "javascript:", "mailto:")):
            return str(href)
    return None


def _iso_moment(row: etree._Element) -> datetime | None:
    """The first ISO date or date-time of the row: in ``datetime``, then ``data-*`` attributes,
    then the text; never in a link (a slug may hold the date without the time)."""
    elements = [element for element in row.iter() if isinstance(element.tag, str)]
    stamps = [element.get("datetime") or "" for element in elements]
    data = [value for element in elements for name, value in element.attrib.items() if name.startswith("data-")]
    for text in [*stamps, *data, row.text_content()]:
        found = _ISO.search(str(text))
        if found:
            try:
                moment = datetime.fromisoformat(found.group(0).replace(" ", "T"))
            except ValueError:
                continue
            return moment.astimezone(ZONE) if moment.tzinfo else moment.replace(tzinfo=ZONE)
    return None


# --- a meeting page -------------------------------------------------------------------------------


def parse_meeting_page(content: bytes, base: str, url: str) -> MeetingPage:
    """A meeting page → its kind and item rows (from the minutes tab when it has items)."""
    root = _root(content)
    found = False
    for tab_id, kind in TABS:
        tabs = root.cssselect(f"#{tab_id}")
        found = found or bool(tabs)
        rows = tuple(_row(li, base, url) for tab in tabs[:1] for li in tab.cssselect("li.meeting-item-row"))
        if rows:
            return MeetingPage(kind, rows)
    if not found:
        raise ParseError(
            f"{url}: no agendaTabContent or protocolTabContent on the meeting page – has the site's layout changed?"
        )
    return MeetingPage("dagsorden", ())  # the base reports a meeting without items


def _row(li: etree._Element, base: str, url: str) -> Row:
    number = _NUMBER.search(_text(li.cssselect(".list-item-number")[:1]))
    title = _KIND_PREFIX.sub("", collapse(_text(li.cssselect(".item-title")[:1])))
    anchor = next((m.group(1) for a in li.iter("a") if (m := _ANCHOR.match(a.get("name") or ""))), None)
    pdf: str | None = None
    attachments: list[Attachment] = []
    for link in li.iter("a"):
        href = (link.get("href") or "").strip()
        target = on_site(base, urljoin(url, href)) if href and not href.startswith("#") else None
        if target is None:
            continue
        if _in_attachments(link, li):
            name = collapse(link.text_content()) or collapse(link.get("title") or "")
            if name:
                attachments.append(Attachment(name, target))
        elif pdf is None and "pdf" in href.casefold():
            pdf = target
    return Row(int(number.group(0)) if number else None, title_of(title), anchor, pdf, tuple(attachments))


def _in_attachments(link: etree._Element, row: etree._Element) -> bool:
    element = link
    while element is not None and element is not row:
        if "attachment" in (element.get("class") or "").casefold():
            return True
        element = element.getparent()
    return False


# --- an item's PDF ----------------------------------------------------------------------------------


def item_body(text: str, committee: str = "", title: str = "") -> tuple[str | None, str]:
    """A PDF's text → its case number and the body from its first section heading on.

    The PDF opens with its own heading (committee, date, the item's number and title) that the
    page already gives; left in, it would become text of the first section. A bold line that
    starts with the committee or ends with the title never opens the body: "Klima- og
    Miljøudvalget" or "3. Økonomiske rammer 2027" would pass for section headings.
    """
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if _is_heading(line, committee, title)), None)
    head = lines[:start] if start is not None else []
    case = next((m.group(1) for line in head if (m := _CASE.match(_plain(line)))), None)
    return case, "\n".join(lines[start:] if start is not None else lines)


def _is_heading(line: str, committee: str, title: str) -> bool:
    stripped = line.strip()
    if not (_MARKUP.match(stripped) or (stripped.startswith("**") and stripped.endswith("**"))):
        return False
    plain = _plain(stripped)
    folded, committee, title = plain.casefold(), committee.casefold(), title.casefold()
    own = bool(committee and folded.startswith(committee)) or bool(title and folded.endswith(title))
    return not own and is_section_heading(plain)


def _plain(line: str) -> str:
    return collapse(_MARKUP.sub("", line).replace("**", ""))


def build_meeting(meeting: SiteMeeting, page: MeetingPage, bodies: dict[str, tuple[str | None, str]]) -> ParsedMeeting:
    """The meeting with its items: the page's rows, each with the sections of its PDF."""
    items = tuple(_item(meeting, row, bodies.get(row.pdf or "", (None, ""))) for row in page.rows)
    start = meeting.start.time()
    return ParsedMeeting(
        kind=page.kind,
        committee=meeting.committee,
        date=meeting.start.date(),
        start=start.replace(second=0, microsecond=0) if (start.hour, start.minute) != (0, 0) else None,
        items=items,
        url=meeting.url,
    )


def _item(meeting: SiteMeeting, row: Row, body: tuple[str | None, str]) -> ParsedItem:
    case, text = body
    url = f"{meeting.url}#id_{row.anchor}" if row.anchor else meeting.url
    item = build_item(
        row.number, row.title, case, text, meeting.committee, meeting.start.date(), portal_id=row.anchor, url=url
    )
    return replace(item, attachments=row.attachments) if row.attachments else item


# --- helpers ----------------------------------------------------------------------------------------


def on_site(base: str, absolute: str) -> str | None:
    """A link of the site as a URL on the configured ``base``: the real host's path and query after
    it, so a mirror or local imitation stands in. None for a link that is not http(s)."""
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https"):
        return None
    return f"{base}{parts.path or '/'}{'?' + parts.query if parts.query else ''}"


def _root(content: bytes) -> etree._Element:
    try:
        return lxml.html.document_fromstring(content, parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (etree.ParserError, ValueError):  # an empty or whitespace-only page
        return lxml.html.fromstring("<html></html>")


def _text(elements: Iterable[etree._Element]) -> str:
    return " ".join(str(element.text_content()) for element in elements)


class MeetingsPlus(SiteSource):
    """Meetings of a Formpipe Meetings+ site: its overview, each meeting's page and its items' PDFs."""

    type = "meetingsplus"
    system = "Formpipe Meetings+ site"
    config: MeetingsPlusConfig

    def list_meetings(self, fetcher: Fetcher) -> list[SiteMeeting]:
        url = self.config.url + OVERVIEW_PATH
        return parse_overview(fetcher.get(url, conditional=True, keep_body=True).content, self.config.url, url)

    def read_meeting(self, fetcher: Fetcher, meeting: SiteMeeting) -> MeetingRead:
        response = fetcher.get(meeting.url, conditional=True, keep_body=True)
        page = parse_meeting_page(response.content, self.config.url, meeting.url)
        pages = [(meeting.url, response.content)]
        bodies: dict[str, tuple[str | None, str]] = {}
        for row in page.rows:
            # A closed item's text is not public (build_item drops it anyway): not fetched.
            if row.pdf is None or row.pdf in bodies or row.title.casefold().startswith("lukket"):
                continue
            pdf = fetcher.get(row.pdf, conditional=True, keep_body=True)
            pages.append((row.pdf, pdf.content))
            read = read_pdf(pdf.content, row.pdf)  # an ExtractError names the PDF
            self.warnings += read.warnings
            bodies[row.pdf] = item_body(read.text, meeting.committee, row.title)
        return MeetingRead(bundle(pages), build_meeting(meeting, page, bodies), response.fetched_at)

    @classmethod
    def probe(cls, fetcher: Fetcher, base: str) -> Probe:
        base = (base if "://" in base else f"https://{base}").rstrip("/")
        url = base + OVERVIEW_PATH
        try:
            meetings = parse_overview(fetcher.get(url).content, base, url)
        except BotError as exc:
            return Probe(False, f"{base} does not answer like a {cls.system}: {exc}")
        if not meetings:
            return Probe(False, f'{url} lists no meetings (no rows class="meeting-list-item"): not a {cls.system}')
        committees = len({m.committee for m in meetings})
        first, last = min(m.start for m in meetings), max(m.start for m in meetings)
        return Probe(
            True,
            f"{base} answers like a {cls.system}: {count(len(meetings), 'meeting')} of "
            f"{count(committees, 'committee')} on {OVERVIEW_PATH}, {first:%d.%m.%Y}–{last:%d.%m.%Y}",
        )
