"""Minutes text → a meeting with agenda items, sections and decisions.

Works on the markdown-ish text from :mod:`bot.extract` for every layout municipalities
publish: markdown headings (``# Punkt 1: …``, ``## Indstilling``), bold markdown
(``## **Punkt 1: …**``, ``**Beslutning i … den …**``) and plain text where headings are
lines of their own. The layout is told from the content: when the ``Punkt`` lines carry
markup, only marked-up lines can be headings; otherwise a short line after a blank line can.
Only known section names open a section; other headings stay text of the current section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, time

from bot.errors import ParseError
from bot.minutes import Decision, DocKind, ParsedItem, ParsedMeeting, Section, collapse, committee_key

MONTHS = {
    name: number
    for number, name in enumerate(
        "januar februar marts april maj juni juli august september oktober november december".split(), 1
    )
}
_MAX_HEADING = 200  # longer lines are prose, never headings: also keeps regexes cheap on huge lines
_MAX_ITEM_LINE = 2000  # an item title this long is odd, but dropping the item would be worse

_MARKUP_EDGE = re.compile(r"^\s*#{1,6}\s+|^\s*#{1,6}$")
_EMPHASIS = re.compile(r"\*\*|__")
_SINGLE_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_BULLET = re.compile(r"^\s*(?:[-*•·▪–]\s+|\d{1,3}[.)]\s+)")
_ITEM = re.compile(r"^(?:Punkt|Pkt\.?)\s*(\d{1,4})\s*[:.]?\s+(.+?)\s*$", re.IGNORECASE)
_TOC_LEADER = re.compile(r"(?:\.{3,}|…)\s*\d*\s*$|\t\s*\d+\s*$")
_CASE = re.compile(
    r"^(?:(?:Sagsnr|Sags\s*nr|Sagsnummer|J\.?\s*nr)\.?:?\s*)?([0-9][0-9A-Za-zÆØÅæøå]*(?:[./-][0-9A-Za-zÆØÅæøå]+)+)$"
)
_TITLE = re.compile(
    r"^(?P<kind>tillægsdagsorden|lukket\s+referat|referat|beslutningsprotokol|dagsorden)\b[\s:,–-]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_NUMERIC_DATE = r"(?P<d>\d{1,2})[-./](?P<m>\d{1,2})[-./](?P<y>\d{4}|\d{2})"
_TEXT_DATE = r"(?P<td>\d{1,2})\.?\s+(?P<tm>[a-zæøå]+)\s+(?P<ty>\d{4})"
_DATE = re.compile(rf"(?:{_NUMERIC_DATE}|{_TEXT_DATE})", re.IGNORECASE)
_TRAILING_DATE = re.compile(rf"\s*(?:\b(?:d\.|den)\s*)?(?:{_NUMERIC_DATE}|{_TEXT_DATE})\s*$", re.IGNORECASE)
_TIME = re.compile(r"\bkl\.?\s*(\d{1,2})[:.](\d{2})", re.IGNORECASE)
_HEADER = re.compile(
    r"^(?P<label>Mødedato|Dato|Tidspunkt|Mødested|Sted|Mødedeltagere|Deltagere|Medlemmer)\b\s*:?\s*(?P<value>.*)$",
    re.IGNORECASE,
)
_DECISION = re.compile(r"^beslutning(?:\s*:)?(?:\s+(?P<rest>[^-–].*))?$", re.IGNORECASE)
_DECISION_COMMITTEE = re.compile(r"^(?:(?:i|på|fra|truffet i)\s+)?(?P<committee>.+?)\s*:?$", re.IGNORECASE)

# Section names: a heading is a section when its first words are one of these (the rest of
# the heading may say more, e.g. "Økonomiske konsekvenser for 2027"). Exact names must be the
# whole heading: "Bilag 8. Forslag til nye budgetnoter" is a sub-heading, not the list of Bilag.
SECTION_NAMES = (
    r"(?:kort\s+)?(?:sags)?resum[eé]",
    r"beslutningstema",
    r"beslutningskompetencen?",
    r"indstillinge?n?",
    r"(?:supplerende\s+)?sagsfremstilling(?:en)?",
    r"(?:sagens\s+)?baggrund",
    r"økonomi(?:ske?)?",
    r"bevillingsmæssige",
    r"lov(?:grundlag|hjemmel)",
    r"retsgrundlag",
    r"høring(?:ssvar)?",
    r"(?:politiske|tidligere)\s+beslutninger",
    r"relateret\s+behandling",
    r"deltager\s+i\s+sagens\s+behandling",
    r"klima-",
    r"klima\s+og\s+miljø",
    r"miljømæssige",
    r"kommunikation",
    r"meddelelser?",
    r"(?:administrationens|forvaltningens)\s+vurdering",
    r"vurdering",
    r"personalemæssige",
    r"sundhedsmæssige",
    r"tidsplan",
)
_SECTION = re.compile(rf"^(?:{'|'.join(SECTION_NAMES)})(?=\W|$)")
SECTION_EXACT = ("bilag", "bilagsliste", "bilagsfortegnelse")
_MAX_HEADING_WORDS = 10
_WRAP_SHARE = 0.9  # a line this close to the longest line was wrapped by the typesetter


@dataclass(frozen=True)
class _Line:
    text: str  # markup removed, whitespace collapsed
    body: str  # emphasis removed, bullets and tabs kept: the form stored in sections
    marked: bool  # a markdown heading or a fully bold line

    @property
    def blank(self) -> bool:
        return not self.text


def parse_minutes(text: str, name: str) -> ParsedMeeting:
    """Parse one document; raises :class:`ParseError` naming the file and the reason."""
    lines = [_classify(raw) for raw in text.split("\n")]
    starts = _item_starts(lines)
    if not starts:
        raise ParseError(f"{name}: no agenda items found (no lines like 'Punkt 1: …')")
    head = lines[: starts[0]]
    kind, committee, meeting_date = _title(head, name)
    header = _header_fields(head)
    meeting_date = meeting_date or _date_in(header.get("mødedato") or header.get("dato") or "")
    if meeting_date is None:
        raise ParseError(f"{name}: cannot find the meeting date in the title or 'Mødedato' line")
    marked = _is_marked_layout(lines, starts)
    width = max(len(line.text) for line in lines)  # where a PDF wraps its lines
    items = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(lines)
        items.append(_item(lines[start:end], marked, width, committee, meeting_date))
    return ParsedMeeting(
        kind=kind,
        committee=committee,
        date=meeting_date,
        start=_time_in(header.get("mødedato") or header.get("tidspunkt") or ""),
        place=header.get("mødested") or header.get("sted"),
        participants=_names(header.get("mødedeltagere") or header.get("deltagere") or header.get("medlemmer")),
        items=tuple(items),
    )


# --- lines ---------------------------------------------------------------------------------------


def _classify(raw: str) -> _Line:
    stripped = raw.strip()
    heading = bool(_MARKUP_EDGE.match(stripped))
    inner = _MARKUP_EDGE.sub("", stripped)
    bold = inner.startswith("**") and inner.endswith("**") and len(inner) > 4
    body = _SINGLE_EMPHASIS.sub(r"\1", _EMPHASIS.sub("", inner)).strip()
    return _Line(text=collapse(body), body=body, marked=heading or bold)


def _item_starts(lines: list[_Line]) -> list[int]:
    candidates = [i for i, line in enumerate(lines) if _is_item_line(line)]
    marked = [i for i in candidates if lines[i].marked]
    # Where the layout marks items up, a plain "Punkt 3: …" line is a reference in prose.
    return marked if marked else [i for i in candidates if i == 0 or lines[i - 1].blank]


def _is_item_line(line: _Line) -> bool:
    return len(line.text) <= _MAX_ITEM_LINE and bool(_ITEM.match(line.text)) and not _TOC_LEADER.search(line.text)


def item_number(line: str) -> int | None:
    """The number of an item heading line (``Punkt 41: …``, markup removed), else None."""
    found = _ITEM.match(line.strip()) if len(line) <= _MAX_ITEM_LINE else None
    return int(found.group(1)) if found else None


def _is_marked_layout(lines: list[_Line], starts: list[int]) -> bool:
    return any(lines[i].marked for i in starts)


# --- meeting -------------------------------------------------------------------------------------


def _title(head: list[_Line], name: str) -> tuple[DocKind, str, date | None]:
    for index, line in enumerate(head[:40]):
        match = _TITLE.match(line.text) if len(line.text) <= _MAX_HEADING else None
        if match:
            rest = match.group("rest")
            found = _TRAILING_DATE.search(rest)
            if not found and index + 1 < len(head) and not head[index + 1].blank:
                rest = f"{rest} {head[index + 1].text}"  # a title wrapped onto a second line
                found = _TRAILING_DATE.search(rest[:_MAX_HEADING])
            meeting_date = _date_from(found) if found else None
            committee = _clean_committee(rest[: found.start()] if found else rest)
            if committee:
                return _kind(match.group("kind")), committee, meeting_date
    raise ParseError(
        f"{name}: no title line naming the document and committee (e.g. 'Referat Økonomiudvalget d. 02-11-2026')"
    )


def _kind(word: str) -> DocKind:
    word = collapse(word).casefold()
    if word == "tillægsdagsorden":
        return "tillægsdagsorden"
    return "dagsorden" if word == "dagsorden" else "referat"


def _clean_committee(text: str) -> str:
    text = re.sub(r"^(?:fra\s+)?(?:(?:mødet|møde)\s+i\s+)?", "", collapse(text), flags=re.IGNORECASE)
    text = re.sub(r"^(?:19|20)\d{2}\s*-\s*(?:19|20)?\d{2}\s*:?\s*", "", text)
    text = re.sub(r"\s+(?:19|20)\d{2}\s*-\s*(?:19|20)?\d{2}$", "", text)
    return text.strip(" ,:-–")


def _header_fields(head: list[_Line]) -> dict[str, str]:
    fields: dict[str, str] = {}
    current: str | None = None
    for line in head:
        if line.blank:
            current = None
            continue
        match = _HEADER.match(line.text) if len(line.text) <= _MAX_HEADING * 4 else None
        if match:
            current = match.group("label").casefold()
            fields.setdefault(current, match.group("value"))
        elif current is not None and not line.marked:
            fields[current] = collapse(f"{fields[current]} {line.text}")  # a wrapped value
    return {key: value for key, value in fields.items() if value}


def _names(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    parts = re.split(r",\s*|\s+og\s+", value)
    return tuple(part.strip(" .") for part in parts if part.strip(" ."))


def _date_from(match: re.Match[str]) -> date | None:
    try:
        if match.group("d"):
            year = int(match.group("y"))
            return date(year + 2000 if year < 100 else year, int(match.group("m")), int(match.group("d")))
        month = MONTHS.get(match.group("tm").casefold())
        return date(int(match.group("ty")), month, int(match.group("td"))) if month else None
    except ValueError:
        return None


def _date_in(text: str) -> date | None:
    for match in _DATE.finditer(text[:_MAX_HEADING]):
        found = _date_from(match)
        if found:
            return found
    return None


def _time_in(text: str) -> time | None:
    match = _TIME.search(text[:_MAX_HEADING])
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    return time(hour, minute) if hour < 24 and minute < 60 else None


# --- items ---------------------------------------------------------------------------------------


def _item(lines: list[_Line], marked: bool, width: int, committee: str, meeting_date: date) -> ParsedItem:
    match = _ITEM.match(lines[0].text)
    assert match is not None  # _item_starts only yields item lines
    number, title = int(match.group(1)), match.group(2).strip()
    body = lines[1:]
    title, body = _wrapped_title(lines[0], title, body, marked, width)
    case_number, body = _case_number(body)
    closed = title.casefold().startswith("lukket")
    return _assemble(number, title, case_number, () if closed else _sections(body, marked), committee, meeting_date)


def build_item(
    number: int | None,
    title: str,
    case_number: str | None,
    body: str,
    committee: str,
    meeting_date: date,
    portal_id: str | None = None,
    url: str | None = None,
) -> ParsedItem:
    """An item from structured data (a portal's fields): ``body`` is markdown-ish text whose
    marked-up headings (``### Indstilling``) open the sections."""
    closed = title.casefold().startswith("lukket")
    sections = () if closed else _sections([_classify(raw) for raw in body.split("\n")], marked=True)
    item = _assemble(number, collapse(title), case_number, sections, committee, meeting_date)
    return replace(item, portal_id=portal_id, url=url)


def _assemble(
    number: int | None,
    title: str,
    case_number: str | None,
    sections: tuple[Section, ...],
    committee: str,
    meeting_date: date,
) -> ParsedItem:
    decisions = tuple(d for s in sections if (d := _decision(s)) is not None)
    bilag = [s for s in sections if s.heading.casefold().rstrip(":") in SECTION_EXACT]
    return ParsedItem(
        number=number,
        title=title,
        case_number=case_number,
        closed=title.casefold().startswith("lukket"),
        sections=sections,
        decisions=decisions,
        decision=own_decision(decisions, committee, meeting_date),
        attachments=tuple(_attachments(bilag)),
    )


def _wrapped_title(first: _Line, title: str, body: list[_Line], marked: bool, width: int) -> tuple[str, list[_Line]]:
    """A title wrapped onto the next line (PDFs) continues there: in a marked-up layout on a
    marked line right below it, in plain text when the next word would not have fitted."""
    line, taken = first, 0
    while taken < len(body):
        following = body[taken]
        if following.blank or _CASE.match(following.text) or is_section_heading(following.text):
            break
        fits = len(line.text) + 1 + len(following.text.split()[0]) < _WRAP_SHARE * width
        continues = line.marked and following.marked if marked else not fits
        if not continues:
            break
        title, line, taken = f"{title} {following.text}", following, taken + 1
    return title, body[taken:]


def _case_number(body: list[_Line]) -> tuple[str | None, list[_Line]]:
    for index, line in enumerate(body):
        if line.blank:
            continue
        match = _CASE.match(line.text) if len(line.text) <= 60 else None
        if match and sum(ch.isdigit() for ch in match.group(1)) >= 4:
            return match.group(1), body[index + 1 :]
        break
    return None, body


def _sections(body: list[_Line], marked: bool) -> tuple[Section, ...]:
    sections: list[tuple[str, list[str]]] = []
    for index, line in enumerate(body):
        # In plain text a heading is a paragraph of one line: a wrapped line of prose that
        # happens to start with "Økonomi-" is not one.
        alone = (index == 0 or body[index - 1].blank) and (index + 1 == len(body) or body[index + 1].blank)
        is_candidate = line.marked if marked else alone
        if not marked and sections and sections[-1][0].casefold() in SECTION_EXACT:
            # Plain-layout attachment names ("Høringssvar fra borgere") look like headings.
            is_candidate = is_candidate and bool(_DECISION.match(line.text))
        if is_candidate and is_section_heading(line.text):
            sections.append((line.text.rstrip(":").strip(), []))
        elif sections:
            sections[-1][1].append(line.body)
        elif not line.blank:
            sections.append(("Tekst", [line.body]))
    return tuple(Section(heading, normalise_paragraphs(text)) for heading, text in _unique(sections))


def is_decision_heading(text: str) -> bool:
    """``Beslutning``, ``Beslutning i <udvalg> den <dato>``; not Beslutningstema or -kompetence."""
    return bool(_DECISION.match(text.strip()))


def is_section_heading(text: str) -> bool:
    """Whether a heading names a section (Indstilling, Beslutning i … den …) rather than a topic."""
    if not text or len(text) > _MAX_HEADING or text.endswith(".") and not _DATE.search(text):
        return False
    folded = text.casefold().rstrip(":").strip()
    if folded in SECTION_EXACT or _DECISION.match(folded):
        return True
    return len(folded.split()) <= _MAX_HEADING_WORDS and bool(_SECTION.match(folded))


def _unique(sections: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    seen: dict[str, int] = {}
    result = []
    for heading, lines in sections:
        seen[heading] = seen.get(heading, 0) + 1
        result.append((heading if seen[heading] == 1 else f"{heading} ({seen[heading]})", lines))
    return result


def normalise_paragraphs(lines: list[str]) -> str:
    """Join wrapped lines into paragraphs; list items and table rows keep their own lines."""
    paragraphs: list[list[str]] = [[]]
    for raw in lines:
        line = raw.strip()
        if not line:
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        current = paragraphs[-1]
        if current and not _BULLET.match(line) and "\t" not in line and "\t" not in current[-1]:
            current[-1] = f"{current[-1]} {line}"
        else:
            current.append(line)
    cleaned = ["\n".join(_tidy(line) for line in paragraph) for paragraph in paragraphs if paragraph]
    return "\n\n".join(cleaned)


def _tidy(line: str) -> str:
    line = _BULLET.sub(lambda m: "- " if not m.group(0).strip()[0].isdigit() else m.group(0).strip() + " ", line)
    return "\t".join(collapse(cell) for cell in line.split("\t"))


def _attachments(bilag: list[Section]) -> list[str]:
    return [_BULLET.sub("", line).strip() for section in bilag for line in section.text.split("\n") if line.strip()]


# --- decisions -----------------------------------------------------------------------------------


def _decision(section: Section) -> Decision | None:
    match = _DECISION.match(section.heading)
    if not match:
        return None
    rest = collapse(match.group("rest") or "")
    found = _TRAILING_DATE.search(rest) if rest else None
    decided = _date_from(found) if found else None
    if found:
        rest = rest[: found.start()]
    named = _DECISION_COMMITTEE.match(rest.strip()) if rest.strip() else None
    return Decision(committee=named.group("committee") if named else None, date=decided, text=section.text)


def own_decision(decisions: tuple[Decision, ...], committee: str, meeting_date: date) -> str | None:
    """The decision taken at this meeting: this committee's (or a bare ``Beslutning``), dated today."""
    mine = committee_key(committee)
    for decision in reversed(decisions):
        same_day = decision.date is None or decision.date == meeting_date
        same_committee = decision.committee is None or _same_committee(committee_key(decision.committee), mine)
        if same_day and same_committee:
            return decision.text
    return None


def _same_committee(a: str, b: str) -> bool:
    return a == b or a.startswith(b) or b.startswith(a)
