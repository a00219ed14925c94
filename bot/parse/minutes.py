"""Value objects for one parsed minutes document: a meeting and its agenda items.

Every stage after parsing works on these; they are plain frozen dataclasses so a
source that has structured data (a portal API) can build them without the text parser.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, time
from typing import Literal

DocKind = Literal["dagsorden", "tillægsdagsorden", "referat"]

# A later document of a higher rank wins over an earlier one of a lower rank for the same
# meeting: minutes are never overridden by the agenda, whatever order they are read in.
KIND_RANK: dict[str, int] = {"dagsorden": 1, "tillægsdagsorden": 1, "referat": 2}

_PERIOD = re.compile(r"\s*\b(?:19|20)\d{2}\s*-\s*(?:(?:19|20)?\d{2})\b:?\s*")


def collapse(text: str) -> str:
    """All runs of whitespace to one space: the form used for hashing and comparing."""
    # Most lines are collapsed already: every whitespace character but the space is unprintable,
    # so a printable text without double or edge spaces is its own result (no list of words built).
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    # str.split() and the regex \s agree on what whitespace is (both Py_UNICODE_ISSPACE), and
    # splitting is several times faster than re.sub(r"\s+", …) on the long lines of minutes.
    return " ".join(text.split())


# An election period at either end of a committee name: "… 2022-2025", "… (2022-25)", "2022-2025: …"
_YEARS = r"(?:19|20)\d{2}\s*[-–]\s*(?:19|20)?\d{2}"
_EDGE_PERIOD = re.compile(rf"^\(?{_YEARS}\)?(?:\s*:\s*|\s+)|\s+[-–]?\s*\(?{_YEARS}\)?$")


def committee_name(name: str) -> str:
    """A committee name as every layout shows it: spacing collapsed, no election period at
    either end (some portals and title lines add it, others do not, and it changes every
    four years while the committee stays the same)."""
    text = collapse(name).strip(" ,:-–")
    while (shorter := _EDGE_PERIOD.sub("", text, count=1).strip(" ,:-–")) != text:
        text = shorter
    return text


def committee_key(name: str) -> str:
    """A committee name reduced for comparisons: no election period, case and spacing folded."""
    return collapse(_PERIOD.sub(" ", name)).casefold()


@dataclass(frozen=True)
class Section:
    heading: str
    text: str


@dataclass(frozen=True)
class Decision:
    committee: str | None
    date: date | None
    text: str

    def as_json(self) -> dict[str, str | None]:
        return {
            "committee": self.committee,
            "date": self.date.isoformat() if self.date else None,
            "text": self.text,
        }


@dataclass(frozen=True)
class Attachment:
    """A bilag: its name and, where the site links it, where to fetch it."""

    name: str
    url: str | None = None
    key: str | None = None  # the site's own id of the bilag (FirstAgenda's Bilag Id): stable where a url may not be
    pdf: bool | None = None  # whether the site says it has a PDF of it (FirstAgenda's HarPdfVersion); None: unknown

    def as_json(self) -> dict[str, str | None]:
        return {"name": self.name, "url": self.url}


@dataclass(frozen=True)
class ParsedItem:
    number: int | None
    title: str
    case_number: str | None
    closed: bool
    sections: tuple[Section, ...] = ()
    decisions: tuple[Decision, ...] = ()
    decision: str | None = None
    attachments: tuple[Attachment, ...] = ()
    portal_id: str | None = None
    url: str | None = None

    def section_map(self) -> dict[str, str]:
        return {s.heading: s.text for s in self.sections}

    def content_hash(self) -> str:
        """Identity of the item's published content, blind to whitespace and line wrapping."""
        # Cached on the instance: the fields are frozen, and the store asks more than once per item.
        # (Outside the fields, so equality, repr and dataclasses.replace() do not see it.)
        cached: str | None = self.__dict__.get("_content_hash")
        if cached is not None:
            return cached
        canonical = {
            "title": collapse(self.title),
            "case": self.case_number,
            "closed": self.closed,
            "sections": [[collapse(s.heading), collapse(s.text)] for s in self.sections],
        }
        blob = json.dumps(canonical, ensure_ascii=False, sort_keys=True).encode()
        digest = hashlib.sha256(blob).hexdigest()
        object.__setattr__(self, "_content_hash", digest)
        return digest


@dataclass(frozen=True)
class ParsedMeeting:
    kind: DocKind
    committee: str
    date: date
    start: time | None = None
    place: str | None = None
    participants: tuple[str, ...] = ()
    items: tuple[ParsedItem, ...] = field(default_factory=tuple)
    url: str | None = None

    @property
    def rank(self) -> int:
        return KIND_RANK[self.kind]

    @property
    def is_full(self) -> bool:
        """A full document lists every item: items missing from it are withdrawn."""
        return self.kind != "tillægsdagsorden"
