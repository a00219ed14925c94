"""Aalborg's minutes app (``apps.aalborgkommune.dk/dagsordenreferat/``) in the shapes PORTALS.md
describes.

``/dagsordenreferat/?Id={committee id}`` lists a committee's meetings as ``class="moede-link"``
anchors whose hrefs name the app's internal host (``http://localhost:5287``) and carry
``moedetitel=YYYY-MM-DD…`` in their query, with a ``title`` "Referat for <udvalg> <dato>";
``/dagsordenreferat/visreferat?{query}`` is the minutes: ``<h3>N. Title</h3>`` items followed by
their text, sections as bold paragraphs. The other parameter names (``moedeid``), the header,
the ``Sagsnr.`` line and the bilag links are our assumptions. The texts are our own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from html import escape
from urllib.parse import quote

from tests.portal import Reply, Server

LIST = "/dagsordenreferat/"
VIEW = "/dagsordenreferat/visreferat"
INTERNAL = "http://localhost:5287"
MONTHS = "januar februar marts april maj juni juli august september oktober november december".split()
WEEKDAYS = "mandag tirsdag onsdag torsdag fredag lørdag søndag".split()
HTML = {"Content-Type": "text/html; charset=utf-8"}


@dataclass(frozen=True)
class Item:
    number: int
    title: str
    case: str | None = None
    sections: tuple[tuple[str, str], ...] = ()  # heading, text (paragraphs split by blank lines)
    bilag: tuple[tuple[str, str], ...] = ()  # name, file id


@dataclass(frozen=True)
class Meeting:
    moede_id: int
    day: date
    items: tuple[Item, ...]
    time: str = "16.00"


@dataclass
class App:
    """The committees (id → name) and their meetings, served by :meth:`install`."""

    committees: dict[int, str] = field(default_factory=dict)
    meetings: dict[int, list[Meeting]] = field(default_factory=dict)

    def add(self, committee_id: int, name: str, *meetings: Meeting) -> App:
        self.committees[committee_id] = name
        self.meetings.setdefault(committee_id, []).extend(meetings)
        return self

    def install(self, server: Server) -> None:
        pages: dict[str, str] = {}
        for committee_id, name in self.committees.items():
            server.html(f"{LIST}?Id={committee_id}", list_page(committee_id, name, self.meetings.get(committee_id, [])))
            for meeting in self.meetings.get(committee_id, []):
                pages[str(meeting.moede_id)] = minutes_page(name, meeting)

        def view(query: dict[str, list[str]]) -> Reply | None:
            page = pages.get(query.get("moedeid", [""])[0])
            return Reply(body=page.encode(), headers=HTML) if page is not None else None

        server.handlers[VIEW] = view


def danish(day: date) -> str:
    return f"{day.day}. {MONTHS[day.month - 1]} {day.year}"


def query(committee_id: int, name: str, meeting: Meeting) -> str:
    return f"Id={committee_id}&moedeid={meeting.moede_id}&moedetitel={quote(f'{meeting.day.isoformat()} {name}')}"


def list_page(committee_id: int, name: str, meetings: list[Meeting]) -> str:
    links = "\n".join(
        f'<a class="moede-link list-group-item" href="{INTERNAL}{VIEW}?{escape(query(committee_id, name, m))}" '
        f'title="Referat for {escape(name)} {danish(m.day)}">'
        f"{WEEKDAYS[m.day.weekday()].capitalize()} {danish(m.day)}</a>"
        for m in sorted(meetings, key=lambda m: m.day, reverse=True)
    )
    return f"""<!DOCTYPE html>
<html lang="da">
<head><meta charset="utf-8"><title>Dagsordener og referater - Aalborg Kommune</title></head>
<body>
<header class="navbar"><a class="navbar-brand" href="{INTERNAL}{LIST}">Aalborg Kommune</a></header>
<main class="container">
<h1>{escape(name)}</h1>
<p>Referater fra møderne. Referatet offentliggøres, når mødet er holdt.</p>
<div class="list-group">
{links}
</div>
</main>
</body>
</html>
"""


def minutes_page(name: str, meeting: Meeting) -> str:
    items = "\n".join(_item(item) for item in meeting.items)
    return f"""<!DOCTYPE html>
<html lang="da">
<head><meta charset="utf-8"><title>Referat - {escape(name)} - Aalborg Kommune</title></head>
<body>
<main class="container referat">
<h1>Referat</h1>
<h2>{escape(name)}</h2>
<p class="moedeinfo">Mødedato: {meeting.day:%d.%m.%Y} kl. {meeting.time}<br>Mødested: Byrådssalen, Aalborg Rådhus</p>
<h3>Deltagere</h3>
<p>Alle medlemmer var til stede.</p>
{items}
</main>
</body>
</html>
"""


def _item(item: Item) -> str:
    html = f"<h3>{item.number}. {escape(item.title)}</h3>\n"
    if item.case:
        html += f"<p>Sagsnr.: {escape(item.case)}</p>\n"
    for heading, text in item.sections:
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
        html += f"<p><strong>{escape(heading)}</strong></p>\n{paragraphs}\n"
    if item.bilag:
        links = "".join(
            f'<li><a href="{INTERNAL}/dagsordenreferat/bilag?id={i}">{escape(n)}</a></li>' for n, i in item.bilag
        )
        html += f"<p><strong>Bilag</strong></p>\n<ul>{links}</ul>\n"
    return html + "<hr>"


def decided(text: str = "Godkendt.") -> tuple[str, str]:
    return ("Beslutning", text)


def council_items(decision: str = "Godkendt.") -> tuple[Item, ...]:
    """Byrådet's minutes: an opening item, a climate plan with attachments, a closed item."""
    return (
        Item(1, "Godkendelse af dagsorden", sections=(decided(),)),
        Item(
            2,
            "Klimatilpasningsplan for Aalborg Øst – endelig vedtagelse",
            case="2026-004512",
            sections=(
                ("Indstilling", "By- og Landskabsforvaltningen indstiller, at planen vedtages endeligt."),
                (
                    "Sagsfremstilling",
                    "Planen sikrer Aalborg Øst mod skybrud frem mod 2050.\n\nDer kom 14 høringssvar.",
                ),
                ("Økonomi", "Anlægsudgiften er 38 mio. kr. over fire år."),
                decided(decision),
            ),
            bilag=(("Kort over projektområdet", "9912"), ("Høringsnotat", "9913")),
        ),
        Item(3, "Lukket punkt: Salg af byggegrund i Vejgaard"),
    )
