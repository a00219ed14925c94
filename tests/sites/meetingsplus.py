"""A Formpipe Meetings+ site (``billund.meetingsplus.dk``) in the shapes PORTALS.md describes.

``/overview`` lists meetings as ``meeting-list-item`` rows (``data-content-id``, a link, an ISO
date, the committee in ``url-text``); a meeting page has ``agendaTabContent`` and, once the
minutes exist, ``protocolTabContent``, with ``li.meeting-item-row`` items (``list-item-number``,
``item-title``, ``name="id_<n>"``). Each item's text is a PDF; its link shape
(``/pdf/agendaitem/<n>``, ``/pdf/protocolitem/<n>``) is our assumption, as in the adapter.
The texts are our own, written the way Danish agendas are.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from html import escape
from pathlib import Path

from tests.pdfmaker import make_pdf
from tests.portal import Server

REAL_HOST = "https://billund.meetingsplus.dk"


@dataclass(frozen=True)
class Item:
    id: str
    number: int
    title: str  # as the page shows it, Billund's "D - " / "O - " included
    case: str | None = None
    sections: tuple[tuple[str, str], ...] = ()
    decision: tuple[str, str] | None = None  # heading and text, in the minutes' PDF
    attachments: tuple[tuple[str, str], ...] = ()  # name, file id
    closed: bool = False  # listed without a PDF


@dataclass(frozen=True)
class Meeting:
    content_id: str
    committee: str
    start: str  # ISO, as in the overview's datetime attribute
    slug: str
    items: tuple[Item, ...]
    minutes: bool = False
    place: str = "Mødelokale 1, Rådhuset, Jorden Rundt 1, 7200 Grindsted"

    @property
    def path(self) -> str:
        return f"/committees/{self.slug}/meetings/{self.content_id}"

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.start)


def pdf_path(item: Item, protocol: bool) -> str:
    return f"/pdf/{'protocol' if protocol else 'agenda'}item/{item.id}"


# --- pages --------------------------------------------------------------------------------------


def overview_html(meetings: list[Meeting], planned: tuple[tuple[str, str], ...] = ()) -> str:
    """The overview; ``planned`` (committee, ISO date) rows have no link yet: nothing is published."""
    rows = []
    for meeting in meetings:
        rows.append(
            f"""      <li class="meeting-list-item" data-content-id="{meeting.content_id}">
        <a class="meeting-list-item-link" href="{REAL_HOST}{meeting.path}">
          <div class="meeting-date"><time datetime="{meeting.start}">{meeting.when:%d.%m.%Y} kl. {meeting.when:%H:%M}</time></div>
          <div class="meeting-committee"><span class="url-text">{escape(meeting.committee)}</span></div>
          <div class="meeting-location">{escape(meeting.place)}</div>
        </a>
      </li>"""
        )
    for committee, day in planned:
        rows.append(
            f"""      <li class="meeting-list-item" data-content-id="planned-{day}">
        <div class="meeting-date"><time datetime="{day}T16:00:00">{day}</time></div>
        <div class="meeting-committee"><span class="url-text">{escape(committee)}</span></div>
        <div class="meeting-location">Dagsordenen er endnu ikke offentliggjort</div>
      </li>"""
        )
    return _page(
        "Mødeoversigt",
        f"""<h1>Mødeoversigt</h1>
    <p class="lead">Kommende og afholdte møder i alle udvalg.</p>
    <ul class="meeting-list list-unstyled">
{chr(10).join(rows)}
    </ul>""",
    )


def meeting_html(meeting: Meeting) -> str:
    tabs = [("agendaTab", "Dagsorden", _tab("agendaTabContent", meeting, protocol=False))]
    if meeting.minutes:
        tabs.insert(0, ("protocolTab", "Referat", _tab("protocolTabContent", meeting, protocol=True)))
    buttons = "".join(
        f'<li class="nav-item"><a class="nav-link" id="{tab}" data-toggle="tab" href="#{tab}Content">{name}</a></li>'
        for tab, name, _ in tabs
    )
    return _page(
        meeting.committee,
        f"""<div class="meeting-header">
      <h1>{escape(meeting.committee)}</h1>
      <p class="meeting-info">{meeting.when:%d.%m.%Y} kl. {meeting.when:%H:%M}, {escape(meeting.place)}</p>
      <a class="btn btn-secondary" href="/pdf/meeting/{meeting.content_id}">Hent hele dagsordenen</a>
    </div>
    <ul class="nav nav-tabs" role="tablist">{buttons}</ul>
    <div class="tab-content">
{"".join(body for _, _, body in tabs)}
    </div>""",
    )


def _tab(tab_id: str, meeting: Meeting, protocol: bool) -> str:
    rows = "".join(_row(item, protocol) for item in meeting.items)
    return f"""      <div class="tab-pane" id="{tab_id}" role="tabpanel">
        <ul class="meeting-items list-unstyled">{rows}
        </ul>
      </div>
"""


def _row(item: Item, protocol: bool) -> str:
    pdf = (
        ""
        if item.closed
        else f'<a class="item-pdf" href="{pdf_path(item, protocol)}" target="_blank" title="Åbn punktet som PDF">'
        '<i class="icon-file"></i> Punktet som PDF</a>'
    )
    attachments = "".join(
        f'<li class="attachment"><a href="/attachments/{file_id}" target="_blank">{escape(name)}</a></li>'
        for name, file_id in item.attachments
    )
    listing = f'<ul class="item-attachments">{attachments}</ul>' if attachments else ""
    return f"""
          <li class="meeting-item-row">
            <a name="id_{item.id}"></a>
            <div class="meeting-item-header">
              <span class="list-item-number">{item.number}.</span>
              <span class="item-title">{escape(item.title)}</span>
            </div>
            <div class="meeting-item-actions">{pdf}</div>
            {listing}
          </li>"""


def _page(title: str, main: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="da">
<head><meta charset="utf-8"><title>{escape(title)} - Billund Kommune</title>
<link rel="stylesheet" href="/Content/site.css"></head>
<body>
  <header class="site-header"><a class="logo" href="/overview">Billund Kommune – Dagsordener og referater</a></header>
  <main id="main-content" class="container">
    {main}
  </main>
  <footer class="site-footer">Meetings+ fra Formpipe</footer>
</body>
</html>
"""


# --- PDFs ---------------------------------------------------------------------------------------


def item_lines(meeting: Meeting, item: Item, protocol: bool) -> list[str]:
    """An item's PDF: the site's heading (committee, date, number and title, case), then sections."""
    lines = [
        "Billund Kommune",
        f"### {meeting.committee}",
        f"{'Referat' if protocol else 'Dagsorden'} for mødet den {meeting.when:%d.%m.%Y} kl. {meeting.when:%H:%M}",
        "",
        f"### {item.number}. {item.title}",
    ]
    lines += [f"Sagsnr.: {item.case}", ""] if item.case else [""]
    for heading, text in item.sections:
        lines += [f"### {heading}", *text.split("\n"), ""]
    if protocol and item.decision is not None:
        lines += [f"### {item.decision[0]}", *item.decision[1].split("\n"), ""]
    return lines


@lru_cache(maxsize=None)
def pdf_bytes(lines: tuple[str, ...]) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return make_pdf(Path(folder) / "punkt.pdf", list(lines)).read_bytes()


def serve(server: Server, meetings: list[Meeting], planned: tuple[tuple[str, str], ...] = ()) -> None:
    """Every page and PDF of the site on ``server``."""
    server.html("/overview", overview_html(meetings, planned))
    for meeting in meetings:
        server.html(meeting.path, meeting_html(meeting))
        for item in meeting.items:
            for protocol in (False, True) if meeting.minutes else (False,):
                if not item.closed:
                    body = pdf_bytes(tuple(item_lines(meeting, item, protocol)))
                    server.raw(pdf_path(item, protocol), body, "application/pdf")


def decided(meeting: Meeting) -> Meeting:
    """The same meeting once its minutes are out."""
    return replace(meeting, minutes=True)


# --- Billund, May 2026 ----------------------------------------------------------------------------

ECONOMY = Meeting(
    "8412",
    "Økonomiudvalget",
    "2026-05-18T16:00:00",
    "okonomiudvalget",
    (
        Item(
            "41230",
            1,
            "Godkendelse af dagsorden",
            sections=(("Indstilling", "Direktionen indstiller, at dagsordenen godkendes."),),
            decision=("Beslutning i Økonomiudvalget den 18-05-2026", "Godkendt."),
        ),
        Item(
            "41235",
            2,
            "D - Budgetopfølgning pr. 31. marts 2026",
            "26/1234",
            (
                (
                    "Resumé",
                    "Budgetopfølgningen viser et forventet merforbrug på 4,2 mio. kr. på serviceudgifterne, "
                    "primært på det specialiserede børneområde og på ældreområdet.",
                ),
                ("Sagsfremstilling", "Der er foretaget budgetopfølgning på alle udvalgsområder pr. 31. marts 2026."),
                (
                    "Indstilling",
                    "Direktionen indstiller,\n- at budgetopfølgningen godkendes\n- at merforbruget finansieres af kassebeholdningen",
                ),
            ),
            ("Beslutning i Økonomiudvalget den 18-05-2026", "Indstillingen godkendt.\nFraværende: Anne Holm."),
            attachments=(("Budgetoversigt 1. kvartal 2026", "90121"), ("Notat om merforbrug", "90122")),
        ),
        Item(
            "41236",
            3,
            "O - Orientering om ny affaldsordning",
            "25/8876",
            (
                ("Resumé", "Den nye ordning med fire affaldsbeholdere indføres i hele kommunen fra 1. september."),
                ("Indstilling", "Direktionen indstiller, at orienteringen tages til efterretning."),
            ),
            ("Beslutning i Økonomiudvalget den 18-05-2026", "Taget til efterretning."),
        ),
        Item("41237", 4, "Lukket punkt: Køb af ejendom", closed=True),
    ),
)

TECHNICAL = Meeting(
    "8420",
    "Plan- og Miljøudvalget",
    "2026-05-20T15:30:00",
    "plan-og-miljoudvalget",
    (
        Item(
            "41301",
            1,
            "D - Lokalplan 1.45 for boliger ved Grindsted Å",
            "26/2201",
            (
                ("Resumé", "Forslaget giver mulighed for 40 rækkehuse på den tidligere gartnerigrund."),
                ("Indstilling", "Administrationen indstiller, at forslaget sendes i offentlig høring i otte uger."),
            ),
            ("Beslutning", "Godkendt."),
        ),
        Item(
            "41302",
            2,
            "Vejplan 2027",
            "26/2250",
            (("Sagsfremstilling", "Planen prioriterer cykelstier langs skolevejene."),),
            ("Beslutning", "Udsat til næste møde."),
        ),
    ),
)

CHILDREN = Meeting(
    "8377",
    "Børne- og Familieudvalget",
    "2026-04-07T15:00:00",
    "borne-og-familieudvalget",
    (
        Item(
            "41102",
            1,
            "Skoledistrikter fra skoleåret 2027/28",
            "26/0987",
            (("Indstilling", "Forvaltningen indstiller, at skoledistrikterne sendes i høring."),),
            ("Beslutning i Børne- og Familieudvalget den 07-04-2026", "Godkendt."),
        ),
    ),
    minutes=True,
)


def billund() -> list[Meeting]:
    return [CHILDREN, ECONOMY, TECHNICAL]
