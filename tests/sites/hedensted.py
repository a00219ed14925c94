"""Hedensted's site (Umbraco with an SBSYS agenda module) in the shapes PORTALS.md describes.

The overview links one page per committee (``…/<udvalg>-dagsordener-og-referater``); each
committee page carries ``data-listid`` (the SBSYS folder, e.g. ``2026UKlima``),
``data-pageurl`` and ``data-elementid``; ``GetAgendaList`` wants all three (else HTTP 400) and
answers an HTML fragment of ``a.list__link`` with ``DD-MM-YYYY`` in their path. A meeting page
has items ``<h2>N. Title</h2>`` with sections under ``<h3>``. Our assumptions: the list links'
path ``…/<dagsorden|referat>/DD-MM-YYYY`` and text ("Referat", "Dagsorden"), the page header,
the ``Sagsnr.`` line (an SBSYS number) and the bilag links. The texts are our own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from html import escape

from tests.portal import Reply, Server

OVERVIEW = "/politik-og-indflydelse/kommunalbestyrelse-og-udvalg/dagsordener-og-referater"
LIST = "/surface/AgendaSurface/GetAgendaList"
MONTHS = "januar februar marts april maj juni juli august september oktober november december".split()
HTML = {"Content-Type": "text/html; charset=utf-8"}


@dataclass(frozen=True)
class Item:
    number: int
    title: str
    case: str | None = None
    sections: tuple[tuple[str, str], ...] = ()  # heading, text (paragraphs split by blank lines)
    bilag: tuple[tuple[str, str], ...] = ()  # name, file name under /media/
    decision: str | None = None  # shown in the minutes only


@dataclass(frozen=True)
class Meeting:
    day: date
    items: tuple[Item, ...]
    minutes: bool = False  # the list links the minutes (besides the agenda)
    time: str = "15:00"


@dataclass
class Committee:
    slug: str  # the page's name without "-dagsordener-og-referater"
    name: str
    list_id: str
    meetings: list[Meeting] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"{OVERVIEW}/{self.slug}-dagsordener-og-referater"

    def meeting_path(self, meeting: Meeting, kind: str) -> str:
        return f"{self.path}/{kind}/{meeting.day:%d-%m-%Y}"


@dataclass
class Site:
    committees: list[Committee] = field(default_factory=list)

    def install(self, server: Server) -> None:
        server.html(OVERVIEW, overview(self.committees))
        lists: dict[str, str] = {}
        for committee in self.committees:
            server.html(committee.path, committee_page(committee))
            lists[committee.list_id] = agenda_list(committee)
            for meeting in committee.meetings:
                server.html(committee.meeting_path(meeting, "dagsorden"), meeting_page(committee, meeting, False))
                if meeting.minutes:
                    server.html(committee.meeting_path(meeting, "referat"), meeting_page(committee, meeting, True))

        def agenda_lists(query: dict[str, list[str]]) -> Reply:
            values = {name: query.get(name, [""])[0] for name in ("folderId", "pageUrl", "elementId")}
            if not all(values.values()):  # as the real endpoint: all three, or 400
                return Reply(status=400, body=b"<h1>Bad Request</h1>", headers=HTML, validators=False)
            body = lists.get(values["folderId"], '<div class="list"><p>Ingen dagsordener.</p></div>')
            return Reply(body=body.encode(), headers=HTML)

        server.handlers[LIST] = agenda_lists


def danish(day: date) -> str:
    return f"{day.day}. {MONTHS[day.month - 1]} {day.year}"


def overview(committees: list[Committee]) -> str:
    links = "\n".join(
        f'<li><a href="https://www.hedensted.dk{c.path}">{escape(c.name)}</a></li>'
        if i % 2
        else f'<li><a href="{c.path}">{escape(c.name)}</a></li>'
        for i, c in enumerate(committees)
    )
    return f"""<!DOCTYPE html>
<html lang="da">
<head><meta charset="utf-8"><title>Dagsordener og referater | Hedensted Kommune</title></head>
<body>
<nav class="breadcrumb"><a href="/">Forside</a> <a href="/politik-og-indflydelse">Politik og indflydelse</a></nav>
<main>
<h1>Dagsordener og referater</h1>
<p>Her finder du dagsordener og referater fra Kommunalbestyrelsen og de stående udvalg.</p>
<ul class="link-list">
{links}
</ul>
<p><a href="{OVERVIEW}/arkiv/2022-2025">Dagsordener fra valgperioden 2022-2025</a></p>
</main>
</body>
</html>
"""


def committee_page(committee: Committee) -> str:
    return f"""<!DOCTYPE html>
<html lang="da">
<head><meta charset="utf-8">
<title>{escape(committee.name)} - dagsordener og referater | Hedensted Kommune</title></head>
<body>
<nav class="breadcrumb"><a href="/">Forside</a> <a href="{OVERVIEW}">Dagsordener og referater</a></nav>
<main>
<h1>{escape(committee.name)} - dagsordener og referater</h1>
<div class="agenda-list js-agenda-list" data-listid="{escape(committee.list_id)}"
     data-pageurl="{escape(committee.path)}" data-elementid="5c1e0b7a-3f7d-4d55-9a86-{committee.list_id.lower():0>12}">
  <p class="agenda-list__loading">Henter dagsordener &hellip;</p>
</div>
</main>
</body>
</html>
"""


def agenda_list(committee: Committee) -> str:
    rows = []
    for meeting in sorted(committee.meetings, key=lambda m: m.day, reverse=True):
        for kind in ("referat", "dagsorden") if meeting.minutes else ("dagsorden",):
            rows.append(
                f'<li class="list__item"><a class="list__link" href="{committee.meeting_path(meeting, kind)}">'
                f'<span class="list__title">{kind.capitalize()}</span> '
                f'<span class="list__date">{danish(meeting.day)}</span></a></li>'
            )
    return '<div class="list"><ul class="list__items">\n' + "\n".join(rows) + "\n</ul></div>"


def meeting_page(committee: Committee, meeting: Meeting, minutes: bool) -> str:
    kind = "Referat" if minutes else "Dagsorden"
    items = "\n".join(_item(item, minutes) for item in meeting.items)
    return f"""<!DOCTYPE html>
<html lang="da">
<head><meta charset="utf-8">
<title>{kind} - {escape(committee.name)} {meeting.day:%d-%m-%Y} | Hedensted Kommune</title></head>
<body>
<nav class="breadcrumb"><a href="/">Forside</a> <a href="{committee.path}">{escape(committee.name)}</a></nav>
<main>
<div class="meeting">
<h1>{kind}</h1>
<div class="meeting__info">
<p><strong>Udvalg:</strong> {escape(committee.name)}</p>
<p><strong>Mødedato:</strong> {meeting.day:%d-%m-%Y} kl. {meeting.time}</p>
<p><strong>Mødested:</strong> Rådhuset, Niels Espes Vej 8, mødelokale 2</p>
</div>
<div class="meeting__content rte">
{items}
</div>
</div>
</main>
<footer><h2>Kontakt</h2><p>Hedensted Kommune, Niels Espes Vej 8, 8722 Hedensted</p></footer>
</body>
</html>
"""


def _item(item: Item, minutes: bool) -> str:
    html = f"<h2>{item.number}. {escape(item.title)}</h2>\n"
    if item.case:
        html += f"<p>Sagsnr.: {escape(item.case)}</p>\n"
    for heading, text in item.sections:
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
        html += f"<h3>{escape(heading)}</h3>\n{paragraphs}\n"
    if minutes and item.decision:
        html += f"<h3>Beslutning</h3>\n<p>{escape(item.decision)}</p>\n"
    if item.bilag:
        links = "".join(f'<li><a href="/media/{f}">{escape(n)}</a></li>' for n, f in item.bilag)
        html += f"<h3>Bilag</h3>\n<ul>{links}</ul>\n"
    return html


def climate_items(decision: str = "Godkendt.") -> tuple[Item, ...]:
    """The Klima, Natur og Miljø committee's items: an opening, a case with bilag, a closed one."""
    return (
        Item(
            1, "Godkendelse af dagsorden", sections=(("Indstilling", "At dagsordenen godkendes."),), decision=decision
        ),
        Item(
            2,
            "Klimatilpasning af Hedensted Å – forundersøgelse",
            case="06.02.03-P20-4-26",
            sections=(
                ("Beslutningstema", "Udvalget skal beslutte, om forundersøgelsen af Hedensted Å sættes i gang."),
                ("Sagsfremstilling", "Åen gik over sine bredder tre gange i 2025.\n\nForundersøgelsen tager et år."),
                ("Økonomi", "Forundersøgelsen koster 450.000 kr., som findes i klimapuljen."),
                ("Indstilling", "Direktøren for Teknik indstiller, at forundersøgelsen igangsættes."),
            ),
            bilag=(
                ("Kort over oplandet", "4412/kort-over-oplandet.pdf"),
                ("Notat om oversvømmelser", "4413/notat.pdf"),
            ),
            decision=decision,
        ),
        Item(3, "Lukket punkt: Erhvervelse af areal ved Løsning"),
    )


def standard_site(minutes: bool = False, decision: str = "Godkendt.") -> Site:
    """Two committees: Klima (one meeting, 12.05.2026) and Børn (one meeting, 19.05.2026)."""
    klima = Committee(
        "udvalget-for-klima-natur-og-miljoe",
        "Udvalget for Klima, Natur og Miljø",
        "2026UKlima",
        [Meeting(date(2026, 5, 12), climate_items(decision), minutes=minutes)],
    )
    boern = Committee(
        "boerne-og-familieudvalget",
        "Børne- og Familieudvalget",
        "2026UBoern",
        [
            Meeting(
                date(2026, 5, 19),
                (
                    Item(
                        1,
                        "Dagtilbudsstruktur 2027",
                        case="28.00.00-A00-2-26",
                        sections=(("Indstilling", "At sagen drøftes."),),
                    ),
                ),
                time="16:30",
            )
        ],
    )
    return Site([klima, boern])
