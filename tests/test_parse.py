"""The minutes parser, on the real published minutes and on small written specifications."""

from __future__ import annotations

import json
import re
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ParseError
from bot.match.matcher import ItemText, Matcher
from bot.match.watchlists import Watchlist
from bot.parse.extract import extract_text, html_to_text
from bot.parse.minutes import Attachment, Decision, ParsedItem, committee_name
from bot.parse.parser import build_item, parse_minutes
from bot.parse.sections import (
    MAIN_SECTION_NAMES,
    SECTION_NAMES,
    is_main_section_heading,
    is_section_heading,
    own_decision,
    section_kind,
)
from bot.sources.aabendagsorden import listed_meeting, parse_search
from bot.sources.firstagenda import parse_listing

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


# --- sub-headings, Supplerende sections, committee names -------------------------------------------

SECTION_CASES = {
    name: case
    for name, case in json.loads((CASES / "sections.json").read_text(encoding="utf-8")).items()
    if not name.startswith("_")
}


def item_of(case: dict[str, Any]) -> ParsedItem:
    """The one item of a case, read the way its layout is read in production."""
    if "html" in case:
        return build_item(1, "Sag", None, html_to_text(case["html"]), "Økonomiudvalget", date(2026, 11, 2))
    if "markdown" in case:
        document = ["# Referat Økonomiudvalget d. 02-11-2026", "", "# Punkt 1: Sag", "", *case["markdown"]]
    else:
        document = ["Referat Økonomiudvalget d. 02-11-2026", "", "Punkt 1: Sag", "", *case["plain"]]
    text = extract_text("\n".join(document).encode(), "sag.md").text
    (item,) = parse_minutes(text, "sag.md").items
    return item


@pytest.mark.parametrize("name", sorted(SECTION_CASES))
def test_which_headings_open_a_section(name: str) -> None:
    case = SECTION_CASES[name]
    item = item_of(case)
    assert [s.heading for s in item.sections] == case["sections"]
    for heading, text in case.get("contains", {}).items():
        assert text in item.section_map()[heading]
    if "attachments" in case:
        assert [a.name for a in item.attachments] == case["attachments"]


def matched(item: ParsedItem, terms: tuple[str, ...], sections: tuple[str, ...]) -> bool:
    watchlist = Watchlist(slug="w", terms=terms, sections=sections)
    text = ItemText("Hvidovre", "Økonomiudvalget", None, item.title, tuple(item.section_map().items()))
    return bool(Matcher([watchlist]).match(text))


def test_a_sections_filter_sees_the_text_under_sub_headings() -> None:
    item = item_of(SECTION_CASES["an h4 under an h3 in portal HTML is a sub-heading, the next h3 a section"])
    assert matched(item, ("historik",), ("Sagsfremstilling",))
    assert not matched(item, ("historik",), ("Indstilling",))


def test_supplerende_sections_count_as_the_section_they_supplement() -> None:
    item = item_of(SECTION_CASES["supplerende sections keep their names and open at any level"])
    assert matched(item, ("udsætte",), ("Indstilling",))
    assert matched(item, ("oplysninger",), ("Sagsfremstilling",))
    assert matched(item, ("udsætte",), ("Supplerende",))
    assert not matched(item, ("udsætte",), ("Sagsfremstilling",))
    assert not matched(item, ("udsætte",), ("Beslutning",))


def test_inline_html_attributes_never_match_a_term() -> None:
    item = item_of(SECTION_CASES["inline HTML in markdown is rendered before the headings are read"])
    assert not matched(item, ("style",), ())
    assert not matched(item, ("margin",), ())
    assert matched(item, ("første",), ("Sagsfremstilling",))


@pytest.mark.parametrize(
    ("heading", "kind", "main"),
    [
        ("Supplerende indstilling", "indstilling", True),
        ("Supplerende  Sagsfremstilling:", "sagsfremstilling:", True),
        ("Supplerende bilag", "bilag", True),
        ("Sagsresumé", "sagsresumé", True),
        ("Beslutning i Økonomiudvalget den 02-11-2026", "beslutning i økonomiudvalget den 02-11-2026", True),
        ("Baggrund", "baggrund", False),
        ("Økonomiske konsekvenser", "økonomiske konsekvenser", False),
        ("Supplerende oplysninger", "oplysninger", False),
    ],
)
def test_main_sections_and_what_a_section_counts_as(heading: str, kind: str, main: bool) -> None:
    assert section_kind(heading) == kind
    assert is_main_section_heading(heading) is main


@pytest.mark.parametrize(
    "title",
    [
        "# **REFERAT Social- og Arbejdsmarkedsudvalget 2022-2025 d. 06-01-2025**",
        "# REFERAT Social- og Arbejdsmarkedsudvalget (2022-2025) d. 06-01-2025",
        "REFERAT 2022-2025: Social- og Arbejdsmarkedsudvalget d. 06-01-2025",
        "Referat fra mødet i Social- og Arbejdsmarkedsudvalget (2022-25), den 6. januar 2025",
        "Referat Social- og Arbejdsmarkedsudvalget – 2022-2025 d. 06-01-2025",
    ],
)
def test_the_committee_name_has_no_election_period_in_any_layout(title: str) -> None:
    meeting = parse_minutes(f"{title}\n\nPunkt 1: Godkendelse\n", "x.md")
    assert meeting.committee == "Social- og Arbejdsmarkedsudvalget"


@pytest.mark.parametrize(
    ("shown", "name"),
    [
        ("Økonomiudvalget 2022-2025", "Økonomiudvalget"),
        ("Økonomiudvalget (2022-2025)", "Økonomiudvalget"),
        ("Økonomiudvalget  (2022–25) ", "Økonomiudvalget"),
        ("2026-2029: Økonomiudvalget", "Økonomiudvalget"),
        ("(2026-2029) Økonomiudvalget", "Økonomiudvalget"),
        ("Udvalget for Klima 2030", "Udvalget for Klima 2030"),
        ("Budget 2025-2028 udvalget", "Budget 2025-2028 udvalget"),
        ("Byrådet", "Byrådet"),
    ],
)
def test_committee_name_drops_an_election_period_at_either_end(shown: str, name: str) -> None:
    assert committee_name(shown) == name


def test_portals_name_committees_without_their_election_period() -> None:
    listing = {
        "Udvalg": {
            "2022-2025": [
                {"Navn": "Økonomiudvalget (2022-2025)", "Moeder": [{"Id": "m1", "Dato": "2025-01-06T16:00:00"}]}
            ]
        }
    }
    (listed,) = parse_listing(json.dumps(listing).encode(), "udvalgsliste").meetings
    assert listed.committee == "Økonomiudvalget"
    answer = {
        "meetings": [{"meetingId": 7, "date": "2025-01-06T16:00:00", "committeeName": "2022-2025: Økonomiudvalget"}]
    }
    (row,) = parse_search(json.dumps(answer).encode(), "search").rows
    meeting = listed_meeting(row, "https://dagsorden.example.dk")
    assert meeting is not None and meeting.committee == "Økonomiudvalget"


def test_the_readme_lists_every_section_name() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    listed = readme[readme.index("- main sections:") : readme.index("A main section written with")].casefold()
    for pattern in SECTION_NAMES:
        assert re.search(rf"(?<!\w){pattern}", listed), f"README.md does not list a section named like {pattern!r}"
    for name in MAIN_SECTION_NAMES:
        assert re.search(rf"(?<!\w)supplerende\s+{name}", readme.casefold()), (
            f"README.md: no Supplerende form of {name!r}"
        )


def test_a_prose_line_starting_with_beslutning_is_not_a_decision() -> None:
    text = "\n".join(
        [
            "Referat Skoleudvalget d. 02-11-2026",
            "",
            "Punkt 1: Skolestruktur",
            "",
            "Sagsfremstilling",
            "",
            "Beslutning om nedlæggelse af Søndre Skole træffes i byrådet.",
            "",
            "Beslutning i Skoleudvalget den 02-11-2026",
            "",
            "Anbefalet.",
        ]
    )
    (item,) = parse_minutes(text, "referat.txt").items
    assert [s.heading for s in item.sections] == ["Sagsfremstilling", "Beslutning i Skoleudvalget den 02-11-2026"]
    assert item.decision == "Anbefalet."
