"""``type = "rksk"``: Ringkøbing-Skjern Kommune's own site (eDoc agendas in Dynamicweb).

Endpoints (the real site's paths, on the configured root):

- ``/om-kommunen/byraad/dagsorden-og-referat``: the byråd's meetings.
- ``/om-kommunen/politiske-udvalg``: links one page per committee
  (``/om-kommunen/politiske-udvalg/oekonomiudvalget``); pages whose name starts with ``ref-``
  are former committees and are skipped. A committee page lists its meetings itself or links
  its list (a sub-page whose name says ``dagsorden`` or ``referat``), which is then read.
- A list: rows ``tr.agenda--tr``, cells: a number, the day ("29. september 2026", maybe with
  ``kl. 15:00``), the committee, and a link to ``…/dagsorden-og-referat?AgendaID=N`` whose text
  says what is published: "Dagsorden" or "Referat" (the row's ``onclick`` holds the same
  address when the link is missing).
- A meeting page ``…?AgendaID=N``: items ``div.agenda--card.agenda--item`` with an id (the
  item's anchor), title ``<h2 class="h3">N <span>: Title</span></h2>``, sections headed by bold
  lines (``<strong>Sagsfremstilling</strong>``), a ``Print`` link to the item's PDF (left out),
  the ``Bilag`` links. The participants are a card headed "Deltagere".

Quirks: the pages are UTF-8 but the Content-Type names no charset, so they are decoded as UTF-8
whatever it says; pages reach 4 MB through inline base64 images, which are cut out of the bytes
before parsing (the archive keeps the page as served).

Identity: a meeting is its ``AgendaID``; the agenda and the minutes share the address, so the
minutes are a new version of the agenda. The signature is the row's kind and day: a meeting is
read when it is new, becomes the minutes or moves, not at every poll (the pages are large).

Limits: an agenda changed without its row changing is not read again until the minutes come;
meetings of former committees (``ref-`` pages) are not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from urllib.parse import urljoin

import lxml.html

from bot.errors import BotError, FetchError, ParseError, Stopping
from bot.fetch import Fetcher
from bot.parse.minutes import ParsedItem, ParsedMeeting, collapse, committee_name
from bot.parse.sections import date_in, time_in
from bot.source_config import RkskSource as RkskConfig
from bot.sources.base import Probe
from bot.sources.html_items import get_page, header_text, item_from, kind_of, site_path, start_and_place, text_of
from bot.sources.site import ZONE, MeetingRead, SiteMeeting, SiteSource, count, title_of

BYRAAD_PATH = "/om-kommunen/byraad/dagsorden-og-referat"
COMMITTEES_PATH = "/om-kommunen/politiske-udvalg"
_AGENDA_ID = re.compile(r"[?&]AgendaID=(\d+)", re.I)
_ONCLICK = re.compile(r"location(?:\.href)?\s*=\s*['\"]([^'\"]+)['\"]")
_NUMBER = re.compile(r"^\s*(\d+)")


@dataclass(frozen=True)
class Row:
    agenda_id: str
    path: str  # the meeting page's path and query on the site
    committee: str
    start: datetime
    label: str  # what the row says is published: "Dagsorden", "Referat"


def list_rows(root: lxml.html.HtmlElement, page_url: str, fallback_committee: str) -> list[Row]:
    """The meetings of a list page; rows without an ``AgendaID`` or a day are skipped."""
    rows = []
    for tr in root.find_class("agenda--tr"):
        link = next((a for a in tr.iter("a") if _AGENDA_ID.search(a.get("href", ""))), None)
        found = _ONCLICK.search(tr.get("onclick", ""))
        href = link.get("href", "") if link is not None else found.group(1) if found else ""
        agenda_id = _AGENDA_ID.search(href)
        cells = [text_of(td) for td in tr.iter("td")]
        dated = next((index for index, cell in enumerate(cells) if date_in(cell)), None)
        if tr.tag != "tr" or agenda_id is None or dated is None:
            continue
        day = date_in(cells[dated])
        assert day is not None
        shown = text_of(link) if link is not None else ""
        label = next((text for text in (shown, *cells[dated + 1 :]) if kind_of(text)), shown)
        after = cells[dated + 1] if dated + 1 < len(cells) else ""
        committee = committee_name(after if after and after != shown and not kind_of(after) else fallback_committee)
        at = time_in(cells[dated]) or time(0)
        rows.append(
            Row(
                agenda_id=agenda_id.group(1),
                path=site_path(urljoin(page_url, href)),
                committee=committee,
                start=datetime.combine(day, at, tzinfo=ZONE),
                label=label,
            )
        )
    return rows


def committee_paths(root: lxml.html.HtmlElement) -> list[str]:
    """The current committees' pages: one segment below the overview, not ``ref-``."""
    paths = []
    for link in root.iter("a"):
        path = site_path(link.get("href", "")).split("?")[0].rstrip("/")
        name = path.removeprefix(COMMITTEES_PATH + "/")
        if path.startswith(COMMITTEES_PATH + "/") and name and "/" not in name and not name.startswith("ref-"):
            paths.append(path)
    return list(dict.fromkeys(paths))


def list_paths(root: lxml.html.HtmlElement, committee_path: str) -> list[str]:
    """A committee page's links to its meeting list (a sub-page naming dagsorden or referat)."""
    paths = []
    for link in root.iter("a"):
        path = site_path(link.get("href", "")).split("?")[0].rstrip("/")
        name = path.removeprefix(committee_path + "/")
        if path.startswith(committee_path + "/") and "/" not in name and kind_of(name.replace("-", " ")):
            paths.append(path)
    return list(dict.fromkeys(paths))


def meeting_of(row: Row, base: str) -> SiteMeeting:
    return SiteMeeting(
        key=row.agenda_id,
        committee=row.committee,
        start=row.start,
        kind=kind_of(row.label) or "dagsorden",
        url=base + row.path,
        signature=f"{collapse(row.label).casefold()} {row.start.isoformat()}",
    )


def parse_meeting(root: lxml.html.HtmlElement, meeting: SiteMeeting) -> ParsedMeeting:
    """A meeting page: every item card, with its sections, decisions and attachments."""
    cards = [div for div in root.find_class("agenda--item") if "agenda--card" in div.get("class", "").split()]
    items = [item for card in cards if (item := _item(card, meeting)) is not None]
    start, place = start_and_place(header_text(root, cards[0] if cards else None))
    return ParsedMeeting(
        kind=meeting.kind,
        committee=meeting.committee,
        date=meeting.start.date(),
        start=start or (meeting.start.time() if meeting.start.time() != time(0) else None),
        place=place,
        participants=_participants(root),
        items=tuple(items),
        url=meeting.url,
    )


def _item(card: lxml.html.HtmlElement, meeting: SiteMeeting) -> ParsedItem | None:
    heading = next(card.iter("h2"), None)
    if heading is None:
        return None
    span = heading.find("span")
    number = _NUMBER.match(heading.text or "") or _NUMBER.match(text_of(heading))
    title = text_of(span) if span is not None else _NUMBER.sub("", text_of(heading))
    heading.drop_tree()  # the title is not part of the item's text
    for link in list(card.iter("a")):  # the item as a PDF: not a bilag
        if (text_of(link) or link.get("title", "")).casefold().startswith("print"):
            link.drop_tree()
    anchor = card.get("id", "").strip() or None
    return item_from(
        [child for child in card if isinstance(child.tag, str)],
        int(number.group(1)) if number else None,
        title_of(title.lstrip(":").strip()),
        meeting.committee,
        meeting.start.date(),
        meeting.url,
        portal_id=anchor,
        url=f"{meeting.url}#{anchor}" if anchor else meeting.url,
    )


def _participants(root: lxml.html.HtmlElement) -> tuple[str, ...]:
    for card in root.find_class("agenda--card"):
        heading = next(card.iter("h2"), None)
        if heading is not None and text_of(heading).casefold().startswith("deltagere"):
            return tuple(dict.fromkeys(name for li in card.iter("li") if (name := text_of(li))))
    return ()


class RkskSite(SiteSource):
    """Ringkøbing-Skjern's byråd and committee lists and each meeting's page."""

    type = "rksk"
    system = "Ringkøbing-Skjern (eDoc) site"
    config: RkskConfig

    def list_meetings(self, fetcher: Fetcher) -> Iterable[SiteMeeting]:
        """The byråd's list (its failure fails the source) and every current committee's (a
        failure there is a warning: that committee's meetings are left as stored)."""
        base = self.config.url
        _, byraad = get_page(fetcher, base + BYRAAD_PATH, listing=True)
        rows = list_rows(byraad, base + BYRAAD_PATH, "Byrådet")
        _, overview = get_page(fetcher, base + COMMITTEES_PATH, listing=True)
        for path in committee_paths(overview):
            try:
                rows += self._committee_rows(fetcher, path)
            except Stopping:  # out of time, or the bot stops: not the committee's fault
                raise
            except (FetchError, ParseError) as exc:
                self.warnings.append(f"a committee's meetings could not be listed: {exc}")
        meetings = {row.agenda_id: meeting_of(row, base) for row in reversed(rows)}
        return list(meetings.values())

    def _committee_rows(self, fetcher: Fetcher, path: str) -> list[Row]:
        base = self.config.url
        _, page = get_page(fetcher, base + path, listing=True)
        name = _page_heading(page) or path.rsplit("/", 1)[-1].replace("-", " ").capitalize()
        rows = list_rows(page, base + path, name)
        for list_path in [] if rows else list_paths(page, path):
            _, listing = get_page(fetcher, base + list_path, listing=True)
            rows += list_rows(listing, base + list_path, name)
        return rows

    def read_meeting(self, fetcher: Fetcher, meeting: SiteMeeting) -> MeetingRead:
        response, root = get_page(fetcher, meeting.url)
        return MeetingRead(response.content, parse_meeting(root, meeting), response.fetched_at)

    @classmethod
    def probe(cls, fetcher: Fetcher, base: str) -> Probe:
        url = base + BYRAAD_PATH
        try:
            _, root = get_page(fetcher, url)
        except BotError as exc:
            return Probe(False, f"{base} does not answer like {cls.system}: {exc}")
        rows = list_rows(root, url, "Byrådet")
        if not rows:
            return Probe(False, f"{url} lists no meetings (tr.agenda--tr with an AgendaID): not {cls.system}")
        newest = max(row.start for row in rows)
        return Probe(
            True, f"{base} answers like a {cls.system}: {count(len(rows), 'byråd meeting')}, newest {newest:%d.%m.%Y}"
        )


def _page_heading(root: lxml.html.HtmlElement) -> str:
    heading = root.find(".//h1")
    return text_of(heading) if heading is not None else ""
