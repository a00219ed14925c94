"""``type = "hedensted"``: Hedensted Kommune's own site (Umbraco with an SBSYS agenda module).

Endpoints (the real site's paths, on the configured root):

- ``/politik-og-indflydelse/kommunalbestyrelse-og-udvalg/dagsordener-og-referater``: the
  overview; it links one page per committee, one path segment below it
  (``…/udvalget-for-klima-natur-og-miljoe-dagsordener-og-referater``).
- Each committee page carries ``data-listid`` (the SBSYS folder; it follows the election period,
  e.g. ``2026UKlima``, so it is read anew at every poll), ``data-pageurl`` and
  ``data-elementid``; its ``<title>`` names the committee
  ("Udvalget for Klima, Natur og Miljø - dagsordener og referater | Hedensted Kommune").
- ``/surface/AgendaSurface/GetAgendaList?folderId=&pageUrl=&elementId=`` (all three, else HTTP
  400): an HTML fragment of links ``a.list__link`` to the meeting pages. The meeting day is in
  the link's path (``…/referat/12-05-2026``); agenda or minutes is told by the link's text, else
  its last path segments ("Dagsorden", "Referat", "Tillægsdagsorden").
- A meeting page: items ``<h2>N. Title</h2>``, each followed by its text up to the next item:
  a ``Sagsnr.`` line, sections under ``<h3>`` ("Beslutningstema", "Indstilling", "Beslutning",
  …) and the ``Bilag`` links. The header gives the time (``kl. 15:00``) and ``Mødested``.

Identity: a meeting (committee page + day) is one key; when its list shows the minutes as well
as the agenda, only the minutes are read, as a new version of the agenda. The signature is the
meeting's set of links: a meeting is read again when a link is added or changed (the minutes
or a supplement appear), not at every poll. A supplementary agenda is its own document.

Limits: no item anchors on the site, so an item's link is its meeting page; a document changed
at an unchanged address is not read again until the meeting's links change; the agenda list is
read as the site serves it (no paging).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from urllib.parse import urlencode, urljoin

import lxml.html

from bot.errors import BotError, FetchError, ParseError, Stopping
from bot.fetch import Fetcher
from bot.parse.minutes import DocKind, ParsedItem, ParsedMeeting, committee_name
from bot.source_config import HedenstedSource as HedenstedConfig
from bot.sources.base import Probe
from bot.sources.html_items import (
    get_page,
    header_text,
    item_from,
    kind_of,
    site_path,
    start_and_place,
    text_of,
)
from bot.sources.site import ZONE, MeetingRead, SiteMeeting, SiteSource, count, title_of

OVERVIEW_PATH = "/politik-og-indflydelse/kommunalbestyrelse-og-udvalg/dagsordener-og-referater"
LIST_PATH = "/surface/AgendaSurface/GetAgendaList"
_PAGE_SUFFIX = "-dagsordener-og-referater"
_DAY_IN_PATH = re.compile(r"/(\d{2})-(\d{2})-(\d{4})(?=/|$)")
_ITEM = re.compile(r"^(\d+)\s*\.\s*(.*)$", re.S)
_SUFFIX = re.compile(r"\s*-?\s*dagsordener\s+og\s+referater\s*$", re.I)


@dataclass(frozen=True)
class CommitteePage:
    path: str
    name: str
    list_id: str
    page_url: str
    element_id: str

    @property
    def slug(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1].removesuffix(_PAGE_SUFFIX)

    def list_query(self) -> str:
        return urlencode({"folderId": self.list_id, "pageUrl": self.page_url, "elementId": self.element_id})


@dataclass(frozen=True)
class ListedLink:
    path: str  # the meeting page's path on the site
    day: date
    kind: DocKind


def committee_paths(root: lxml.html.HtmlElement) -> list[str]:
    """The overview's links to committee pages: one path segment below the overview."""
    paths = []
    for link in root.iter("a"):
        path = site_path(link.get("href", "")).split("?")[0].rstrip("/")
        below = path.removeprefix(OVERVIEW_PATH + "/")
        if path.startswith(OVERVIEW_PATH + "/") and below and "/" not in below:
            paths.append(path)
    return list(dict.fromkeys(paths))


def committee_page(root: lxml.html.HtmlElement, path: str) -> CommitteePage | None:
    """The committee's name and the three values its agenda list wants; None without them."""
    holder = next((el for el in root.iter() if isinstance(el.tag, str) and el.get("data-listid")), None)
    if holder is None or not holder.get("data-pageurl") or not holder.get("data-elementid"):
        return None
    return CommitteePage(
        path=path,
        name=_committee_name(root, path),
        list_id=holder.get("data-listid", "").strip(),
        page_url=holder.get("data-pageurl", "").strip(),
        element_id=holder.get("data-elementid", "").strip(),
    )


def _committee_name(root: lxml.html.HtmlElement, path: str) -> str:
    title = root.find(".//title")
    name = text_of(title).split(" | ")[0] if title is not None else ""
    name = _SUFFIX.sub("", name).strip(" -")
    if not name:
        heading = root.find(".//h1")
        name = _SUFFIX.sub("", text_of(heading)) if heading is not None else ""
    return committee_name(name) or path.rsplit("/", 1)[-1].removesuffix(_PAGE_SUFFIX).replace("-", " ").capitalize()


def agenda_links(root: lxml.html.HtmlElement, list_url: str) -> list[ListedLink]:
    """``a.list__link`` of an agenda list: links without a day in their path are skipped."""
    links = []
    for link in root.find_class("list__link"):
        path = site_path(urljoin(list_url, link.get("href", "")))
        found = _DAY_IN_PATH.search(path.split("?")[0])
        if link.tag != "a" or not found:
            continue
        try:
            day = date(int(found.group(3)), int(found.group(2)), int(found.group(1)))
        except ValueError:
            continue
        tail = "/".join(path.split("?")[0].rstrip("/").split("/")[-2:])
        links.append(ListedLink(path, day, kind_of(text_of(link), tail) or "dagsorden"))
    return links


def meetings_of(committee: CommitteePage, links: Iterable[ListedLink], base: str) -> list[SiteMeeting]:
    """One document per meeting day: the minutes when listed, else the agenda; a supplement apart."""
    grouped: dict[tuple[date, bool], list[ListedLink]] = {}
    for link in links:
        grouped.setdefault((link.day, link.kind == "tillægsdagsorden"), []).append(link)
    meetings = []
    for (day, supplement), group in grouped.items():
        chosen = max(group, key=lambda link: link.kind == "referat")
        key = f"{committee.slug}/{day.isoformat()}" + ("/tillaeg" if supplement else "")
        meetings.append(
            SiteMeeting(
                key=key,
                committee=committee.name,
                start=datetime.combine(day, time(0), tzinfo=ZONE),
                kind=chosen.kind,
                url=base + chosen.path,
                signature=" ".join(sorted({link.path for link in group})),
            )
        )
    return meetings


def parse_meeting(root: lxml.html.HtmlElement, meeting: SiteMeeting) -> ParsedMeeting:
    """A meeting page: each ``<h2>N. Title</h2>`` and what follows it, up to the next item."""
    headings = [h2 for h2 in root.iter("h2") if _ITEM.match(text_of(h2))]
    day = meeting.start.date()
    items: list[ParsedItem] = []
    for heading in headings:
        found = _ITEM.match(text_of(heading))
        assert found is not None
        anchor = heading.get("id")
        items.append(
            item_from(
                _item_elements(heading, headings),
                int(found.group(1)),
                title_of(found.group(2)),
                meeting.committee,
                day,
                meeting.url,
                portal_id=anchor,
                url=f"{meeting.url}#{anchor}" if anchor else meeting.url,
            )
        )
    start, place = start_and_place(header_text(root, headings[0] if headings else None))
    return ParsedMeeting(
        kind=meeting.kind,
        committee=meeting.committee,
        date=day,
        start=start,
        place=place,
        items=tuple(items),
        url=meeting.url,
    )


def _item_elements(
    heading: lxml.html.HtmlElement, headings: list[lxml.html.HtmlElement]
) -> Iterator[lxml.html.HtmlElement]:
    """The siblings after an item's heading, up to the next item's (or an element holding it)."""
    others = {id(h) for h in headings if h is not heading}
    for sibling in heading.itersiblings():
        if not isinstance(sibling.tag, str):
            continue
        if id(sibling) in others or any(id(h2) in others for h2 in sibling.iter("h2")):
            return
        yield sibling


class HedenstedSite(SiteSource):
    """Hedensted's committee pages, their SBSYS agenda lists and each meeting's page."""

    type = "hedensted"
    system = "Hedensted (SBSYS) site"
    config: HedenstedConfig

    def list_meetings(self, fetcher: Fetcher) -> Iterable[SiteMeeting]:
        """Every committee's agenda list. A committee whose page or list fails is a warning (its
        meetings are left as stored); when every committee fails, the source fails."""
        base = self.config.url
        committees, failures = committee_pages(fetcher, base)
        meetings: list[SiteMeeting] = []
        read = 0
        for committee in committees:
            url = f"{base}{LIST_PATH}?{committee.list_query()}"
            try:
                _, root = get_page(fetcher, url, listing=True)
            except Stopping:
                raise
            except (FetchError, ParseError) as exc:
                failures.append(exc)
                continue
            meetings += meetings_of(committee, agenda_links(root, url), base)
            read += 1
        if failures and not read:
            raise failures[0]
        self.warnings += [f"a committee's meetings could not be listed: {exc}" for exc in failures]
        return meetings

    def read_meeting(self, fetcher: Fetcher, meeting: SiteMeeting) -> MeetingRead:
        response, root = get_page(fetcher, meeting.url)
        return MeetingRead(response.content, parse_meeting(root, meeting), response.fetched_at)

    @classmethod
    def probe(cls, fetcher: Fetcher, base: str) -> Probe:
        try:
            _, root = get_page(fetcher, base + OVERVIEW_PATH)
            paths = committee_paths(root)
            if not paths:
                return Probe(False, f"{base}{OVERVIEW_PATH} links no committee pages: not {cls.system}")
            _, page = get_page(fetcher, base + paths[0])
        except BotError as exc:
            return Probe(False, f"{base} does not answer like {cls.system}: {exc}")
        if committee_page(page, paths[0]) is None:
            return Probe(False, f"{base}{paths[0]} has no SBSYS agenda list (data-listid): not {cls.system}")
        return Probe(True, f"{base} answers like a {cls.system}: {count(len(paths), 'committee page')}")


def committee_pages(fetcher: Fetcher, base: str) -> tuple[list[CommitteePage], list[FetchError | ParseError]]:
    """Every committee page of the overview that carries an agenda list.

    A page that cannot be fetched is a failure to report; a page without the list's values is
    skipped, unless no page has them (then the layout has changed)."""
    overview = base + OVERVIEW_PATH
    _, root = get_page(fetcher, overview, listing=True)
    paths = committee_paths(root)
    if not paths:
        raise ParseError(f"{overview}: no links to committee pages – has the site's layout changed?")
    pages: list[CommitteePage] = []
    failures: list[FetchError | ParseError] = []
    for path in paths:
        try:
            _, page = get_page(fetcher, base + path, listing=True)
        except Stopping:  # out of time, or the bot stops: not the committee's fault
            raise
        except (FetchError, ParseError) as exc:
            failures.append(exc)
            continue
        found = committee_page(page, path)
        if found is not None:
            pages.append(found)
    if not pages and not failures:
        raise ParseError(
            f"{base}{paths[0]}: no agenda list (data-listid, data-pageurl, data-elementid) on any committee "
            "page – has the site's layout changed?"
        )
    if not pages:
        raise failures[0]
    return pages, failures
