"""An imitation of København's site ``www.kk.dk``: the Drupal JSON:API list of agenda elements
and each item's page, shaped as PORTALS.md and the public pages describe them.

- ``GET /jsonapi/node/agenda_element`` reads ``filter[<name>][condition][path|operator|value]``
  on ``agenda_meeting_date`` (``>=``, ``<``), ``sort=agenda_meeting_date``, ``page[limit]`` and
  ``page[offset]``; sparse fieldsets leave only the four fields asked for. ``links.next.href``
  is absolute on the real host (``https://www.kk.dk``), as Drupal writes it.
- Aliases: ``/dagsordener-og-referater/<Committee>/møde-DDMMYYYY/<dagsorden|referat>/punkt-N``;
  an item has one node per kind, so once minutes exist it is listed twice.
- An item page: a Drupal ``<article class="node node--type-agenda-element">`` with the meeting's
  date and place, the title as ``<h1>``, "Se alle bilag", a summary, sections as ``<h2>`` and the
  attachments as links to PDFs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from html import escape
from urllib.parse import quote, urlencode

from tests.portal import Reply, Server

REAL = "https://www.kk.dk"
LISTING = "/jsonapi/node/agenda_element"
KINDS = ("dagsorden", "referat")


@dataclass(frozen=True)
class Item:
    number: int
    title: str
    summary: str
    sections: tuple[tuple[str, str], ...] = ()
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Meeting:
    committee: str
    day: date
    hour: int
    items: tuple[Item, ...]
    place: str = "Rådhuset, Borgerrepræsentationens mødesal"
    minutes: bool = False
    date_only: bool = False  # agenda_meeting_date without a time

    def alias(self, item: Item, kind: str) -> str:
        return f"/dagsordener-og-referater/{self.committee}/møde-{self.day:%d%m%Y}/{kind}/punkt-{item.number}"

    def kinds(self) -> tuple[str, ...]:
        return KINDS if self.minutes else KINDS[:1]

    def node(self, item: Item, kind: str) -> str:
        seed = sum(ord(c) for c in self.committee) * 1000 + self.day.toordinal() % 1000
        return f"{seed:08x}-{item.number:04x}-4{self.hour:03d}-8{KINDS.index(kind):03d}-{self.day:%Y%m%d}0000"

    def moment(self) -> str:
        if self.date_only:
            return self.day.isoformat()
        offset = "+01:00" if self.day.month in (1, 2, 3, 11, 12) else "+02:00"
        return f"{self.day.isoformat()}T{self.hour:02d}:30:00{offset}"


def decided(meeting: Meeting, text: str = "Indstillingen blev godkendt uden afstemning.") -> Meeting:
    return replace(
        meeting,
        minutes=True,
        items=tuple(replace(i, sections=(*i.sections, ("Beslutning", text))) for i in meeting.items),
    )


BR = Meeting(
    "Borgerrepræsentationen",
    date(2026, 11, 19),
    17,
    (
        Item(1, "Valg af medlem til Kultur- og Fritidsudvalget", "Der skal vælges et nyt medlem efter udtræden."),
        Item(
            2,
            "Skybrudsprojekt i Valby",
            "Borgerrepræsentationen skal tage stilling til anlægsbevilling til skybrudsvej i Valby.",
            (
                ("Indstilling", "Teknik- og Miljøudvalget indstiller, at der gives en anlægsbevilling på 48 mio. kr."),
                ("Økonomi", "Projektet finansieres af HOFOR via vandtaksterne."),
            ),
            ("Bilag 1 - Projektbeskrivelse", "Bilag 2 - Kort over skybrudsvejen"),
        ),
        Item(
            3,
            "Lokalplan Jernbanebyen II",
            "Forslag til lokalplan sendes i offentlig høring.",
            (("Indstilling", "Økonomiudvalget indstiller, at lokalplanforslaget sendes i høring i 8 uger."),),
        ),
    ),
)
ECONOMY = Meeting(
    "Økonomiudvalget",
    date(2026, 11, 24),
    15,
    (
        Item(
            1,
            "Budgetopfølgning 3. kvartal 2026",
            "Forventet regnskab viser et mindreforbrug på serviceudgifterne.",
            (("Indstilling", "Økonomiforvaltningen indstiller, at udvalget tager orienteringen til efterretning."),),
        ),
    ),
    place="Rådhuset, Udvalgsværelse B",
)
AMAGER = Meeting(
    "Amager Øst Lokaludvalg",
    date(2026, 11, 26),
    19,
    (Item(1, "Puljeansøgninger november", "Lokaludvalget behandler fire ansøgninger til Lokalpuljen."),),
    place="Kulturhuset Islands Brygge",
    date_only=True,
)
OLD = Meeting(
    "Økonomiudvalget",
    date(2026, 10, 6),
    15,
    (Item(1, "Budget 2027 – 2. behandling", "Økonomiudvalget oversender budgetforslaget."),),
)


def copenhagen() -> list[Meeting]:
    return [OLD, BR, ECONOMY, AMAGER]


# --- the JSON:API ----------------------------------------------------------------------------------


def _rows(meetings: list[Meeting]) -> list[tuple[str, dict[str, object]]]:
    rows: list[tuple[str, dict[str, object]]] = []
    for meeting in meetings:
        for item in meeting.items:
            for kind in meeting.kinds():
                node = meeting.node(item, kind)
                rows.append(
                    (
                        meeting.moment(),
                        {
                            "type": "node--agenda_element",
                            "id": node,
                            "links": {"self": {"href": f"{REAL}{LISTING}/{node}?resourceVersion=id%3A{item.number}"}},
                            "attributes": {
                                "title": item.title,
                                "path": {"alias": meeting.alias(item, kind), "pid": item.number, "langcode": "da"},
                                "agenda_meeting_date": meeting.moment(),
                                "agenda_element_serial_no": item.number,
                            },
                        },
                    )
                )
    return rows


def _day(text: str) -> date:
    return datetime.fromisoformat(text).date() if "T" in text else date.fromisoformat(text)


def _matches(value: str, operator: str, bound: str) -> bool:
    day, limit = _day(value), date.fromisoformat(bound)
    return {">=": day >= limit, "<": day < limit, ">": day > limit, "<=": day <= limit, "=": day == limit}[operator]


def listing_handler(meetings: list[Meeting]) -> Callable[[dict[str, list[str]]], Reply]:
    def handle(query: dict[str, list[str]]) -> Reply:
        one = {key: values[0] for key, values in query.items()}
        filters = {key.split("]")[0].removeprefix("filter[") for key in one if key.startswith("filter[")}
        rows = _rows(meetings)
        for name in filters:
            operator, bound = one[f"filter[{name}][condition][operator]"], one[f"filter[{name}][condition][value]"]
            rows = [(moment, row) for moment, row in rows if _matches(moment, operator, bound)]
        rows.sort(key=lambda pair: (_day(pair[0]), json.dumps(pair[1]["attributes"], sort_keys=True)))
        limit, offset = int(one.get("page[limit]", "50")), int(one.get("page[offset]", "0"))
        page = [row for _, row in rows[offset : offset + limit]]
        links: dict[str, object] = {"self": {"href": f"{REAL}{LISTING}?{urlencode(one)}"}}
        if offset + limit < len(rows):
            links["next"] = {"href": f"{REAL}{LISTING}?{urlencode({**one, 'page[offset]': str(offset + limit)})}"}
        body: dict[str, object] = {
            "jsonapi": {"version": "1.0", "meta": {"links": {"self": {"href": "http://jsonapi.org/format/1.0/"}}}}
        }
        body |= {"data": page, "links": links}
        return Reply(
            body=json.dumps(body, ensure_ascii=False).encode(), headers={"Content-Type": "application/vnd.api+json"}
        )

    return handle


def serve(server: Server, meetings: list[Meeting]) -> None:
    server.handlers[LISTING] = listing_handler(meetings)
    for meeting in meetings:
        for kind in meeting.kinds():
            for item in meeting.items:
                server.html(quote(meeting.alias(item, kind)), item_html(meeting, item, kind))


# --- an item's page ------------------------------------------------------------------------------


def item_html(meeting: Meeting, item: Item, kind: str) -> str:
    sections = [(h, t) for h, t in item.sections if kind == "referat" or h != "Beslutning"]
    body = "".join(
        f"<h2>{escape(h)}</h2>" + "".join(f"<p>{escape(p)}</p>" for p in t.split("\n\n")) for h, t in sections
    )
    files = "".join(
        f'<li><a href="/system/files/agenda/{meeting.day:%Y%m%d}/{item.number}-{n}.pdf">{escape(name)}</a></li>'
        for n, name in enumerate(item.files, 1)
    )
    attachments = f'<div id="bilag" class="field--name-field-agenda-attachments"><h2>Bilag</h2><ul>{files}</ul></div>'
    return f"""<!DOCTYPE html>
<html lang="da" dir="ltr">
<head><meta charset="utf-8"><title>{escape(item.title)} | Københavns Kommune</title></head>
<body class="path-node page-node-type-agenda-element">
<header role="banner"><a href="/">Københavns Kommune</a><form class="search"><label>Søg</label></form></header>
<div class="alert">Gå ikke glip af vigtig Digital Post fra Københavns Kommune</div>
<main role="main" id="main-content">
<article class="node node--type-agenda-element node--view-mode-full">
  <div class="agenda-element__meta">
    <div class="field field--name-field-agenda-meeting-date">Mødedato: {meeting.day:%d.%m.%Y}, kl. {meeting.hour:02d}:30</div>
    <div class="field field--name-field-agenda-meeting-location">Mødested: {escape(meeting.place)}</div>
  </div>
  <h1 class="page-title"><span class="field field--name-title">{escape(item.title)}</span></h1>
  {'<a class="agenda-element__attachments-link" href="#bilag">Se alle bilag</a>' if files else ""}
  <div class="field field--name-field-agenda-summary"><p>{escape(item.summary)}</p></div>
  <div class="field field--name-field-agenda-body">{body}</div>
  {attachments if files else ""}
</article>
</main>
<footer role="contentinfo"><p>Københavns Kommune, Rådhuspladsen 1</p></footer>
</body>
</html>
"""


def shift(meeting: Meeting, days: int) -> Meeting:
    return replace(meeting, day=meeting.day + timedelta(days=days))
