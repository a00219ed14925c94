"""``type = "frederikssund"``: Frederikssund Kommune's own pages of agendas and minutes,
``www.frederikssund.dk/Politik/Dagsordener-og-referater``.

Endpoints (paths of the real site, requested from the configured ``url``):

- ``GET /Politik/Dagsordener-og-referater``: the overview, linking one page per committee
  (``/Politik/Dagsordener-og-referater/{slug}``); slugs starting ``udvalg-`` are the previous
  election period and are skipped.
- ``GET /Politik/Dagsordener-og-referater/{slug}`` (this year) and ``…/{slug}?year=YYYY`` (other
  years): the committee's meetings, linked as ``…/{slug}/{YYYY-MM-DD_HH-MM}/{dagsorden|referat}``.
  Every year from ``since`` to this one is read, and next year's too in the last weeks of the
  year (agendas are published ahead).
- A meeting page: one element ``id="item-N"`` per item with ``<span class="no">N</span>
  <span>Title</span>`` and the item's text, sections as ``<h3>`` (``Resume``, ``Indstilling``,
  ``Beslutning``); a ``Sagsnr.`` line is the case number, the links of ``Bilag`` the attachments.

Agenda and minutes are separate pages: each is its own document (keyed by its path), and the
store merges their items by committee, day and number, the minutes outranking the agenda. When
a committee page lists the minutes, the agenda of that meeting is not read any more.

Re-reading: the listing shows nothing that changes when a page is amended (agendas are, before
the meeting; minutes are corrected when approved), so the pages of meetings from
:data:`~bot.sources.site.SETTLED` days ago onwards are fetched at every poll with a conditional GET, and older
ones once more (their signature is their path). The committee is named by the overview's link.

Limits: items have no id of their own (their link is the page with ``#item-N``); the meeting's
place and participants are not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from bot.errors import ExtractError, FetchError, ParseError
from bot.fetch import Fetcher
from bot.parse.extract import html_to_text
from bot.parse.minutes import Attachment, DocKind, ParsedItem, ParsedMeeting, committee_name
from bot.parse.parser import build_item
from bot.source_config import FrederikssundSource as FrederikssundConfig
from bot.sources.base import Probe
from bot.sources.html_items import take_case_number, text_of
from bot.sources.site import (
    ZONE,
    MeetingRead,
    SiteMeeting,
    SiteSource,
    count,
    local,
    settled_signature,
    title_of,
    wanted,
)

OVERVIEW_PATH = "/Politik/Dagsordener-og-referater"
PREVIOUS_PERIOD = "udvalg-"  # slugs of the committees of the previous election period
AHEAD = timedelta(weeks=6)  # this close to New Year, next year's agendas may be out

_COMMITTEE = re.compile(rf"^{OVERVIEW_PATH}/([^/]+)/?$", re.I)
_MEETING = re.compile(rf"^{OVERVIEW_PATH}/([^/]+)/(\d{{4}})-(\d{{2}})-(\d{{2}})_(\d{{2}})-(\d{{2}})/([^/]+)/?$", re.I)
_NUMBER = re.compile(r"[0-9]{1,3}")


@dataclass(frozen=True)
class Committee:
    slug: str
    name: str


def page_root(content: bytes) -> lxml.html.HtmlElement | None:
    """A page as a tree (the site serves UTF-8); None for an empty or unreadable one."""
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        return lxml.html.document_fromstring(content, parser=parser)
    except (etree.ParserError, ValueError):
        return None


def parse_overview(content: bytes) -> tuple[Committee, ...]:
    """The overview → the committees of this election period, named as their links are."""
    root = page_root(content)
    found: dict[str, Committee] = {}
    for anchor in root.iter("a") if root is not None else ():
        match = _COMMITTEE.match(path_of(anchor.get("href") or ""))
        if not match or match.group(1).casefold().startswith(PREVIOUS_PERIOD):
            continue
        slug = match.group(1)
        name = committee_name(text_of(anchor)) or slug.replace("-", " ")
        found.setdefault(slug.casefold(), Committee(slug, name))
    return tuple(found.values())


def parse_committee(content: bytes, committee: Committee, base: str) -> list[SiteMeeting]:
    """A committee's page (one year) → its meetings' agenda and minutes pages."""
    root = page_root(content)
    meetings: dict[str, SiteMeeting] = {}
    for anchor in root.iter("a") if root is not None else ():
        path = path_of(anchor.get("href") or "")
        match = _MEETING.match(path)
        kind = _kind(match.group(7)) if match else None
        if match is None or kind is None or match.group(1).casefold() != committee.slug.casefold():
            continue  # another committee's meeting (a "latest meetings" box), or not a document
        year, month, day, hour, minute = (int(part) for part in match.group(2, 3, 4, 5, 6))
        try:
            start = datetime(year, month, day, hour, minute, tzinfo=ZONE)
        except ValueError:
            continue
        key = path.rstrip("/")
        meetings[key] = SiteMeeting(key=key, committee=committee.name, start=start, kind=kind, url=base + key)
    return list(meetings.values())


def _kind(segment: str) -> DocKind | None:
    folded = segment.casefold()
    if "referat" in folded:
        return "referat"
    if folded.startswith(("tillaeg", "tillæg")):
        return "tillægsdagsorden"
    return "dagsorden" if "dagsorden" in folded else None


def without_superseded_agendas(meetings: list[SiteMeeting]) -> list[SiteMeeting]:
    """A meeting whose minutes are listed is read from the minutes only (they hold every item)."""
    minuted = {(m.committee, m.start) for m in meetings if m.kind == "referat"}
    return [m for m in meetings if m.kind == "referat" or (m.committee, m.start) not in minuted]


def parse_meeting(content: bytes, meeting: SiteMeeting) -> ParsedMeeting:
    """A meeting's page → its items: each ``span.no`` with its title and its ``item-N`` element."""
    root = page_root(content)
    numbers = root.cssselect("span.no") if root is not None else []
    items = tuple(_item(number, meeting) for number in numbers if _NUMBER.fullmatch(text_of(number)))
    start = meeting.start.time() if (meeting.start.hour, meeting.start.minute) != (0, 0) else None
    return ParsedMeeting(
        kind=meeting.kind,
        committee=meeting.committee,
        date=meeting.start.date(),
        start=start,
        items=items,
        url=meeting.url,
    )


def _item(number: lxml.html.HtmlElement, meeting: SiteMeeting) -> ParsedItem:
    value = int(text_of(number))
    title = number.getnext()
    container = next((e for e in number.iterancestors() if e.get("id") == f"item-{value}"), None)
    if container is None:
        raise ParseError(f'item {value} has no element id="item-{value}" – has the site\'s layout changed?')
    header = number
    while header.getparent() is not container:  # the child of the item that holds its title
        header = header.getparent()
    parts = [child for child in container if isinstance(child.tag, str) and child is not header]
    if header is number and title is not None:
        parts = [part for part in parts if part is not title]
    case = take_case_number(parts)
    links = _links(parts, meeting.url)
    try:
        body = html_to_text("".join(lxml.html.tostring(part, encoding="unicode") for part in parts))
    except ExtractError as exc:
        raise ParseError(f"item {value}: {exc}") from None
    item = build_item(
        value,
        title_of(_title(number, title, header)),
        case,
        body,
        meeting.committee,
        meeting.start.date(),
        url=f"{meeting.url}#item-{value}",
    )
    return replace(item, attachments=tuple(Attachment(a.name, links.get(a.name)) for a in item.attachments))


def _title(number: lxml.html.HtmlElement, title: lxml.html.HtmlElement | None, header: lxml.html.HtmlElement) -> str:
    """The ``<span>`` after the number; else the heading's text after the number."""
    if title is not None and title.tag == "span":
        return text_of(title)
    return text_of(header).removeprefix(text_of(number)).strip() if header is not number else ""


def _links(parts: list[lxml.html.HtmlElement], page: str) -> dict[str, str]:
    """Each link's text → its address; the ``Bilag`` names the text parser finds are looked up here."""
    links: dict[str, str] = {}
    for part in parts:
        for anchor in part.iter("a"):
            href, name = (anchor.get("href") or "").strip(), text_of(anchor)
            if href and name and not href.startswith(("#", "mailto:", "javascript:")):
                try:
                    links.setdefault(name, urljoin(page, href))
                except ValueError:  # not a URL (a broken IPv6 host)
                    continue
    return links


def path_of(href: str) -> str:
    """A link's path, whatever host it names (requests go to the configured root)."""
    try:
        return urlsplit(href.strip()).path
    except ValueError:
        return ""


def years(since: date, now: datetime) -> list[int]:
    """The years whose committee pages are read: from ``since`` to this one, and the next one
    in the last weeks of the year."""
    today = local(now).date()
    last = today.year + 1 if date(today.year + 1, 1, 1) - today <= AHEAD else today.year
    return list(range(min(since.year, today.year), last + 1))


class FrederikssundSite(SiteSource):
    """The agendas and minutes of the committees the overview links."""

    type = "frederikssund"
    system = "Frederikssund's site"
    config: FrederikssundConfig

    def list_meetings(self, fetcher: Fetcher) -> Iterator[SiteMeeting]:
        base = self.config.url
        now = self.context.now or datetime.now(timezone.utc)
        committees = parse_overview(fetcher.get(base + OVERVIEW_PATH, conditional=True, keep_body=True).content)
        this_year = local(now).year
        for committee in committees:
            if not wanted(committee.name, self.config.committees):
                continue  # its pages need not be read at all
            listed: dict[str, SiteMeeting] = {}
            for year in years(self.since(), now):
                url = f"{base}{OVERVIEW_PATH}/{committee.slug}" + ("" if year == this_year else f"?year={year}")
                page = fetcher.get(url, conditional=True, keep_body=True)
                listed.update((m.key, m) for m in parse_committee(page.content, committee, base))
            for meeting in without_superseded_agendas(list(listed.values())):
                yield replace(meeting, signature=settled_signature(meeting, now))

    def read_meeting(self, fetcher: Fetcher, meeting: SiteMeeting) -> MeetingRead:
        response = fetcher.get(meeting.url, conditional=True)
        return MeetingRead(response.content, parse_meeting(response.content, meeting), response.fetched_at)

    @classmethod
    def probe(cls, fetcher: Fetcher, base: str) -> Probe:
        base = base.rstrip("/")
        try:
            response = fetcher.get(base + OVERVIEW_PATH)
        except FetchError as exc:
            return Probe(False, f"{base} does not answer like {cls.system}: {exc}")
        committees = parse_overview(response.content)
        if not committees:
            return Probe(False, f"{base}{OVERVIEW_PATH} links no committee pages: not {cls.system}")
        return Probe(True, f"{base} answers like {cls.system}: {count(len(committees), 'committee')}")
