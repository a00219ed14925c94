"""An imitation of an Åben Dagsorden site (Glostrup, Syddjurs): the meeting search and each
meeting's server-rendered view, shaped as PORTALS.md describes the real sites.

- ``GET /rest/meeting/search?query=&fromDate=&toDate=`` answers ``{numberOfResults, meetings}``
  with at most 50 rows; ``numberOfResults`` counts every meeting in the period. Glostrup reads
  and writes ``YYYY-MM-DD``, Syddjurs ``DD/MM/YYYY``; dates in the other form are refused the way
  a Spring application does (400 with a JSON error), or, with ``refuse="empty"``, read as nothing.
- ``GET /fragments/meeting/{id}/view``: a Thymeleaf fragment; items start at
  ``class="agenda-item-title"`` ("Punkt N Title") inside ``div.agenda-item`` with an ``id``, the
  sections follow as ``<h4>`` headings, attachments are download buttons (``data-id``,
  ``data-name``) as on the real site's meeting PDF button.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from html import escape
from typing import Literal

from tests.portal import Reply, Server

SEARCH = "/rest/meeting/search"
Format = Literal["iso", "dmy"]


def view_path(meeting_id: int) -> str:
    return f"/fragments/meeting/{meeting_id}/view"


@dataclass(frozen=True)
class Item:
    number: int
    title: str
    case: str
    sections: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[int, str], ...] = ()
    item_id: int = 0


@dataclass(frozen=True)
class Meeting:
    meeting_id: int
    day: date
    committee: str
    group: str | None = None
    hour: int = 16
    blocked: bool = False
    items: tuple[Item, ...] = ()
    kind: str = "Dagsorden"


def decided(meeting: Meeting, text: str = "Godkendt.", skip: tuple[int, ...] = ()) -> Meeting:
    """The minutes: each item (but ``skip``) gets a bare ``Beslutning`` section."""
    items = tuple(
        item
        if item.number in skip or item.title.startswith("Lukket")
        else replace(item, sections=(*item.sections, ("Beslutning", text)))
        for item in meeting.items
    )
    return replace(meeting, items=items, kind="Referat")


def _economy_items() -> tuple[Item, ...]:
    return (
        Item(1, "Godkendelse af dagsorden", "00.01.00-A00-1-26", (("Indstilling", "At dagsordenen godkendes."),)),
        Item(
            2,
            "Budgetopfølgning pr. 31. oktober 2026",
            "00.30.14-S00-3-26",
            (
                ("Resumé", "Budgetopfølgningen viser et forventet merforbrug på 3,1 mio. kr. på ældreområdet."),
                (
                    "Sagsfremstilling",
                    "Merforbruget skyldes flere visiterede timer i hjemmeplejen.\n\nDet dækkes af puljen.",
                ),
                ("Indstilling", "At budgetopfølgningen tages til efterretning."),
            ),
            ((9101, "Budgetoversigt oktober 2026.pdf"), (9102, "Notat om hjemmeplejen.pdf")),
        ),
        Item(
            3,
            "Klimatilpasning ved Store Vejleå",
            "06.02.00-P20-1-25",
            (
                ("Resumé", "Forslag om regnvandsbassin og skybrudsvej ved Store Vejleå."),
                ("Økonomi", "Anlægsudgiften er 12 mio. kr. over to år."),
                ("Indstilling", "At projektet sendes i høring."),
            ),
        ),
        Item(4, "Lukket punkt: Køb af ejendom", "", ()),
    )


def _items(meeting_id: int, items: tuple[Item, ...]) -> tuple[Item, ...]:
    return tuple(replace(item, item_id=meeting_id * 10 + item.number) for item in items)


GLOSTRUP_ECONOMY = Meeting(
    4711, date(2026, 11, 18), "Økonomiudvalget", "Økonomiudvalget", 16, items=_items(4711, _economy_items())
)
GLOSTRUP_TECHNICAL = Meeting(
    4712,
    date(2026, 11, 25),
    "Teknik- og Miljøudvalget",
    "Teknik- og Miljøudvalget",
    17,
    items=_items(
        4712,
        (
            Item(1, "Trafikplan for Hovedvejen", "05.01.00-P15-2-26", (("Resumé", "Ny trafikplan med 30 km/t."),)),
            Item(2, "Vintertjeneste 2026/27", "05.13.00-G01-1-26", (("Indstilling", "At regulativet godkendes."),)),
        ),
    ),
)
GLOSTRUP_OLD = Meeting(
    4700,
    date(2026, 10, 7),
    "Økonomiudvalget",
    "Økonomiudvalget",
    items=_items(4700, (Item(1, "Budget 2027", "00.30.00-S00-1-26"),)),
)
GLOSTRUP_TEST = Meeting(
    4713, date(2026, 11, 19), "Testudvalget", "Testudvalget", items=_items(4713, (Item(1, "Test", "1"),))
)
GLOSTRUP_BLOCKED = Meeting(
    4714,
    date(2026, 11, 20),
    "Økonomiudvalget",
    "Økonomiudvalget",
    blocked=True,
    items=_items(4714, (Item(1, "Fortroligt", "2"),)),
)


def glostrup() -> list[Meeting]:
    return [GLOSTRUP_OLD, GLOSTRUP_ECONOMY, GLOSTRUP_TEST, GLOSTRUP_BLOCKED, GLOSTRUP_TECHNICAL]


SYDDJURS_ECONOMY = Meeting(
    812, date(2026, 11, 24), "Økonomiudvalget (ØK)", "Økonomiudvalget", 14, items=_items(812, _economy_items()[:3])
)
SYDDJURS_CHILDREN = Meeting(
    813,
    date(2026, 12, 2),
    "Børne- og Undervisningsudvalget (BUU)",
    "Børne- og Undervisningsudvalget",
    15,
    items=_items(
        813, (Item(1, "Skolestruktur i Rønde", "17.01.00-P20-1-26", (("Resumé", "Høring om skolestruktur."),)),)
    ),
)


def syddjurs() -> list[Meeting]:
    return [SYDDJURS_ECONOMY, SYDDJURS_CHILDREN]


# --- the search ----------------------------------------------------------------------------------


def row_date(meeting: Meeting, fmt: Format) -> str:
    moment = datetime.combine(meeting.day, datetime.min.time()).replace(hour=meeting.hour)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if fmt == "iso" else moment.strftime("%d/%m/%Y %H:%M")


def row(meeting: Meeting, fmt: Format) -> dict[str, object]:
    return {
        "meetingId": meeting.meeting_id,
        "date": row_date(meeting, fmt),
        "committeeName": meeting.committee,
        "committeeGroupName": meeting.group,
        "blocked": meeting.blocked,
        "agendaItems": [{"number": i.number, "title": i.title} for i in meeting.items[:3]],
    }


def _read(text: str, fmt: Format) -> date | None:
    try:
        return date.fromisoformat(text) if fmt == "iso" else datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return None


def _bad_request() -> Reply:
    body = {"timestamp": "2026-12-06T10:00:00.000+00:00", "status": 400, "error": "Bad Request", "path": SEARCH}
    return Reply(status=400, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


@dataclass
class Site:
    """The meetings a site shows; ``serve`` (re)publishes them on a server."""

    fmt: Format
    refuse: Literal["400", "empty"] = "400"
    meetings: list[Meeting] = field(default_factory=list)

    def search(self, query: dict[str, list[str]]) -> Reply:
        start, end = (_read((query.get(key) or [""])[0], self.fmt) for key in ("fromDate", "toDate"))
        if start is None or end is None:
            if self.refuse == "400":
                return _bad_request()
            start, end = date.max, date.min  # read as nothing: no meetings
        found = sorted((m for m in self.meetings if start <= m.day <= end), key=lambda m: (m.day, m.meeting_id))
        body = {"numberOfResults": len(found), "meetings": [row(m, self.fmt) for m in found[:50]]}
        return Reply(body=json.dumps(body, ensure_ascii=False).encode(), headers={"Content-Type": "application/json"})


def serve(
    server: Server, meetings: list[Meeting], fmt: Format = "iso", refuse: Literal["400", "empty"] = "400"
) -> Site:
    site = Site(fmt, refuse, list(meetings))
    server.handlers[SEARCH] = site.search
    for meeting in meetings:
        server.html(view_path(meeting.meeting_id), view_html(meeting, fmt))
    return site


# --- the meeting view ----------------------------------------------------------------------------


def _section(heading: str, text: str) -> str:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
    return f'<h4 class="agenda-item-section-title">{escape(heading)}</h4>\n<div class="agenda-item-section">{paragraphs}</div>'


def _item_html(item: Item) -> str:
    sections = "\n".join(_section(heading, text) for heading, text in item.sections)
    case = f'<p class="agenda-item-case">Sagsnr.: {escape(item.case)}</p>' if item.case else ""
    files = "".join(
        f'<li><button type="button" class="btn btn-link" data-id="{file_id}" data-name="{escape(name)}" '
        f'onclick="download(this)">{escape(name.removesuffix(".pdf"))}</button></li>'
        for file_id, name in item.files
    )
    attachments = f'<div class="agenda-item-attachments"><h4>Bilag</h4><ul>{files}</ul></div>' if files else ""
    return f"""
<div class="agenda-item card" id="agenda-item-{item.item_id}">
  <div class="card-header"><h3 class="agenda-item-title"><span class="agenda-item-number">Punkt {item.number}</span> {escape(item.title)}</h3></div>
  <div class="card-body">
    {case}
    {sections}
    {attachments}
  </div>
</div>"""


def view_html(meeting: Meeting, fmt: Format = "iso") -> str:
    shown = meeting.day.strftime("%d-%m-%Y")
    items = "\n".join(_item_html(item) for item in meeting.items)
    return f"""<div class="meeting-view" data-meeting-id="{meeting.meeting_id}">
  <div class="meeting-header">
    <h2 class="meeting-committee">{escape(meeting.committee)}</h2>
    <p class="meeting-type">{meeting.kind}</p>
    <p class="meeting-date">{shown} kl. {meeting.hour:02d}:00</p>
    <p class="meeting-location">Mødested: Mødelokale 2, Rådhuset</p>
    <button type="button" class="btn btn-primary" data-id="{meeting.meeting_id}00" data-name="{meeting.kind} {shown}.pdf"
      onclick="download(this)">Hent som PDF</button>
  </div>
  <div class="agenda-items">{items}
  </div>
</div>
"""
