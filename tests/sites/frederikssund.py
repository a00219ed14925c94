"""Frederikssund's pages of agendas and minutes (``www.frederikssund.dk/Politik/Dagsordener-og-referater``)
in the shapes PORTALS.md describes.

The overview links one page per committee (``udvalg-`` slugs: the previous period); a committee
page, for this year or ``?year=YYYY``, links its meetings as ``/{slug}/{YYYY-MM-DD_HH-MM}/
{dagsorden|referat}``; a meeting page has one ``id="item-N"`` element per item with ``<span
class="no">N</span><span>Title</span>`` and ``<h3>`` sections. The surrounding markup (the
accordion, the ``Sagsnr.`` line, the bilag links under ``/media/``) is our assumption, and the
texts are our own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from html import escape
from zoneinfo import ZoneInfo

from tests.portal import Reply, Server

OVERVIEW = "/Politik/Dagsordener-og-referater"
MONTHS = "januar februar marts april maj juni juli august september oktober november december".split()
HTML = {"Content-Type": "text/html; charset=utf-8"}


@dataclass(frozen=True)
class Item:
    number: int
    title: str
    case: str | None = None
    sections: tuple[tuple[str, str], ...] = ()  # heading, text (paragraphs split by blank lines)
    bilag: tuple[tuple[str, str], ...] = ()  # name, path


@dataclass(frozen=True)
class Meeting:
    slug: str
    start: datetime  # local time, naive
    kind: str  # dagsorden | referat: the last segment of its path
    items: tuple[Item, ...]

    @property
    def path(self) -> str:
        return f"{OVERVIEW}/{self.slug}/{self.start:%Y-%m-%d_%H-%M}/{self.kind}"


@dataclass
class Site:
    """Committees (slug → name) of this period and the last, and their meetings' pages."""

    committees: dict[str, str] = field(default_factory=dict)
    previous: dict[str, str] = field(default_factory=lambda: {"udvalg-2024-2025": "Udvalg 2024-2025"})
    meetings: list[Meeting] = field(default_factory=list)

    def install(self, server: Server) -> None:
        server.html(OVERVIEW, overview_page(self.committees, self.previous))
        for slug, name in {**self.committees, **self.previous}.items():
            server.handlers[f"{OVERVIEW}/{slug}"] = self._committee(slug, name)
        for meeting in self.meetings:
            server.html(meeting.path, meeting_page(self.committees[meeting.slug], meeting))

    def _committee(self, slug: str, name: str) -> Callable[[dict[str, list[str]]], Reply]:
        def page(query: dict[str, list[str]]) -> Reply:
            this_year = datetime.now(timezone.utc).astimezone(ZoneInfo("Europe/Copenhagen")).year
            year = int(query.get("year", [str(this_year)])[0])
            shown = [m for m in self.meetings if m.slug == slug and m.start.year == year]
            return Reply(body=committee_page(name, shown, year, slug).encode(), headers=HTML)

        return page

    def publish_minutes(self, meeting: Meeting, items: tuple[Item, ...]) -> Meeting:
        minutes = replace(meeting, kind="referat", items=items)
        self.meetings.append(minutes)
        return minutes


def danish(moment: datetime) -> str:
    return f"{moment.day}. {MONTHS[moment.month - 1]} {moment.year} kl. {moment:%H:%M}"


def overview_page(committees: dict[str, str], previous: dict[str, str]) -> str:
    def links(named: dict[str, str]) -> str:
        return "\n".join(f'<li><a href="{OVERVIEW}/{slug}">{escape(name)}</a></li>' for slug, name in named.items())

    return f"""<!DOCTYPE html>
<html lang="da">
<head><meta charset="utf-8"><title>Dagsordener og referater | Frederikssund Kommune</title></head>
<body>
<nav class="breadcrumb"><a href="/">Forside</a> / <a href="/Politik">Politik</a> /
<a href="{OVERVIEW}">Dagsordener og referater</a></nav>
<main>
<h1>Dagsordener og referater</h1>
<h2>Byråd og udvalg</h2>
<ul class="link-list">
{links(committees)}
</ul>
<h2>Tidligere udvalg</h2>
<ul class="link-list">
{links(previous)}
</ul>
</main>
</body>
</html>
"""


def committee_page(name: str, meetings: list[Meeting], year: int, slug: str = "") -> str:
    rows = "\n".join(
        f'<li class="meeting-list__item"><a href="{m.path}">{m.kind.capitalize()} – {danish(m.start)}</a></li>'
        for m in sorted(meetings, key=lambda m: (m.start, m.kind), reverse=True)
    )
    return f"""<!DOCTYPE html>
<html lang="da">
<head><meta charset="utf-8"><title>{escape(name)} | Frederikssund Kommune</title></head>
<body>
<main>
<h1>{escape(name)}</h1>
<nav class="year-filter"><a href="?year={year - 1}">{year - 1}</a> <a class="active" href="?year={year}">{year}</a></nav>
<ul class="meeting-list">
{rows}
</ul>
{_side_box(slug, year)}
</main>
</body>
</html>
"""


def _side_box(slug: str, year: int) -> str:
    """Other committees' pages show Byrådet's next meeting beside their own list."""
    if slug == "Byraadet":
        return ""
    link = f'<a href="{OVERVIEW}/Byraadet/{year}-12-16_18-00/dagsorden">Dagsorden – 16. december {year}</a>'
    return f'<aside class="latest"><h2>Byrådets næste møde</h2>\n{link}</aside>'


def meeting_page(name: str, meeting: Meeting) -> str:
    items = "\n".join(_item(item) for item in meeting.items)
    owner = name.removesuffix("et") + "ets" if name.endswith("et") else name + "s"
    return f"""<!DOCTYPE html>
<html lang="da">
<head><meta charset="utf-8"><title>{escape(owner)} møde den {danish(meeting.start)} | Frederikssund Kommune</title></head>
<body>
<main>
<h1>{escape(name)}</h1>
<p class="meeting-meta">{meeting.kind.capitalize()} · {danish(meeting.start)} · Byrådssalen, Rådhuset</p>
<div class="agenda">
{items}
</div>
</main>
</body>
</html>
"""


def _item(item: Item) -> str:
    body = f"<p>Sagsnr.: {escape(item.case)}</p>\n" if item.case else ""
    for heading, text in item.sections:
        body += f"<h3>{escape(heading)}</h3>\n" + "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n")) + "\n"
    if item.bilag:
        links = "".join(f'<li><a href="{path}">{escape(name)}</a></li>' for name, path in item.bilag)
        body += f"<h3>Bilag</h3>\n<ul>{links}</ul>\n"
    return f"""<div class="agenda-item" id="item-{item.number}">
<h2 class="agenda-item__header"><button type="button" aria-expanded="false"><span class="no">{item.number}</span><span>{escape(item.title)}</span></button></h2>
<div class="agenda-item__content">
{body}</div>
</div>"""


def agenda_items(decided: bool = False) -> tuple[Item, ...]:
    """Økonomiudvalget's agenda: an opening item, a climate project with attachments, a closed
    item; ``decided`` adds each open item's decision (the minutes)."""
    first: tuple[tuple[str, str], ...] = (("Indstilling", "Direktionen indstiller, at dagsordenen godkendes."),)
    plan: tuple[tuple[str, str], ...] = (
        ("Resume", "Sagen handler om anlægsbevilling til klimatilpasning i Jyllinge Nordmark."),
        ("Indstilling", "Direktionen indstiller, at der gives en anlægsbevilling på 12,5 mio. kr."),
        ("Sagsfremstilling", "Området er udsat for stormflod fra Roskilde Fjord.\n\nDiget forhøjes til kote 2,7."),
        ("Økonomi", "Bevillingen finansieres af kassebeholdningen."),
    )
    if decided:
        first += (("Beslutning", "Godkendt."),)
        plan += (("Beslutning", "Anbefales over for Byrådet."),)
    return (
        Item(1, "Godkendelse af dagsorden", sections=first),
        Item(
            2,
            "Klimatilpasning i Jyllinge Nordmark – anlægsbevilling",
            case="26/01234",
            sections=plan,
            bilag=(
                ("Projektbeskrivelse", "/media/41234/projektbeskrivelse.pdf"),
                ("Tidsplan", "/media/41235/tidsplan.pdf"),
            ),
        ),
        Item(3, "Lukket punkt: Køb af ejendom"),
    )
