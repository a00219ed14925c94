"""Minutes text → a meeting with agenda items, sections and decisions.

Works on the markdown-ish text from :mod:`bot.parse.extract` for every layout municipalities
publish: markdown headings (``# Punkt 1: …``, ``## Indstilling``), bold markdown
(``## **Punkt 1: …**``, ``**Beslutning i … den …**``) and plain text where headings are
lines of their own. The layout is told from the content: when the ``Punkt`` lines carry
markup, only marked-up lines can be headings; otherwise a short line after a blank line can.
Only known section names open a section; other headings stay text of the current section.

Sub-headings stay inside their section, even when their words are a section name
("Baggrund", "Økonomi", "Vurdering"): such a heading opens no section when it is italic only
(``### *Baggrund*``) or nested deeper than the heading that opened the current section
(``#### Baggrund`` or ``<h4>`` under ``### Sagsfremstilling``; a fully bold line counts as
deeper than any ``#`` heading) without being heavier than it. Levels alone cannot decide it:
minutes converted from Word mix them (``## Beslutning`` then ``### **Sagsfremstilling**``;
``## Sagsfremstilling`` then ``### **Økonomiske konsekvenser**``), so decisions and the main
sections (Resumé, Beslutningstema, Indstilling, Sagsfremstilling, Bilag and their
"Supplerende" forms) open a section at any level, and a deeper heading that is bold under
one that is not is a section heading typed in another style.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import NamedTuple

from bot.errors import ParseError
from bot.parse.minutes import Attachment, DocKind, ParsedItem, ParsedMeeting, Section, collapse, committee_name
from bot.parse.sections import (
    MAX_HEADING,
    SECTION_EXACT,
    TRAILING_DATE,
    attachments_of,
    date_from,
    date_in,
    decision_of,
    is_decision_heading,
    is_main_section_heading,
    is_section_heading,
    normalise_paragraphs,
    own_decision,
    time_in,
)

_MAX_ITEM_LINE = 2000  # an item title this long is odd, but dropping the item would be worse

_MARKUP_EDGE = re.compile(r"^\s*#{1,6}\s+|^\s*#{1,6}$")
_EMPHASIS = re.compile(r"\*\*|__")
_SINGLE_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_ITALIC_LINE = re.compile(r"^(?:\*(?!\*)[^*]+\*|_(?!_)[^_]+_)$")
_BOLD_LEVEL = 7  # a fully bold line ranks below every "#" heading
_ITEM = re.compile(r"^(?:Punkt|Pkt\.?)\s*(\d+)\s*[:.]?\s+(.+?)\s*$", re.IGNORECASE)
MAX_ITEM_NUMBER = 999_999_999  # fits every database's integer column
_TOC_LEADER = re.compile(r"(?:\.{3,}|…)\s*\d*\s*$|\t\s*\d+\s*$")
_CASE = re.compile(
    r"^(?:(?:Sagsnr|Sags\s*nr|Sagsnummer|J\.?\s*nr)\.?:?\s*)?([0-9][0-9A-Za-zÆØÅæøå]*(?:[./-][0-9A-Za-zÆØÅæøå]+)+)$"
)
_TITLE = re.compile(
    r"^(?P<kind>tillægsdagsorden|lukket\s+referat|referat|beslutningsprotokol|dagsorden)\b[\s:,–-]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_HEADER = re.compile(
    r"^(?P<label>Mødedato|Dato|Tidspunkt|Mødested|Sted|Mødedeltagere|Deltagere|Medlemmer)\b\s*:?\s*(?P<value>.*)$",
    re.IGNORECASE,
)
_WRAP_SHARE = 0.9  # a line this close to the longest line was wrapped by the typesetter


class _Line(NamedTuple):  # a tuple: built once per line, and a frozen dataclass is slow to build
    text: str  # markup removed, whitespace collapsed
    body: str  # emphasis removed, bullets and tabs kept: the form stored in sections
    marked: bool  # a markdown heading or a fully bold line
    level: int = 0  # 1-6 for "#"-"######", _BOLD_LEVEL for a fully bold line, else 0
    bold: bool = False  # the whole text is bold ("## **Høring**")
    italic: bool = False  # the whole text is italic and not bold ("### *Baggrund*")

    @property
    def blank(self) -> bool:
        return not self.text


_BLANK = _Line("", "", False)
_ITALIC_MARKS = ("*", "_")
_MARKUP_STARTS = "#*_"
_ITEM_INITIALS = ("P", "p")


def parse_minutes(text: str, name: str) -> ParsedMeeting:
    """Parse one document; raises :class:`ParseError` naming the file and the reason."""
    lines = [_classify(raw) for raw in text.split("\n")]
    starts = _item_starts(lines)
    if not starts:
        raise ParseError(f"{name}: no agenda items found (no lines like 'Punkt 1: …')")
    head = lines[: starts[0]]
    kind, committee, meeting_date = _title(head, name)
    header = _header_fields(head)
    meeting_date = meeting_date or date_in(header.get("mødedato") or header.get("dato") or "")
    if meeting_date is None:
        raise ParseError(f"{name}: cannot find the meeting date in the title or 'Mødedato' line")
    marked = _is_marked_layout(lines, starts)
    width = max(len(line.text) for line in lines)  # where a PDF wraps its lines
    items = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(lines)
        items.append(_item(lines[start:end], marked, width, committee, meeting_date))
        if (items[-1].number or 0) > MAX_ITEM_NUMBER:
            raise ParseError(f"{name}: item number {items[-1].number} is too large (at most {MAX_ITEM_NUMBER:,})")
    return ParsedMeeting(
        kind=kind,
        committee=committee,
        date=meeting_date,
        start=time_in(header.get("mødedato") or header.get("tidspunkt") or ""),
        place=header.get("mødested") or header.get("sted"),
        participants=_names(header.get("mødedeltagere") or header.get("deltagere") or header.get("medlemmer")),
        items=tuple(items),
    )


# --- lines ---------------------------------------------------------------------------------------


def _classify(raw: str) -> _Line:
    stripped = raw.strip()
    if not stripped:
        return _BLANK
    # The patterns below only change a line holding '#', '*' or '_': most lines hold none, and
    # testing for the character first spares scanning the whole line with each regex.
    if stripped[0] in _MARKUP_STARTS:
        edge = _MARKUP_EDGE.match(stripped)  # anchored: the same as substituting it away
        hashes = len(stripped) - len(stripped.lstrip("#")) if edge else 0
        inner = stripped[edge.end() :] if edge else stripped
        bold = inner.startswith("**") and inner.endswith("**") and len(inner) > 4
        italic = not bold and inner[:1] in _ITALIC_MARKS and bool(_ITALIC_LINE.match(inner))
        body = inner[1:-1] if italic else inner
    else:  # no heading, bold or italic mark-up can start here
        hashes, bold, italic, body = 0, False, False, stripped
    if "**" in body:  # with only one of the two marks present the regex removes exactly that mark
        body = _EMPHASIS.sub("", body) if "__" in body else body.replace("**", "")
    elif "__" in body:
        body = body.replace("__", "")
    if "*" in body:
        body = _SINGLE_EMPHASIS.sub(r"\1", body)
    body = body.strip()
    level = hashes or (_BOLD_LEVEL if bold else 0)
    # collapse(body), inlined for the common line: stripped, printable (so no whitespace but spaces), no double space
    text = body if body.isprintable() and "  " not in body else collapse(body)
    return _Line(text, body, bool(level), level, bold, italic)


def _item_starts(lines: list[_Line]) -> list[int]:
    # Every item line starts with "P" (no other character matches it ignoring case): test that first.
    candidates = [i for i, line in enumerate(lines) if line.text[:1] in _ITEM_INITIALS and _is_item_line(line)]
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
        match = _TITLE.match(line.text) if len(line.text) <= MAX_HEADING else None
        if match:
            rest = match.group("rest")
            found = TRAILING_DATE.search(rest)
            if not found and index + 1 < len(head) and not head[index + 1].blank:
                rest = f"{rest} {head[index + 1].text}"  # a title wrapped onto a second line
                found = TRAILING_DATE.search(rest[:MAX_HEADING])
            meeting_date = date_from(found) if found else None
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
    return committee_name(re.sub(r"^(?:fra\s+)?(?:(?:mødet|møde)\s+i\s+)?", "", collapse(text), flags=re.IGNORECASE))


def _header_fields(head: list[_Line]) -> dict[str, str]:
    fields: dict[str, str] = {}
    current: str | None = None
    for line in head:
        if line.blank:
            current = None
            continue
        match = _HEADER.match(line.text) if len(line.text) <= MAX_HEADING * 4 else None
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
    decisions = tuple(d for s in sections if (d := decision_of(s)) is not None)
    bilag = [s for s in sections if s.heading.casefold().rstrip(":") in SECTION_EXACT]
    return ParsedItem(
        number=number,
        title=title,
        case_number=case_number,
        closed=title.casefold().startswith("lukket"),
        sections=sections,
        decisions=decisions,
        decision=own_decision(decisions, committee, meeting_date),
        attachments=tuple(Attachment(name) for name in attachments_of(bilag)),
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
    opener: _Line | None = None  # the heading that opened the current section
    last = len(body) - 1
    for index, line in enumerate(body):
        if marked:
            is_candidate = line.marked
        else:
            # In plain text a heading is a paragraph of one line: a wrapped line of prose that
            # happens to start with "Økonomi-" is not one. (A blank line is no heading either.)
            is_candidate = (
                bool(line.text)
                and (index == 0 or not body[index - 1].text)
                and (index == last or not body[index + 1].text)
            )
        if is_candidate and not marked and sections and sections[-1][0].casefold() in SECTION_EXACT:
            # Plain-layout attachment names ("Høringssvar fra borgere") look like headings.
            is_candidate = is_candidate and is_decision_heading(line.text)
        if is_candidate and is_section_heading(line.text) and not _is_sub_heading(line, opener):
            sections.append((line.text.rstrip(":").strip(), []))
            opener = line
        elif sections:
            sections[-1][1].append(line.body)
        elif not line.blank:
            sections.append(("Tekst", [line.body]))
    return tuple(Section(heading, normalise_paragraphs(text)) for heading, text in _unique(sections))


def _is_sub_heading(line: _Line, opener: _Line | None) -> bool:
    """A heading with a section's name that is written as a sub-heading of the current section
    ("#### Baggrund" or "### *Baggrund*" under "### Sagsfremstilling") is text of that section.

    Decisions and the main sections (Resumé, Beslutningstema, Indstilling, Sagsfremstilling,
    Bilag and their Supplerende forms) always open a section: real minutes put them at any
    level. Another name is a sub-heading when it is italic only, or when it ranks below the
    heading that opened the section ("#" over "######" over a fully bold line) and is no
    heavier than it: documents converted from Word write a template heading as a deeper but
    bold one ("## Sagsfremstilling" … "### **Økonomiske konsekvenser**"), never a sub-heading.
    """
    if opener is None or is_main_section_heading(line.text):
        return False
    if line.italic:
        return True
    heavier = line.bold and not opener.bold and line.level < _BOLD_LEVEL
    return line.level > opener.level and not heavier


def _unique(sections: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """A repeated heading gets a number ("Indstilling (2)") that no other section of the item has:
    sections are keyed by heading in diffs and JSON."""
    taken = {heading for heading, _ in sections}
    used: set[str] = set()
    result = []
    for heading, lines in sections:
        name, count = heading, 1
        while name in used or (name != heading and name in taken):
            count += 1
            name = f"{heading} ({count})"
        used.add(name)
        result.append((name, lines))
    return result
