"""``type = "aabendagsorden"``: an Åben Dagsorden site (Glostrup ``dagsorden.glostrup.dk``,
Syddjurs ``aabendagsorden.syddjurs.dk``).

``GET /rest/meeting/search?query=&fromDate=&toDate=`` lists the meetings of a period as JSON
(``{numberOfResults, meetings: [{meetingId, date, committeeName, committeeGroupName, blocked,
agendaItems}]}``), at most 50 per answer. The window, from ``since`` to 30 days ahead (agendas
are published before the meeting), is asked for in 10-day windows on a grid that starts at
``since``, so a poll asks for the same URLs as the last one and conditional GETs answer 304;
a full answer (50 rows, or fewer rows than ``numberOfResults``) is halved and asked again, down
to one day. ``GET /fragments/meeting/{id}/view`` is the meeting's server-rendered HTML: every
item starts at an element of class ``agenda-item-title`` ("Punkt 3 Budget 2027"), and its text
up to the next title carries the sections as headings (``<h4>Resumé</h4>``, ``Beslutning``).

Quirks handled:

- Dates: Glostrup writes ``YYYY-MM-DD``, Syddjurs ``DD/MM/YYYY``, both in the query and in the
  answer's ``date``. ``date_format = "auto"`` asks in ISO first; a site that refuses it (400,
  an answer that is not a search answer) or answers rows dated ``DD/MM/YYYY`` is asked in
  ``DD/MM/YYYY``, and once a form is known only it is used. A window where both forms give 0 rows
  (no meetings then, or a site that reads a date it cannot parse as no date) decides nothing:
  the next window is asked in both forms again. ``date`` is read in both forms whatever the
  setting.
- ``blocked`` meetings are not public and are left out, as are ``skip_committees`` (a part of
  the committee or group name, e.g. Glostrup's ``Testudvalget``).
- The committee is ``committeeGroupName`` (the committee as the site groups it), else
  ``committeeName``.
- Agenda or minutes: the site shows both at ``/meeting/{id}`` (one key: the minutes replace the
  agenda as a new version); the view counts as minutes when an item carries this meeting's
  decision (``Beslutning``) or the page's header says ``Referat``.
- The search row has nothing that changes when minutes are published (``agendaItems`` is a
  peek at a few titles), so meetings have no signature: each view is fetched at every poll with
  a conditional GET, and identical bytes count as unchanged.

Links: the meeting is ``/meeting/{id}``; an item links there with ``#<id>`` when its title or the
element wrapping only that item has an ``id``. The view is read in :mod:`.aabendagsorden_view`.

Limits: a poll asks one search per 10 days of its window (about 21 for the default 180 days),
plus one while the date form is not known yet for each window without meetings; a day with more
than 50 meetings is reported as a warning, the rest of it left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import ClassVar, Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import FetchError, ParseError
from bot.fetch import Fetcher, HTTPStatusError
from bot.parse.extract import clean_text
from bot.parse.minutes import collapse, committee_name
from bot.source_config import AabenDagsordenSource as AabenDagsordenConfig
from bot.sources.aabendagsorden_view import parse_view
from bot.sources.base import Probe, SourceContext
from bot.sources.site import ZONE, MeetingRead, SiteMeeting, SiteSource, bundle, count, local

SEARCH_PATH = "/rest/meeting/search"
VIEW_PATH = "/fragments/meeting/{}/view"
MEETING_PATH = "/meeting/{}"
WINDOW_DAYS = 10
AHEAD = timedelta(days=30)
MAX_ROWS = 50  # the search answers at most this many meetings

DateFormat = Literal["YYYY-MM-DD", "DD/MM/YYYY"]
ISO: DateFormat = "YYYY-MM-DD"
DMY: DateFormat = "DD/MM/YYYY"
_REFUSED = (400, 422)  # how a site says it cannot read the dates it was given

_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2}))?")
_DMY_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[T ,]+(?:kl\.?\s*)?(\d{1,2})[:.](\d{2}))?")


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Row(_Loose):
    meetingId: int | str
    date: str | None = None
    committeeName: str | None = None
    committeeGroupName: str | None = None
    blocked: bool | None = False


class _Answer(_Loose):
    numberOfResults: int | None = None
    meetings: list[_Row]


@dataclass(frozen=True)
class Search:
    """One answer of the meeting search, as asked for."""

    url: str
    rows: tuple[_Row, ...]
    total: int
    raw: Mapping[str, object]  # each row as served, by meeting id: kept with the meeting's view

    @property
    def full(self) -> bool:
        return len(self.rows) >= MAX_ROWS or self.total > len(self.rows)

    @property
    def date_format(self) -> DateFormat | None:
        """How the rows write their dates; None without rows that show it."""
        for row in self.rows:
            if row.date and _ISO_DATE.match(row.date):
                return ISO
            if row.date and _DMY_DATE.match(row.date):
                return DMY
        return None


def query_date(day: date, fmt: DateFormat) -> str:
    return day.isoformat() if fmt == ISO else day.strftime("%d/%m/%Y")


def search_url(base: str, start: date, end: date, fmt: DateFormat) -> str:
    query = {"query": "", "fromDate": query_date(start, fmt), "toDate": query_date(end, fmt)}
    return f"{base}{SEARCH_PATH}?{urlencode(query)}"


def parse_search(content: bytes, url: str) -> Search:
    try:
        answer = _Answer.model_validate_json(content)
        raw = json.loads(content)
    except (ValidationError, ValueError):
        raise ParseError(f"{url}: not an Åben Dagsorden meeting search (no 'meetings' list)") from None
    rows = {str(row.get("meetingId")): row for row in raw.get("meetings") or [] if isinstance(row, dict)}
    total = answer.numberOfResults if answer.numberOfResults is not None else len(answer.meetings)
    return Search(url, tuple(answer.meetings), total, rows)


def meeting_start(text: str | None) -> datetime | None:
    """``2026-11-18``, ``2026-11-18T16:30:00``, ``18/11/2026`` or ``18/11/2026 16:30``, local time."""
    if not text:
        return None
    iso, dmy = _ISO_DATE.match(text), _DMY_DATE.match(text)
    try:
        if iso:
            day = date(int(iso[1]), int(iso[2]), int(iso[3]))
            clock = time(int(iso[4]), int(iso[5])) if iso[4] else time(0)
        elif dmy:
            day = date(int(dmy[3]), int(dmy[2]), int(dmy[1]))
            clock = time(int(dmy[4]), int(dmy[5])) if dmy[4] else time(0)
        else:
            return None
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=ZONE)


def windows(since: date, until: date, days: int = WINDOW_DAYS) -> Iterator[tuple[date, date]]:
    """Periods of ``days`` days (both ends included) from ``since`` until ``until`` is covered."""
    start = since
    while start <= until:
        yield start, start + timedelta(days=days - 1)
        start += timedelta(days=days)


def listed_meeting(row: _Row, base: str) -> SiteMeeting | None:
    start = meeting_start(row.date)
    committee = committee_name(clean_text(row.committeeGroupName or row.committeeName or ""))
    if start is None or not committee:
        return None
    key = str(row.meetingId)
    return SiteMeeting(key, committee, start, "dagsorden", base + MEETING_PATH.format(quote(key, safe="")))


def skipped(row: _Row, skip: tuple[str, ...]) -> bool:
    names = [collapse(name).casefold() for name in (row.committeeName, row.committeeGroupName) if name]
    return bool(row.blocked) or any(s.casefold() in name for s in skip for name in names)


# --- the source ----------------------------------------------------------------------------------


class AabenDagsorden(SiteSource):
    """Meetings of an Åben Dagsorden site: its meeting search and each meeting's HTML view."""

    type = "aabendagsorden"
    system: ClassVar[str] = "Åben Dagsorden"
    config: AabenDagsordenConfig

    def __init__(self, config: AabenDagsordenConfig, context: SourceContext | None = None) -> None:
        super().__init__(config, context)
        self._format: DateFormat | None = None  # the site's way of writing dates, once known
        self._rows: dict[str, tuple[str, object]] = {}  # meeting id → the search URL and its row

    def list_meetings(self, fetcher: Fetcher) -> Iterable[SiteMeeting]:
        self._format = None if self.config.date_format == "auto" else self.config.date_format
        today = local(self.context.now or datetime.now(ZONE)).date()
        meetings: dict[str, SiteMeeting] = {}
        for start, end in windows(self.since(), today + AHEAD):
            for search in self._searches(fetcher, start, end):
                for row in search.rows:
                    found = None if skipped(row, self.config.skip_committees) else listed_meeting(row, self.config.url)
                    if found is not None:
                        meetings[found.key] = found
                        self._rows[found.key] = (search.url, search.raw.get(found.key))
        return meetings.values()

    def _searches(self, fetcher: Fetcher, start: date, end: date) -> Iterator[Search]:
        """The window's answers; a full one is halved until each half fits in one answer."""
        search = self._search(fetcher, start, end)
        if search.full and end > start:
            middle = start + (end - start) // 2
            yield from self._searches(fetcher, start, middle)
            yield from self._searches(fetcher, middle + timedelta(days=1), end)
            return
        if search.full:
            self.warnings.append(
                f"{search.url}: {search.total} meetings on one day, the search shows {len(search.rows)}; "
                "some may be missing"
            )
        yield search

    def _search(self, fetcher: Fetcher, start: date, end: date) -> Search:
        if self._format is not None:
            return self._ask(fetcher, start, end, self._format)
        answers: dict[DateFormat, Search | None] = {}
        for fmt in (ISO, DMY):
            answer = answers[fmt] = self._try(fetcher, start, end, fmt)
            shown = answer.date_format if answer is not None else None
            if shown is not None:
                self._format = shown
                return answer if answer is not None and shown == fmt else self._ask(fetcher, start, end, shown)
        accepted = [answer for answer in answers.values() if answer is not None]
        if not accepted:
            raise ParseError(
                f"{search_url(self.config.url, start, end, ISO)}: the meeting search reads neither "
                "YYYY-MM-DD nor DD/MM/YYYY dates – is this an Åben Dagsorden site?"
            )
        if len(accepted) == 1:  # the other form was refused: this one is the site's
            self._format = ISO if answers[ISO] is not None else DMY
        return accepted[0]

    def _try(self, fetcher: Fetcher, start: date, end: date, fmt: DateFormat) -> Search | None:
        """The answer in ``fmt``; None when the site refuses dates written that way."""
        try:
            return self._ask(fetcher, start, end, fmt)
        except HTTPStatusError as exc:
            if exc.status in _REFUSED:
                return None
            raise
        except ParseError:
            return None

    def _ask(self, fetcher: Fetcher, start: date, end: date, fmt: DateFormat) -> Search:
        url = search_url(self.config.url, start, end, fmt)
        return parse_search(fetcher.get(url, conditional=True, keep_body=True).content, url)

    def read_meeting(self, fetcher: Fetcher, meeting: SiteMeeting) -> MeetingRead:
        url = self.config.url + VIEW_PATH.format(quote(meeting.key, safe=""))
        response = fetcher.get(url, conditional=True, keep_body=True)
        name = f"{meeting.url} ({meeting.committee} {meeting.start:%d.%m.%Y})"
        parsed = parse_view(response.content, meeting, self.config.url, name)
        search, row = self._rows.get(meeting.key, (url, None))
        listed = json.dumps(row, ensure_ascii=False, sort_keys=True).encode()
        return MeetingRead(bundle([(search, listed), (url, response.content)]), parsed, response.fetched_at)

    @classmethod
    def probe(cls, fetcher: Fetcher, base: str) -> Probe:
        base = (base.strip() if "://" in base else f"https://{base.strip()}").rstrip("/")
        today = datetime.now(ZONE).date()
        start, end = today - timedelta(days=WINDOW_DAYS * 3), today + timedelta(days=WINDOW_DAYS)
        answers: list[tuple[DateFormat, Search]] = []
        try:
            for fmt in (ISO, DMY):
                try:
                    url = search_url(base, start, end, fmt)
                    answers.append((fmt, parse_search(fetcher.get(url).content, url)))
                except HTTPStatusError as exc:
                    if exc.status not in _REFUSED:
                        raise
                except ParseError:
                    continue
        except FetchError as exc:
            return Probe(False, f"{base} does not answer like an Åben Dagsorden site: {exc}")
        if not answers:
            return Probe(
                False, f"{base} does not answer like an Åben Dagsorden site: no meeting search at {SEARCH_PATH}"
            )
        fmt, search = max(answers, key=lambda answer: (answer[1].date_format is not None, len(answer[1].rows)))
        shown = search.date_format or fmt
        committees = {row.committeeGroupName or row.committeeName for row in search.rows}
        return Probe(
            True,
            f"{base} answers like an Åben Dagsorden site: {count(len(search.rows), 'meeting')} of "
            f"{count(len(committees), 'committee')} from {start:%d.%m.%Y} to {end:%d.%m.%Y}, dates as {shown}",
        )
