"""``type = "aalborg"``: Aalborg Kommune's own minutes app, ``apps.aalborgkommune.dk/dagsordenreferat/``.

Endpoints (paths of the real site, requested from the configured ``url``):

- ``GET /dagsordenreferat/?Id={committee id}`` lists a committee's meetings: anchors
  ``class="moede-link"`` with ``title="Referat for Byrådet 23. november 2026"``.
- ``GET /dagsordenreferat/visreferat?{query}`` is one meeting's minutes: items are
  ``<h3>N. Title</h3>`` followed by their text, whose sections are headings or bold paragraphs
  (``Indstilling``, ``Beslutning``); a ``Sagsnr.`` line is the case number, the links of a
  ``Bilag`` section the attachments.

Quirks: the anchors' hrefs point at the app's internal host (``localhost:5287``), so only their
query string is used. The meeting day is in that query (``moedetitel=YYYY-MM-DD…``), the time on
the page (``kl. 16.00``). The committee is named by the anchor's title, else the list's heading.
Committee ids cannot be listed and change when a new council constitutes itself: they are set
in the config (``committee_ids``), and an id whose list has no meeting at all is a warning.

Limits: only minutes are published (kind ``referat``), after the meeting, so there is no
warning ahead of a meeting. Items have no id and no anchor: their link is the meeting's page.
The listing shows nothing that changes when minutes are corrected, so the meetings of the last
:data:`~bot.sources.site.SETTLED` days are fetched at every poll (a conditional GET) and older ones once more.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, time, timezone
from urllib.parse import SplitResult, parse_qsl, urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree

from bot.catalogue import find
from bot.errors import ExtractError, FetchError, ParseError
from bot.fetch import Fetcher
from bot.parse.extract import clean_text, html_to_text
from bot.parse.minutes import Attachment, ParsedItem, ParsedMeeting, collapse, committee_name
from bot.parse.parser import build_item
from bot.parse.sections import time_in
from bot.source_config import AalborgSource as AalborgConfig
from bot.sources.base import Probe
from bot.sources.html_items import take_case_number, text_of
from bot.sources.site import ZONE, MeetingRead, SiteMeeting, SiteSource, count, settled_signature, title_of

LIST_PATH = "/dagsordenreferat/"
MEETING_PATH = "/dagsordenreferat/visreferat"
# Minutes are corrected, if ever, around their approval at the next meeting: after this a
# meeting is read once more and then left alone.

_WHEN = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T_]+(?:kl\.?\s*)?(\d{1,2})[:.](\d{2}))?")
_ITEM = re.compile(r"^(\d{1,3})\s*\.\s*(.*)$", re.S)
_LINK_PREFIX = re.compile(r"^(?:referat|dagsorden)\s+(?:for|fra)\s+", re.I)
_LINK_DATE = re.compile(r"\s+(?:den\s+)?(?:\d{1,2}\.\s*[a-zæøå]+\s+\d{4}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}).*$", re.I)


@dataclass(frozen=True)
class CommitteeList:
    """One committee id's list page."""

    committee: str  # "" when neither the anchors nor the page name it
    links: int  # meeting anchors on the page, dated or not
    meetings: tuple[SiteMeeting, ...]


def page_root(content: bytes) -> lxml.html.HtmlElement | None:
    """A page as a tree (UTF-8, as the app serves it); None for an empty or unreadable one."""
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        return lxml.html.document_fromstring(content, parser=parser)
    except (etree.ParserError, ValueError):
        return None


def parse_list(content: bytes, base: str, committee_id: int) -> CommitteeList:
    """``/dagsordenreferat/?Id=N`` → the committee's meetings, each with the query of its page."""
    root = page_root(content)
    if root is None:
        return CommitteeList("", 0, ())
    anchors = [a for a in root.iter("a") if "moede-link" in (a.get("class") or "").split()]
    heading = committee_name(next((text_of(h) for h in root.iter("h1") if text_of(h)), ""))
    meetings: dict[str, SiteMeeting] = {}
    named = ""
    for anchor in anchors:
        query = split(anchor.get("href") or "").query
        start = _start(query)
        committee = _committee_of(anchor.get("title") or "")
        named = named or committee
        if start is None or query in meetings:
            continue
        meetings[query] = SiteMeeting(
            key=query,
            committee=committee or heading or f"Udvalg {committee_id}",
            start=start,
            kind="referat",
            url=f"{base}{MEETING_PATH}?{query}",
        )
    return CommitteeList(named or heading, len(anchors), tuple(meetings.values()))


def _start(query: str) -> datetime | None:
    """The meeting's day (and time, if given) from ``moedetitel=YYYY-MM-DD…``."""
    title = next((value for name, value in parse_qsl(query) if name.casefold() == "moedetitel"), "")
    found = _WHEN.match(title.strip())
    if not found:
        return None
    year, month, day, hour, minute = (int(part) if part else 0 for part in found.groups())
    try:
        return datetime(year, month, day, hour if hour < 24 else 0, minute if minute < 60 else 0, tzinfo=ZONE)
    except ValueError:  # not a day
        return None


def _committee_of(title: str) -> str:
    """``Referat for Byrådet 23. november 2026`` → ``Byrådet``; "" when it names no committee."""
    name = committee_name(_LINK_DATE.sub("", _LINK_PREFIX.sub("", collapse(clean_text(title)))))
    return "" if name.casefold() in ("", "referat", "dagsorden") else name


def parse_minutes(content: bytes, meeting: SiteMeeting, base: str) -> ParsedMeeting:
    """A meeting's page → its items (``<h3>N. Title</h3>`` and the elements up to the next)."""
    root = page_root(content)
    heads = [h for h in root.iter("h3") if _ITEM.match(text_of(h))] if root is not None else []
    day = meeting.start.date()
    items = tuple(_item(head, meeting, base) for head in heads)
    start = meeting.start.time() if meeting.start.time() != time(0) else None
    if start is None and root is not None and heads:
        start = _time_before(root, heads[0])
    return ParsedMeeting(
        kind="referat", committee=meeting.committee, date=day, start=start, items=items, url=meeting.url
    )


def _time_before(root: lxml.html.HtmlElement, first: lxml.html.HtmlElement) -> time | None:
    """The meeting's time: the first ``kl. 16.00`` in the page's header, before the first item."""
    for element in root.iter():
        if element is first:
            return None
        for text in (element.text, element.tail):
            found = time_in(text or "")
            if found is not None:
                return found
    return None


def _item(head: lxml.html.HtmlElement, meeting: SiteMeeting, base: str) -> ParsedItem:
    found = _ITEM.match(text_of(head))
    assert found is not None  # only matching headings are items
    parts = []
    for sibling in head.itersiblings():
        if not isinstance(sibling.tag, str):
            continue  # a comment
        if sibling.tag == "h3" or next(sibling.iter("h3"), None) is not None:
            break  # the next item, a wrapper holding it, or a heading after the items
        parts.append(sibling)
    case = take_case_number(parts)
    links = _links(parts, meeting.url, base)
    html = (head.tail or "") + "".join(lxml.html.tostring(part, encoding="unicode") for part in parts)
    try:
        body = html_to_text(html)
    except ExtractError as exc:
        raise ParseError(f"item {found.group(1)}: {exc}") from None
    anchor = head.get("id") or ""
    item = build_item(
        int(found.group(1)),
        title_of(found.group(2)),
        case,
        body,
        meeting.committee,
        meeting.start.date(),
        url=f"{meeting.url}#{anchor}" if anchor else meeting.url,
    )
    return replace(item, attachments=tuple(Attachment(a.name, links.get(a.name)) for a in item.attachments))


def _links(parts: list[lxml.html.HtmlElement], page: str, base: str) -> dict[str, str]:
    """Each link's text → its address; the ``Bilag`` names the text parser finds are looked up here."""
    links: dict[str, str] = {}
    for part in parts:
        for anchor in part.iter("a"):
            href, name = (anchor.get("href") or "").strip(), text_of(anchor)
            url = public_url(href, page, base) if not href.startswith(("#", "mailto:", "javascript:")) else ""
            if url and name:
                links.setdefault(name, url)
    return links


def public_url(href: str, page: str, base: str) -> str:
    """A link as readers can follow it: relative to the page, the app's internal host replaced;
    "" for one that is not a URL."""
    try:
        parts = urlsplit(urljoin(page, href))
        internal = parts.hostname == "localhost"
    except ValueError:  # e.g. a broken IPv6 host
        return ""
    if internal:
        return base + urlunsplit(("", "", parts.path, parts.query, parts.fragment))
    return urlunsplit(parts)


def split(href: str) -> SplitResult:
    """A link's parts; an empty one for a link that is not a URL."""
    try:
        return urlsplit(href.strip())
    except ValueError:
        return urlsplit("")


class AalborgApp(SiteSource):
    """The minutes of the committees whose ids the config lists."""

    type = "aalborg"
    system = "Aalborg's minutes app"
    config: AalborgConfig

    def list_meetings(self, fetcher: Fetcher) -> Iterator[SiteMeeting]:
        now = self.context.now or datetime.now(timezone.utc)
        seen: set[str] = set()
        for committee_id in self.config.committee_ids:
            url = f"{self.config.url}{LIST_PATH}?Id={committee_id}"
            listing = parse_list(
                fetcher.get(url, conditional=True, keep_body=True).content, self.config.url, committee_id
            )
            if listing.links == 0:
                self.warnings.append(
                    f"committee id {committee_id} lists no meetings ({url}) – has the site changed, or has a new "
                    "council new committee ids? Look up the current ids on the kommune's site and set committee_ids"
                )
            elif not listing.meetings:
                self.warnings.append(
                    f"committee id {committee_id}: {count(listing.links, 'meeting link')} without a day "
                    f"(moedetitel=YYYY-MM-DD…) on {url} – has the site changed?"
                )
            for meeting in listing.meetings:
                if meeting.key not in seen:
                    seen.add(meeting.key)
                    yield replace(meeting, signature=settled_signature(meeting, now))

    def read_meeting(self, fetcher: Fetcher, meeting: SiteMeeting) -> MeetingRead:
        response = fetcher.get(meeting.url, conditional=True)
        parsed = parse_minutes(response.content, meeting, self.config.url)
        return MeetingRead(response.content, parsed, response.fetched_at)

    @classmethod
    def probe(cls, fetcher: Fetcher, base: str) -> Probe:
        base = base.rstrip("/")
        ids = catalogue_ids()[:2]
        for committee_id in ids:
            try:
                response = fetcher.get(f"{base}{LIST_PATH}?Id={committee_id}")
            except FetchError as exc:
                return Probe(False, f"{base} does not answer like {cls.system}: {exc}")
            listing = parse_list(response.content, base, committee_id)
            if listing.links:
                name = f" ({listing.committee})" if listing.committee else ""
                return Probe(
                    True,
                    f"{base} answers like {cls.system}: committee id {committee_id}{name} lists "
                    f"{count(len(listing.meetings), 'meeting')}",
                )
        listed = ", ".join(str(i) for i in ids)
        return Probe(
            False,
            f"{base} does not answer like {cls.system}: {LIST_PATH}?Id= lists no meetings for committee ids "
            f"{listed} (or the ids changed with a new council)",
        )


def catalogue_ids() -> tuple[int, ...]:
    """The committee ids the catalogue knows, to probe with (the site cannot list them)."""
    kommune = find("Aalborg")
    ids = kommune.options.get("committee_ids") if kommune is not None else None
    known = tuple(i for i in ids if isinstance(i, int)) if isinstance(ids, list) else ()
    return known or (15,)
