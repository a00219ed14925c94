"""Sections, decisions and dates: the vocabulary Danish minutes are written in.

Which headings open a section (by name, so sub-headings stay text), which sections are
decisions and whose, how paragraphs are normalised, and Danish dates and times.
"""

from __future__ import annotations

import re
from datetime import date, time
from functools import lru_cache

from bot.parse.minutes import Decision, Section, collapse, committee_key

MAX_HEADING = 200  # longer lines are prose, never headings: also keeps regexes cheap on huge lines

MONTHS = {
    name: number
    for number, name in enumerate(
        "januar februar marts april maj juni juli august september oktober november december".split(), 1
    )
}

_BULLET = re.compile(r"^\s*(?:[-*•·▪–]\s+|\d{1,3}[.)]\s+)")
_BULLET_INITIALS = tuple("-*•·▪–")

_NUMERIC_DATE = r"(?P<d>\d{1,2})[-./](?P<m>\d{1,2})[-./](?P<y>\d{4}|\d{2})"
_TEXT_DATE = r"(?P<td>\d{1,2})\.?\s+(?P<tm>[a-zæøå]+)\s+(?P<ty>\d{4})"
_DATE = re.compile(rf"(?:{_NUMERIC_DATE}|{_TEXT_DATE})", re.IGNORECASE)
TRAILING_DATE = re.compile(rf"\s*(?:\b(?:d\.|den)\s*)?(?:{_NUMERIC_DATE}|{_TEXT_DATE})\s*$", re.IGNORECASE)

_TIME = re.compile(r"\bkl\.?\s*(\d{1,2})[:.](\d{2})", re.IGNORECASE)

# "Beslutning", "Beslutning i Økonomiudvalget den 02-11-2026"; not prose that starts with the word
# ("Beslutning om nedlæggelse af …", "Beslutningen blev …" is another word already).
_DECISION = re.compile(
    r"^beslutning(?!\s+(?:om|af|vedr\w*|til|og|at|er|blev|skal|kan|har|var|træffes|tages)\b)"
    r"(?:\s*:)?(?:\s+(?P<rest>[^-–].*))?$",
    re.IGNORECASE,
)
_DECISION_COMMITTEE = re.compile(r"^(?:(?:i|på|fra|truffet i)\s+)?(?P<committee>.+?)\s*:?$", re.IGNORECASE)

# Section names: a heading is a section when its first words are one of these (the rest of
# the heading may say more, e.g. "Økonomiske konsekvenser for 2027"). Exact names must be the
# whole heading: "Bilag 8. Forslag til nye budgetnoter" is a sub-heading, not the list of Bilag.
# The main sections (and decisions) open a section wherever they stand; the other names are
# also written as sub-headings inside a section, where :mod:`bot.parse.parser` keeps them as text.
# Each main section has a "Supplerende" form (added after the agenda went out), shown under its
# own name and counted as the main section by watchlist ``sections`` filters.
MAIN_SECTION_NAMES = (
    r"(?:kort\s+)?(?:sags)?resum[eé]",
    r"beslutningstema",
    r"indstillinge?n?",
    r"sagsfremstilling(?:en)?",
)
OTHER_SECTION_NAMES = (
    r"beslutningskompetencen?",
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
    # København (kk.dk) and Aalborg write their cases under these headings
    r"problemstilling(?:en)?",
    r"løsning(?:en)?",
    r"andre\s+konsekvenser",
    r"sagsbeskrivelse",
)
SECTION_NAMES = MAIN_SECTION_NAMES + OTHER_SECTION_NAMES
_SUPPLEMENT = re.compile(r"^supplerende\s+")
_MAIN_NAME = rf"(?:supplerende\s+)?(?:{'|'.join(MAIN_SECTION_NAMES)})"
_MAIN = re.compile(rf"^{_MAIN_NAME}(?=\W|$)")
_SECTION = re.compile(rf"^(?:{_MAIN_NAME}|{'|'.join(OTHER_SECTION_NAMES)})(?=\W|$)")
_BILAG = ("bilag", "bilagsliste", "bilagsfortegnelse")
SECTION_EXACT = _BILAG + tuple(f"supplerende {name}" for name in _BILAG)
MAX_HEADING_WORDS = 10


def date_from(match: re.Match[str]) -> date | None:
    try:
        if match.group("d"):
            year = int(match.group("y"))
            return date(year + 2000 if year < 100 else year, int(match.group("m")), int(match.group("d")))
        month = MONTHS.get(match.group("tm").casefold())
        return date(int(match.group("ty")), month, int(match.group("td"))) if month else None
    except ValueError:
        return None


def date_in(text: str) -> date | None:
    for match in _DATE.finditer(text[:MAX_HEADING]):
        found = date_from(match)
        if found:
            return found
    return None


def time_in(text: str) -> time | None:
    match = _TIME.search(text[:MAX_HEADING])
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    return time(hour, minute) if hour < 24 and minute < 60 else None


def is_decision_heading(text: str) -> bool:
    """``Beslutning``, ``Beslutning i <udvalg> den <dato>``; not Beslutningstema or -kompetence."""
    return bool(_DECISION.match(text.strip()))


# Both tests below are pure and asked of every heading-like line; minutes repeat the same few
# headings in every item, so answers are cached (only for lines short enough to be headings).


def is_section_heading(text: str) -> bool:
    """Whether a heading names a section (Indstilling, Beslutning i … den …) rather than a topic."""
    return len(text) <= MAX_HEADING and _is_section_heading(text)


@lru_cache(maxsize=4096)
def _is_section_heading(text: str) -> bool:
    if not text or text.endswith(".") and not _DATE.search(text):
        return False
    folded = text.casefold().rstrip(":").strip()
    if folded in SECTION_EXACT or _DECISION.match(folded):
        return True
    return len(folded.split()) <= MAX_HEADING_WORDS and bool(_SECTION.match(folded))


def is_main_section_heading(text: str) -> bool:
    """A decision or a main section (Resumé, Beslutningstema, Indstilling, Sagsfremstilling,
    Bilag, or their Supplerende forms): these open a section even written as a sub-heading."""
    return len(text) <= MAX_HEADING and _is_main_section_heading(text)


@lru_cache(maxsize=4096)
def _is_main_section_heading(text: str) -> bool:
    if not _is_section_heading(text):
        return False
    folded = collapse(text).casefold().rstrip(":").strip()
    return folded in SECTION_EXACT or bool(_DECISION.match(folded) or _MAIN.match(folded))


def section_kind(heading: str) -> str:
    """The heading a section counts as (case-folded): "Supplerende indstilling" → "indstilling"."""
    return _SUPPLEMENT.sub("", collapse(heading).casefold())


def normalise_paragraphs(lines: list[str]) -> str:
    """Join wrapped lines into paragraphs; list items and table rows keep their own lines."""
    paragraphs: list[str] = []
    current: list[list[str]] = []  # the paragraph's lines, each as the wrapped lines joined into it
    for raw in lines:
        line = raw.strip()
        if not line:
            if current:
                paragraphs.append(_paragraph(current))
                current = []
            continue
        # Only lines without tabs are ever joined, so a joined line's last part holds a tab iff it does.
        if current and "\t" not in line and "\t" not in current[-1][-1] and not _bullet(line):
            current[-1].append(line)
        else:
            current.append([line])
    if current:
        paragraphs.append(_paragraph(current))
    return "\n\n".join(paragraphs)


def _paragraph(lines: list[list[str]]) -> str:
    return "\n".join(_tidy(parts[0] if len(parts) == 1 else " ".join(parts)) for parts in lines)


def _tidy(line: str) -> str:
    bullet = _bullet(line)  # anchored: the same as substituting it
    if bullet:
        mark = bullet.group(0).strip()
        line = ("- " if not mark[0].isdigit() else mark + " ") + line[bullet.end() :]
    if "\t" not in line:
        return collapse(line)
    return "\t".join(collapse(cell) for cell in line.split("\t"))


def _bullet(line: str) -> re.Match[str] | None:
    """A list mark at the start of a stripped line: only a bullet or a digit can begin one."""
    return _BULLET.match(line) if line[:1] in _BULLET_INITIALS or line[:1].isdigit() else None


def attachments_of(bilag: list[Section]) -> list[str]:
    return [_BULLET.sub("", line).strip() for section in bilag for line in section.text.split("\n") if line.strip()]


# --- decisions -----------------------------------------------------------------------------------


def decision_of(section: Section) -> Decision | None:
    match = _DECISION.match(section.heading)
    if not match:
        return None
    rest = collapse(match.group("rest") or "")
    found = TRAILING_DATE.search(rest) if rest else None
    decided = date_from(found) if found else None
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
