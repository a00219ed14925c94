"""Ringkøbing-Skjern's site (eDoc agendas in Dynamicweb) in the shapes PORTALS.md describes.

Lists: ``/om-kommunen/byraad/dagsorden-og-referat`` and a page per committee under
``/om-kommunen/politiske-udvalg/`` (``ref-`` pages: former committees); rows ``tr.agenda--tr``
with a Danish date ("29. september 2026") and ``?AgendaID=N``. A meeting page: items
``div.agenda--card.agenda--item`` with an id, title ``<h2 class="h3">N <span>: Title</span></h2>``,
sections in ``<strong>``. Served as ``text/html`` without a charset (the bytes are UTF-8), and
with inline base64 images. Our assumptions: the overview linking the committee pages, each
committee page linking its list (``…/<udvalg>/dagsorden-og-referat``), the row's cells
(number, day, committee, a link saying "Dagsorden" or "Referat"), the page header, the
``Sagsnr.`` line, the ``Print`` and ``Bilag`` links. The texts are our own.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date
from html import escape

from tests.portal import Reply, Server

BYRAAD = "/om-kommunen/byraad/dagsorden-og-referat"
COMMITTEES = "/om-kommunen/politiske-udvalg"
MONTHS = "januar februar marts april maj juni juli august september oktober november december".split()
NO_CHARSET = {"Content-Type": "text/html"}  # as the real site: no charset, UTF-8 bytes


@dataclass(frozen=True)
class Item:
    number: int
    title: str
    guid: str
    case: str | None = None
    sections: tuple[tuple[str, str], ...] = ()  # heading, text (paragraphs split by blank lines)
    bilag: tuple[tuple[str, str], ...] = ()  # name, file name under the meeting's /Edoc/ folder
    decision: str | None = None  # shown in the minutes only
    image: int = 0  # bytes of an inline base64 PNG in the Sagsfremstilling (0: none)


@dataclass(frozen=True)
class Meeting:
    agenda_id: int
    day: date
    items: tuple[Item, ...]
    minutes: bool = False
    time: str = "15:00"


@dataclass
class Committee:
    slug: str  # "" for the byråd
    name: str
    meetings: list[Meeting] = field(default_factory=list)

    @property
    def list_path(self) -> str:
        return f"{COMMITTEES}/{self.slug}/dagsorden-og-referat" if self.slug else BYRAAD


@dataclass
class Site:
    byraad: Committee = field(default_factory=lambda: Committee("", "Byrådet"))
    committees: list[Committee] = field(default_factory=list)
    former: list[Committee] = field(default_factory=list)  # served under ref-<slug>

    def install(self, server: Server) -> None:
        server.routes[COMMITTEES] = page(overview(self.committees, self.former))
        for committee in [self.byraad, *self.committees, *self.former]:
            if committee.slug:
                server.routes[f"{COMMITTEES}/{committee.slug}"] = page(committee_page(committee))
            server.routes[committee.list_path] = page(list_page(committee))
            for meeting in committee.meetings:
                server.routes[f"{committee.list_path}?AgendaID={meeting.agenda_id}"] = page(
                    meeting_page(committee, meeting)
                )


def page(html: str) -> Reply:
    return Reply(body=html.encode("utf-8"), headers=NO_CHARSET)


def danish(day: date) -> str:
    return f"{day.day}. {MONTHS[day.month - 1]} {day.year}"


def overview(committees: list[Committee], former: list[Committee]) -> str:
    links = "\n".join(f'<li><a href="{COMMITTEES}/{c.slug}">{escape(c.name)}</a></li>' for c in committees)
    old = "\n".join(f'<li><a href="{COMMITTEES}/{c.slug}">{escape(c.name)} (2022-2025)</a></li>' for c in former)
    return _frame(
        "Politiske udvalg",
        f"""<h1>Politiske udvalg</h1>
<ul class="committee-list">
{links}
</ul>
<h2>Tidligere udvalg</h2>
<ul class="committee-list">
{old}
</ul>""",
    )


def committee_page(committee: Committee) -> str:
    return _frame(
        committee.name,
        f"""<h1>{escape(committee.name)}</h1>
<p>Udvalget mødes normalt den sidste tirsdag i måneden.</p>
<ul class="sub-nav">
<li><a href="{COMMITTEES}/{committee.slug}/medlemmer">Medlemmer</a></li>
<li><a href="{committee.list_path}">Dagsorden og referat</a></li>
</ul>""",
    )


def list_page(committee: Committee) -> str:
    rows = []
    for number, meeting in enumerate(sorted(committee.meetings, key=lambda m: m.day, reverse=True), 1):
        href = f"{committee.list_path}?AgendaID={meeting.agenda_id}"
        rows.append(
            f'<tr class="agenda--tr" onclick="top.location=\'{href}\'">'
            f'<td class="agenda--td-nr">{number}</td><td>{danish(meeting.day)}</td><td>{escape(committee.name)}</td>'
            f'<td><a href="{href}">{"Referat" if meeting.minutes else "Dagsorden"}</a></td></tr>'
        )
    body = "\n".join(rows)
    return _frame(
        f"Dagsorden og referat - {committee.name}",
        f"""<h1>{escape(committee.name)} - dagsorden og referat</h1>
<table class="agenda--table">
<thead><tr><th>Nr.</th><th>Dato</th><th>Udvalg</th><th>Type</th></tr></thead>
<tbody>
{body}
</tbody>
</table>""",
    )


def meeting_page(committee: Committee, meeting: Meeting) -> str:
    kind = "Referat" if meeting.minutes else "Dagsorden"
    folder = f"/Edoc/{committee.name}/{meeting.day:%Y-%m-%d} {meeting.time.replace(':', '.')}/{kind}"
    items = "\n".join(_item(item, meeting.minutes, folder) for item in meeting.items)
    return _frame(
        "Dagsorden og referat",
        f"""<h1>{escape(committee.name)}</h1>
<div class="agenda--header">
<p>{kind}</p>
<p>Mødedato: {danish(meeting.day)}, kl. {meeting.time}</p>
<p>Mødested: Rådhuset, Ringkøbing, mødelokale 2</p>
<a id="download-pdf" href="{escape(folder)}/{kind}.pdf" title="Hent hele {kind.lower()}">Hent hele {kind.lower()}</a>
</div>
<div class="agenda--card"><h2>Deltagere</h2><ul><li>Hans Østergaard (V)</li><li>Kirstine Bille (SF)</li>
<li>Søren Elbæk (A)</li></ul></div>
{items}""",
    )


def _item(item: Item, minutes: bool, folder: str) -> str:
    body = f"<p>Sagsnr.: {escape(item.case)}</p>\n" if item.case else ""
    for heading, text in item.sections:
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
        if heading == "Indstilling":  # eDoc writes some headings as a bold line and a <br>
            body += (
                f"<div><strong>{heading}</strong><br>{paragraphs.replace('<p>', '').replace('</p>', '<br>')}</div>\n"
            )
        else:
            body += f"<p><strong>{escape(heading)}</strong></p>\n{paragraphs}\n"
        if heading == "Sagsfremstilling" and item.image:
            body += f'<p><img alt="Kort" src="data:image/png;base64,{png_base64(item.image)}"></p>\n'
    if minutes and item.decision:
        body += f"<p><strong>Beslutning</strong></p>\n<p>{escape(item.decision)}</p>\n"
    if item.bilag:
        links = "".join(f'<li><a href="{escape(folder)}/{escape(f)}">{escape(n)}</a></li>' for n, f in item.bilag)
        body += f"<p><strong>Bilag</strong></p>\n<ul>{links}</ul>\n"
    return f"""<div class="agenda--card agenda--item" id="{item.guid}">
<div class="agenda--card-header"><h2 class="h3">{item.number} <span>: {escape(item.title)}</span></h2>
<a class="agenda--print" href="{escape(folder)}/Punkt {item.number}.pdf" title="Print {escape(item.title)}">Print</a></div>
<div class="agenda--card-body">
{body}</div>
</div>"""


def png_base64(size: int) -> str:
    """About ``size`` bytes of base64 that look like a PNG's (the signature, then filler)."""
    raw = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * (size * 3 // 4 // 256 + 1)
    return base64.b64encode(raw).decode()[:size]


def _frame(title: str, main: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="da">
<head><title>{escape(title)} - Ringkøbing-Skjern Kommune</title>
<style>.agenda--tr {{ cursor: pointer; }} .logo {{ background: url(data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=) }}</style>
</head>
<body>
<header><a class="logo" href="/">Ringkøbing-Skjern Kommune</a></header>
<main>
{main}
</main>
<footer><p>Ringkøbing-Skjern Kommune · Ved Fjorden 6 · 6950 Ringkøbing</p></footer>
</body>
</html>
"""


def economy_items(decision: str = "Godkendt.", image: int = 0) -> tuple[Item, ...]:
    """Økonomiudvalget's items: an opening, a case with bilag (and maybe a big image), a closed one."""
    return (
        Item(
            1,
            "Godkendelse af dagsorden",
            "3f2a1c9e-0b6d-4f57-9d3e-6a1b2c3d4e01",
            sections=(("Indstilling", "Direktionen indstiller, at dagsordenen godkendes."),),
            decision=decision,
        ),
        Item(
            2,
            "Kystbeskyttelse ved Søndervig – anlægsbevilling",
            "3f2a1c9e-0b6d-4f57-9d3e-6a1b2c3d4e02",
            case="26-012345",
            sections=(
                ("Sagsfremstilling", "Stormfloden i oktober 2025 tog 12 meter klit.\n\nProjektet sikrer 1,4 km kyst."),
                ("Økonomi", "Anlægsudgiften er 8,2 mio. kr., heraf 4,1 mio. kr. fra staten."),
                ("Indstilling", "Direktionen indstiller, at der gives en anlægsbevilling på 8,2 mio. kr."),
            ),
            bilag=(("Projektbeskrivelse Søndervig", "Bilag 1.pdf"), ("Kort over kyststrækningen", "Bilag 2.pdf")),
            decision=decision,
            image=image,
        ),
        Item(3, "Lukket punkt: Salg af erhvervsgrund i Tarm", "3f2a1c9e-0b6d-4f57-9d3e-6a1b2c3d4e03"),
    )


def standard_site(minutes: bool = False, decision: str = "Godkendt.", image: int = 0) -> Site:
    """Byrådet (AgendaID 5001, 29.09.2026), Økonomiudvalget (5002, 22.09.2026), a former committee."""
    council = Item(
        1,
        "Helhedsplan for Ringkøbing Fjord",
        "7c9d0e1f-2a3b-4c5d-8e9f-000000000101",
        case="25-098765",
        sections=(("Sagsfremstilling", "Planen samler indsatser for fjorden."), ("Indstilling", "At planen vedtages.")),
    )
    return Site(
        byraad=Committee("", "Byrådet", [Meeting(5001, date(2026, 9, 29), (council,), time="18:00")]),
        committees=[
            Committee(
                "oekonomiudvalget",
                "Økonomiudvalget",
                [Meeting(5002, date(2026, 9, 22), economy_items(decision, image), minutes=minutes)],
            )
        ],
        former=[Committee("ref-teknik-og-miljoeudvalget", "Teknik- og Miljøudvalget", [])],
    )
