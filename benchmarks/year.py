"""A year of whole minutes documents: kommuner × committees × meetings, agenda → minutes pairs.

Each kommune publishes in one layout, as real portals do: markdown headings (``# Punkt 3: …``),
bold markdown (``**Punkt 3: …**``) or plain text (headings on lines of their own). Each meeting
has an agenda (dagsorden) and its minutes (referat): the minutes repeat the items and add
``Beslutning i <udvalg> den <dato>``; now and then an item is withdrawn from the minutes, and a
few minutes are re-published corrected (one section edited), as a second file. The body text is
:mod:`benchmarks.generate`'s. Same seed and sizes, same files. This lives beside ``generate.py``
(already past 400 lines) and uses its writer.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.generate import SECTIONS, _Writer

COMMITTEES = (
    "Økonomiudvalget",
    "Teknik- og Miljøudvalget",
    "Børne- og Skoleudvalget",
    "Social- og Beskæftigelsesudvalget",
    "Kultur- og Fritidsudvalget",
    "Social- og Sundhedsudvalget",
    "Klima- og Planudvalget",
    "Erhvervs- og Turismeudvalget",
    "Ældreudvalget",
    "Børne- og Ungeudvalget",
    "Plan- og Boligudvalget",
    "Miljø- og Forsyningsudvalget",
    "Integrationsudvalget",
    "Beskæftigelsesudvalget",
    "Sundheds- og Forebyggelsesudvalget",
)
LAYOUTS = ("md", "bold", "plain")
MONTHS = (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12)  # eleven meetings a year: none in July
CORRECTED_SHARE = 0.02  # minutes re-published with one section corrected
WITHDRAWN_SHARE = 0.03  # items that the minutes no longer carry ("udgår")


@dataclass(frozen=True)
class YearSize:
    kommuner: int
    committees: int
    meetings: int
    items: int = 10  # on average per meeting (uniform in items-4 … items+4, at least 3)

    @property
    def n_meetings(self) -> int:
        return self.kommuner * self.committees * self.meetings


@dataclass(frozen=True)
class MinutesFile:
    path: str  # relative: "<kommune>/<date>-<committee>-referat.md"
    kommune: str
    text: str


def kommune_name(index: int) -> str:
    return f"Kommune{index + 1:02d}"


def _slug(text: str) -> str:
    table = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", " ": "-"})
    return "".join(c for c in text.lower().translate(table) if c.isalnum() or c == "-").replace("--", "-")


@dataclass(frozen=True)
class _Item:
    number: int
    title: str
    case: str
    sections: tuple[tuple[str, str], ...]


class _Meeting:
    def __init__(self, writer: _Writer, layout: str, committee: str, day: str) -> None:
        self.writer, self.layout, self.committee, self.day = writer, layout, committee, day

    def heading(self, text: str, level: int) -> str:
        return self.writer.heading(text, self.layout, level)

    def header(self, kind: str) -> list[str]:
        title = f"{kind} {self.committee} d. {self.day}"
        label = "**Mødested**" if self.layout != "plain" else "Mødested"
        return [self.heading(title, 1), f"{label} Rådhuset, mødelokale {self.writer.rng.randint(1, 9)}"]

    def render(self, kind: str, items: list[_Item]) -> str:
        blocks = self.header(kind)
        for item in items:
            blocks += [self.heading(f"Punkt {item.number}: {item.title}", 1), item.case]
            for heading, body in item.sections:
                blocks += [self.heading(heading, 2), body]
        return "\n\n".join(blocks) + "\n"


def _agenda(writer: _Writer, n_items: int, year_case: str) -> list[_Item]:
    rng = writer.rng
    items = [_Item(1, "Godkendelse af dagsorden", year_case, (("Indstilling", "At dagsordenen godkendes."),))]
    for number in range(2, n_items):
        title = writer.sentence().rstrip(".:?")[: rng.randint(30, 90)].rsplit(" ", 1)[0].rstrip(",")
        case = f"{rng.randint(24, 26)}/{rng.randint(1, 39999)}"
        proposal = "Forvaltningen indstiller,\n\n" + "\n\n".join(
            f"{n}. at {writer.sentence()[:-1].lower()}," for n in range(1, rng.randint(2, 4))
        )
        sections = [("Indstilling", proposal)]
        for section in rng.sample(SECTIONS, rng.randint(1, 4)):
            sections.append((section, "\n\n".join(writer.paragraph() for _ in range(rng.randint(1, 3)))))
        items.append(_Item(number, title, case, tuple(sections)))
    items.append(_Item(n_items, "Eventuelt", year_case, (("Indstilling", "Intet."),)))
    return items


def _minutes(writer: _Writer, meeting: _Meeting, agenda: list[_Item]) -> list[_Item]:
    rng = writer.rng
    decided = []
    for item in agenda:
        if item.number > 1 and rng.random() < WITHDRAWN_SHARE:
            continue  # udgår
        decision = "Godkendt. " + (writer.sentence() if rng.random() < 0.5 else "")
        heading = f"Beslutning i {meeting.committee} den {meeting.day}"
        decided.append(_Item(item.number, item.title, item.case, (*item.sections, (heading, decision.strip()))))
    return decided


def _corrected(writer: _Writer, items: list[_Item]) -> list[_Item]:
    index = writer.rng.randrange(len(items))
    item = items[index]
    heading, body = item.sections[0]
    fixed = (heading, body + " Rettelse: " + writer.sentence())
    return [*items[:index], _Item(item.number, item.title, item.case, (fixed, *item.sections[1:])), *items[index + 1 :]]


def year(size: YearSize, seed: int = 1) -> Iterator[MinutesFile]:
    """Every document of the year, kommune by kommune; a generator, so a national year need not
    be held in memory."""
    for k in range(size.kommuner):
        rng = random.Random(f"{seed}:{k}")  # each kommune its own stream: a prefix of kommuner is stable
        writer = _Writer(rng)
        kommune = kommune_name(k)
        layout = LAYOUTS[k % len(LAYOUTS)]
        ext = ".txt" if layout == "plain" else ".md"
        for c in range(size.committees):
            committee = COMMITTEES[c % len(COMMITTEES)]
            year_case = f"26/{rng.randint(100, 999)}"  # standing items share one case number all year
            for month in MONTHS[: size.meetings]:
                day = f"{rng.randint(1, 28):02d}-{month:02d}-2026"
                meeting = _Meeting(writer, layout, committee, day)
                n_items = max(3, rng.randint(size.items - 4, size.items + 4))
                agenda = _agenda(writer, n_items, year_case)
                stem = f"{kommune.lower()}/2026-{month:02d}-{day[:2]}-{_slug(committee)}"
                yield MinutesFile(f"{stem}-dagsorden{ext}", kommune, meeting.render("DAGSORDEN", agenda))
                minutes = _minutes(writer, meeting, agenda)
                yield MinutesFile(f"{stem}-referat{ext}", kommune, meeting.render("REFERAT", minutes))
                if rng.random() < CORRECTED_SHARE:
                    text = meeting.render("REFERAT", _corrected(writer, minutes))
                    yield MinutesFile(f"{stem}-referat-rettet{ext}", kommune, text)


def write_year(size: YearSize, folder: Path, seed: int = 1) -> tuple[list[str], int]:
    """Write the year under ``folder`` (one sub-folder per kommune); the kommuner and the bytes."""
    kommuner: list[str] = []
    total = 0
    for doc in year(size, seed):
        path = folder / doc.path
        if doc.kommune not in kommuner:
            kommuner.append(doc.kommune)
            path.parent.mkdir(parents=True, exist_ok=True)
        data = doc.text.encode("utf-8")
        path.write_bytes(data)
        total += len(data)
    return kommuner, total
