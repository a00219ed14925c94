"""The minutes parser, on the real published minutes and on small written specifications."""

from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.minutes import Attachment, Decision
from bot.parse import parse_minutes
from bot.sections import is_section_heading, own_decision

from .conftest import CORPUS

CASES = Path(__file__).parent / "cases"
CORPUS_CASES = json.loads((CASES / "corpus.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(CORPUS_CASES))
def test_real_minutes_parse_as_published(name: str) -> None:
    if not (CORPUS / name).exists():
        pytest.skip("../shared/corpus is not available")
    expected = CORPUS_CASES[name]
    meeting = parse_minutes((CORPUS / name).read_text(encoding="utf-8"), name)
    assert meeting.kind == expected["kind"]
    assert meeting.committee == expected["committee"]
    assert meeting.date.isoformat() == expected["date"]
    assert meeting.start is not None and meeting.start.strftime("%H:%M") == expected["start"]
    assert meeting.place == expected["place"]
    assert list(meeting.participants) == expected["participants"]
    assert len(meeting.items) == len(expected["items"])
    for item, want in zip(meeting.items, expected["items"], strict=True):
        assert item.number == want["number"]
        assert item.title == want["title"]
        assert item.case_number == want["case_number"]
        assert item.closed == want["closed"]
        assert [s.heading for s in item.sections] == want["sections"], item.title
        assert (item.decision or "")[:40] == (want["decision_starts"] or "")
        got = [{"committee": d.committee, "date": d.date.isoformat() if d.date else None} for d in item.decisions]
        assert got == want["decisions"], item.title
        assert len(item.attachments) == want["attachments"], item.title


def test_closed_items_keep_their_published_title_and_no_body() -> None:
    meeting = parse_minutes(
        "Referat Økonomiudvalget d. 02-11-2026\n\nPunkt 9: Lukket: Salg af grund\n\n26/1234\n\nSagsfremstilling\n\nHemmeligt.\n",
        "x.txt",
    )
    (item,) = meeting.items
    assert (item.title, item.closed, item.case_number, item.sections) == ("Lukket: Salg af grund", True, "26/1234", ())


MARKDOWN = """# DAGSORDEN Klima-, Miljø- og Teknikudvalget 2026-2029 d. 2. november 2026

**Mødedato** Mandag d. 2. november 2026 kl. 16:30

**Mødested** Rådhuset, lokale 2

**Mødedeltagere** Anna Holm, Bo Lind og Carl Ravn

## Indholdsfortegnelse

Punkt 1: Godkendelse af dagsorden.....	3
Busplan 2027.....	4

# Punkt 1: Godkendelse af dagsorden

26/100

## Indstilling

At dagsordenen godkendes.

# Punkt 2: Busplan 2027

00.01.00G01-143-26

## Resumé

Forslag til ny busplan. Se også Punkt 1: Godkendelse af dagsorden
for tidligere behandling.

## Sagsfremstilling

Indledning med *fremhævet* og **fed** tekst,
der er brudt over to linjer.

### Økonomien i busdriften

Underafsnit, som hører til sagsfremstillingen.

- første punkt
- andet punkt

## Bilag 8. Oversigt over linjer

Stadig sagsfremstilling.

## Beslutning i Økonomiudvalget den 20-10-2026

Anbefalet.

## Bilag

- Bilag 1 Busplan
- Bilag 2 Høringssvar
"""


def test_markdown_layout_sections_subheadings_and_attachments() -> None:
    meeting = parse_minutes(MARKDOWN, "busplan.md")
    assert (meeting.kind, meeting.committee, meeting.date) == (
        "dagsorden",
        "Klima-, Miljø- og Teknikudvalget",
        date(2026, 11, 2),
    )
    assert (meeting.start, meeting.place, meeting.participants) == (
        time(16, 30),
        "Rådhuset, lokale 2",
        ("Anna Holm", "Bo Lind", "Carl Ravn"),
    )
    first, bus = meeting.items
    assert (first.number, first.title, first.case_number) == (1, "Godkendelse af dagsorden", "26/100")
    assert bus.case_number == "00.01.00G01-143-26"
    assert [s.heading for s in bus.sections] == [
        "Resumé",
        "Sagsfremstilling",
        "Beslutning i Økonomiudvalget den 20-10-2026",
        "Bilag",
    ]
    text = bus.section_map()["Sagsfremstilling"]
    assert text.startswith("Indledning med fremhævet og fed tekst, der er brudt over to linjer.")
    assert "Økonomien i busdriften\n\nUnderafsnit" in text
    assert "- første punkt\n- andet punkt" in text
    assert "Bilag 8. Oversigt over linjer" in text
    assert bus.attachments == (Attachment("Bilag 1 Busplan"), Attachment("Bilag 2 Høringssvar"))
    assert bus.decisions == (Decision("Økonomiudvalget", date(2026, 10, 20), "Anbefalet."),)
    assert bus.decision is None, "another committee's earlier decision is not this meeting's decision"


def test_layout_is_read_from_content_not_from_the_file_name() -> None:
    assert len(parse_minutes(MARKDOWN, "busplan.txt").items) == 2
    assert parse_minutes(MARKDOWN, "busplan.txt") == parse_minutes(MARKDOWN, "busplan.md")


def test_a_whitespace_only_rewrap_gives_the_same_content_hash() -> None:
    rewrapped = MARKDOWN.replace(
        "Indledning med *fremhævet* og **fed** tekst,\nder er", "Indledning   med fremhævet og fed\ntekst, der er"
    )
    before = parse_minutes(MARKDOWN, "a.md").items[1]
    after = parse_minutes(rewrapped, "a.md").items[1]
    assert before.content_hash() == after.content_hash()


@pytest.mark.parametrize(
    ("heading", "is_section"),
    [
        ("Indstilling", True),
        ("Resumé", True),
        ("Sagsresumé", True),
        ("Økonomiske konsekvenser", True),
        ("Økonomi", True),
        ("Retsgrundlag", True),
        ("Lovgrundlag:", True),
        ("Høring", True),
        ("Bilag", True),
        ("Beslutning", True),
        ("Beslutning i Social- og Arbejdsmarkedsudvalget den 06-01-2025", True),
        ("Beslutning Arbejdsmarkedsudvalget den 13-08-2024", True),
        ("Beslutningstema", True),
        ("Beslutningskompetence", True),
        ("Bilag 8. Forslag til nye budgetnoter", False),
        ("Videre proces", False),
        ("Bruttoledigheden i Hvidovre Kommune", False),
        ("Økonomien er presset, og udvalget skal derfor prioritere.", False),
        ("Beslutning - Udmøntningsplan 2025", False),
    ],
)
def test_section_headings_are_recognised_by_name(heading: str, is_section: bool) -> None:
    assert is_section_heading(heading) is is_section


def test_the_decision_of_this_meeting_is_this_committees_dated_today() -> None:
    day = date(2025, 1, 6)
    earlier = Decision("Økonomiudvalget", date(2024, 12, 10), "Anbefalet.")
    other_today = Decision("Børne- og Uddannelsesudvalget", day, "Taget til efterretning.")
    mine = Decision("Social- og Arbejdsmarkedsudvalget", day, "Godkendt.")
    assert own_decision((earlier, other_today), "Social- og Arbejdsmarkedsudvalget", day) is None
    assert own_decision((earlier, mine, other_today), "Social- og Arbejdsmarkedsudvalget", day) == "Godkendt."
    assert own_decision((Decision(None, None, "Tiltrådt."),), "Social- og Arbejdsmarkedsudvalget", day) == "Tiltrådt."


def test_plain_layout_headings_need_a_line_of_their_own() -> None:
    text = (
        "REFERAT 2026-29: Teknikudvalget d. 27-10-2026\n\nPunkt 88: Vejplan\n\n26/5555\n\nSagsresumé\n\n"
        "Kort om sagen.\nIndstilling er at godkende, fortsat prosa på en ombrudt linje.\n\n"
        "Beslutning Teknikudvalget den 27-10-2026\n\nGodkendt.\n"
    )
    (item,) = parse_minutes(text, "t.txt").items
    assert [s.heading for s in item.sections] == ["Sagsresumé", "Beslutning Teknikudvalget den 27-10-2026"]
    assert item.decision == "Godkendt."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Referat Økonomiudvalget d. 02-11-2026\n\nIngen punkter i dag.\n", "no agenda items found"),
        ("Noget helt andet\n\nPunkt 1: Godkendelse\n", "no title line"),
        ("Referat Økonomiudvalget\n\nPunkt 1: Godkendelse\n", "cannot find the meeting date"),
        ("x" * 5_000_000, "no agenda items found"),
    ],
)
def test_documents_that_are_not_minutes_are_reported_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ParseError, match=f"^bad.txt: {reason}"):
        parse_minutes(text, "bad.txt")


def test_the_meeting_date_may_come_from_the_modedato_line() -> None:
    text = "Referat Økonomiudvalget\n\nMødedato Mandag d. 2. november 2026 kl. 16:00\n\nPunkt 1: Godkendelse\n"
    meeting = parse_minutes(text, "x.txt")
    assert (meeting.date, meeting.start) == (date(2026, 11, 2), time(16, 0))


def test_a_long_title_wrapped_onto_the_next_line_is_one_title() -> None:
    text = (
        "Referat Arbejdsmarkedsudvalget d. 13-08-2024\n\n"
        "Punkt 3: Godkendelse af model for brugertilfredshedsundersøgelser for\nArbejdsmarkedsafdelingen\n"
        "24/13018\n\nSagsresumé\n\nTekst.\n\n"
        "Punkt 4: Kort titel\nTekst uden overskrift.\n"
    )
    first, second = parse_minutes(text, "x.txt").items
    assert (first.title, first.case_number) == (
        "Godkendelse af model for brugertilfredshedsundersøgelser for Arbejdsmarkedsafdelingen",
        "24/13018",
    )
    assert second.title == "Kort titel"
