"""``type = "firstagenda"``: a FirstAgenda Publication portal, read through its JSON API.

``GET /api/agenda/udvalgsliste`` lists every committee of the current and earlier election
periods with all its meetings; ``GET /api/agenda/dagsorden/<meeting id>`` is one meeting's
agenda: its items with their text (``Felter[].Html``) and attachments (``Bilag[]``). A meeting's
agenda is fetched only when the meeting is new or its ``ReleasedDate`` changed (the portal
re-releases a meeting when the agenda becomes the minutes), and is parsed here into a
:class:`~bot.parse.minutes.ParsedMeeting`; the exact bytes served are what the store archives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import BotError, ExtractError, FetchError, ParseError
from bot.fetch import Fetcher, Response
from bot.parse.extract import clean_text, html_to_text
from bot.parse.minutes import Attachment, DocKind, ParsedItem, ParsedMeeting, collapse, committee_name
from bot.parse.parser import build_item
from bot.source_config import FirstAgendaSource as FirstAgendaConfig
from bot.sources.base import HttpSource, Probe, RawDocument
from bot.sources.site import ZONE, count, remember, remembered, wanted, window_start

LISTING_PATH = "/api/agenda/udvalgsliste"
AGENDA_PATH = "/api/agenda/dagsorden/{}"
BILAG_PATH = "/vis/pdf/bilag/{}?redirectDirectlyToPdf=true"  # without the parameter: an HTML viewer
# The viewer names the PDF in its iframe: a short-lived signed URL on another host, which the
# redirect above would lead to and the fetcher does not follow (see bot.attachments).
VIEWER_PATH = "/vis/pdf/bilag/{}"


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Meeting(_Loose):
    Id: str
    Dato: str | None = None
    MeetingBeginUtc: str | None = None
    ReleasedDate: str | None = None
    Sted: str | None = None
    Navn: str | None = None
    IsSupplementaryAgenda: bool | None = False


class _Committee(_Loose):
    Navn: str
    Moeder: list[_Meeting] | None = None


class _Listing(_Loose):
    Udvalg: dict[str, list[_Committee] | None]


class _Field(_Loose):
    Html: str | None = None


class _Attachment(_Loose):
    Id: str | None = None
    Navn: str | None = None
    HarPdfVersion: bool | str | None = None  # served as the string "true"


class _Item(_Loose):
    Id: str
    Punktnummer: str | None = None
    Number: str | None = None
    Sorting: int | None = None
    Navn: str | None = None
    Caption: str | None = None
    SagsNummer: str | None = None
    CaseNumber: str | None = None
    IsOpen: bool | None = True
    Felter: list[_Field] | None = None
    Bilag: list[_Attachment] | None = None


class _Participant(_Loose):
    Name: str | None = None
    Absent: bool | None = False


class _Moede(_Loose):
    Sted: str | None = None
    Moededeltagere: list[_Participant] | None = None


class _Agenda(_Loose):
    Dagsordenpunkter: list[_Item]
    Moede: _Moede | None = None


@dataclass(frozen=True)
class ListedMeeting:
    """One meeting as the portal's committee list shows it."""

    id: str
    committee: str
    start: datetime  # local time (Europe/Copenhagen)
    released: str  # ReleasedDate as served: a change means the meeting was re-published
    place: str | None
    name: str  # Dagsorden | Referat | Tillægsdagsorden | Lukket referat
    supplementary: bool

    @property
    def kind(self) -> DocKind:
        name = self.name.casefold()
        if self.supplementary or name.startswith("tillæg"):
            return "tillægsdagsorden"
        return "referat" if "referat" in name else "dagsorden"

    @property
    def released_at(self) -> datetime | None:
        return _moment(self.released)


@dataclass(frozen=True)
class Listing:
    periods: int
    committees: int
    meetings: tuple[ListedMeeting, ...]


def parse_listing(content: bytes, url: str) -> Listing:
    """``/api/agenda/udvalgsliste`` → every meeting (once, even if two periods list it)."""
    try:
        listing = _Listing.model_validate_json(content)
    except ValidationError as exc:
        raise ParseError(f"{url}: not a FirstAgenda committee list ({_first_problem(exc)})") from None
    meetings: dict[str, ListedMeeting] = {}
    committees = 0
    for period in listing.Udvalg.values():
        for committee in period or []:
            committees += 1
            for meeting in committee.Moeder or []:
                start = _moment(meeting.MeetingBeginUtc) or _moment(meeting.Dato)
                if start is None or meeting.Id in meetings:
                    continue
                meetings[meeting.Id] = ListedMeeting(
                    id=meeting.Id,
                    committee=committee_name(clean_text(committee.Navn)),
                    start=start.astimezone(ZONE),
                    released=meeting.ReleasedDate or "",
                    place=collapse(clean_text(meeting.Sted or "")) or None,
                    name=collapse(meeting.Navn or "Dagsorden"),
                    supplementary=bool(meeting.IsSupplementaryAgenda),
                )
    ordered = sorted(meetings.values(), key=lambda m: (m.start, m.committee, m.id))
    return Listing(len(listing.Udvalg), committees, tuple(ordered))


def select_meetings(meetings: Iterable[ListedMeeting], committees: tuple[str, ...], since: date) -> list[ListedMeeting]:
    return [meeting for meeting in meetings if meeting.start.date() >= since and wanted(meeting.committee, committees)]


def parse_agenda(content: bytes, meeting: ListedMeeting, base: str, name: str) -> ParsedMeeting:
    """``/api/agenda/dagsorden/<id>`` → the meeting with its items, sections and decisions."""
    try:
        agenda = _Agenda.model_validate_json(content)
    except ValidationError as exc:
        raise ParseError(f"{name}: not a FirstAgenda agenda ({_first_problem(exc)})") from None
    day = meeting.start.date()
    items = [_item(item, meeting, base, name) for item in sorted(agenda.Dagsordenpunkter, key=_order)]
    moede = agenda.Moede or _Moede()
    participants = (collapse(p.Name or "") for p in moede.Moededeltagere or [] if not p.Absent)
    return ParsedMeeting(
        kind=meeting.kind,
        committee=meeting.committee,
        date=day,
        start=meeting.start.time().replace(second=0, microsecond=0) if meeting.start.time() != time(0) else None,
        place=meeting.place or (collapse(moede.Sted or "") or None),
        participants=tuple(dict.fromkeys(p for p in participants if p)),
        items=tuple(items),
        url=f"{base}/vis?id={meeting.id}",
    )


def _item(item: _Item, meeting: ListedMeeting, base: str, name: str) -> ParsedItem:
    number_text = (item.Punktnummer or item.Number or "").strip()
    digits = number_text[: len(number_text) - len(number_text.lstrip("0123456789"))] or None
    title = collapse(clean_text(item.Navn or item.Caption or "")) or "(uden titel)"
    try:
        body = "\n\n".join(html_to_text(field.Html) for field in item.Felter or [] if field.Html and field.Html.strip())
    except ExtractError as exc:
        raise ParseError(f"{name}: item {number_text or item.Id}: {exc}") from None
    case = collapse(item.SagsNummer or item.CaseNumber or "") or None
    parsed = build_item(
        int(digits) if digits else None,
        title,
        case,
        body,
        meeting.committee,
        meeting.start.date(),
        portal_id=item.Id,
        url=f"{base}/vis?id={meeting.id}&punktid={item.Id}",
    )
    if item.IsOpen is False and not parsed.closed:
        parsed = replace(parsed, closed=True, sections=(), decisions=(), decision=None)
    attachments = tuple(
        Attachment(
            collapse(clean_text(b.Navn)),
            f"{base}{BILAG_PATH.format(b.Id)}" if b.Id else None,
            key=b.Id,
            pdf=_flag(b.HarPdfVersion),
        )
        for b in item.Bilag or []
        if b.Navn and b.Navn.strip()
    )
    return replace(parsed, attachments=attachments)


def _flag(value: bool | str | None) -> bool | None:
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().casefold())
    return value


def _order(item: _Item) -> tuple[int, str]:
    return (item.Sorting if item.Sorting is not None else 10**6, item.Punktnummer or "")


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZONE)


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "top level"
    return f"{where}: {error['msg']}"


def _looks_like_json(response: Response) -> bool:
    return response.content.lstrip()[:1] in (b"{", b"[")


def get_json(fetcher: Fetcher, base: str, url: str, conditional: bool = False) -> Response:
    """GET a portal API URL. An answer that is not JSON (a redirect to the front page) means the
    session cookie is missing or expired: open the session again and retry once."""
    fetcher.open_session(base)
    response = fetcher.get(url, conditional=conditional, keep_body=conditional)
    if _looks_like_json(response):
        return response
    fetcher.open_session(base, again=True)
    response = fetcher.get(url)
    if not _looks_like_json(response):
        kind = response.content_type.split(";")[0] or "no content type"
        raise FetchError(f"{url}: answered with {kind} instead of JSON (is {base} a FirstAgenda portal?)")
    return response


class FirstAgendaPortal(HttpSource):
    """Committees and meetings of a FirstAgenda Publication portal, through its JSON API."""

    type = "firstagenda"
    config: FirstAgendaConfig

    def fetch_with(self, fetcher: Fetcher) -> Iterator[RawDocument | FetchError]:
        base, store = self.config.url, self.context.store
        fetcher.pace(base, self.config.min_interval)
        listing_url = base + LISTING_PATH
        listing = parse_listing(get_json(fetcher, base, listing_url, conditional=True).content, listing_url)
        meetings = select_meetings(listing.meetings, self.config.committees, self._since())
        self.listed = len(meetings)
        known = remembered(store, self.config.name) if store is not None else {}
        for meeting in meetings:
            if known.get(meeting.id) == meeting.released:
                continue
            document = self._meeting(fetcher, meeting)
            yield document
            if isinstance(document, RawDocument) and store is not None:
                remember(store, self.config.name, meeting.id, meeting.released, document)

    def attachment_url(self, attachment: Attachment) -> str | None:
        """Only a bilag the portal says has a PDF version (``HarPdfVersion``), through its viewer."""
        if attachment.pdf is not True or not attachment.key:
            return None
        return self.config.url + VIEWER_PATH.format(attachment.key)

    def _since(self) -> date:
        return window_start(self.config.since, self.context.first_ingest_at, self.context.now)

    def _meeting(self, fetcher: Fetcher, meeting: ListedMeeting) -> RawDocument | FetchError:
        base = self.config.url
        name = f"{base}/vis?id={meeting.id} ({meeting.committee} {meeting.start:%d.%m.%Y})"
        try:
            response = get_json(fetcher, base, base + AGENDA_PATH.format(meeting.id))
            parsed = parse_agenda(response.content, meeting, base, name)
        except (FetchError, ParseError) as exc:
            return exc if isinstance(exc, FetchError) else FetchError(str(exc))
        return RawDocument(
            key=meeting.id,
            name=name,
            content=response.content,
            fetched_at=response.fetched_at,
            url=f"{base}/vis?id={meeting.id}",
            published_at=meeting.released_at,
            parsed=parsed,
        )

    @classmethod
    def probe(cls, fetcher: Fetcher, base: str) -> Probe:
        """Whether ``base`` answers like a FirstAgenda portal, and how many committees it lists."""
        listing_url = base + LISTING_PATH
        try:
            listing = parse_listing(get_json(fetcher, base, listing_url).content, listing_url)
        except BotError as exc:
            return Probe(False, f"{base} does not answer like a FirstAgenda portal: {exc}")
        if not listing.committees:
            return Probe(False, f"{base} answers a FirstAgenda committee list, but it lists no committees")
        newest = max((m.start for m in listing.meetings), default=None)
        when = f", newest {newest:%d.%m.%Y}" if newest else ""
        counts = f"{count(listing.committees, 'committee')} in {count(listing.periods, 'election period')}"
        return Probe(
            True, f"{base} answers like a FirstAgenda portal: {counts}, {count(len(listing.meetings), 'meeting')}{when}"
        )
