"""Decision outcomes, specified by the case file ``cases/outcomes.toml`` (real-style decision texts
with the outcome, votes and dissent each states), and end to end: ``items --json`` and
``matches --json`` carry the outcome, a watchlist's ``outcomes`` filters on it, and feeds and mails
show it as a label."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from bot.outcomes import OUTCOMES, Outcome, Votes, classify, outcome_name

from .helpers import Doc, add_watchlists, ingest, json_lines, put, write_config
from .test_email import T0, Server, cycle, parts, setup

SPEC = tomllib.loads((Path(__file__).parent / "cases" / "outcomes.toml").read_text("utf-8"))


def _votes(expected: dict[str, Any] | None) -> dict[str, Any] | None:
    if expected is None:
        return None
    keys = ("for", "against", "abstained")
    return {**{key: expected.get(key) for key in keys}, "parties": expected.get("parties", {})}


@pytest.mark.parametrize("case", SPEC["case"], ids=lambda case: case.get("name") or case["text"][:60])
def test_decision_outcome(case: dict[str, Any]) -> None:
    outcome = classify(case["text"])
    assert outcome is not None
    found = outcome.as_json()
    assert found["outcome"] == case["outcome"]
    assert found["votes"] == _votes(case.get("votes"))
    assert found["dissent"] == case.get("dissent", [])


def test_the_case_file_is_large_and_covers_every_outcome() -> None:
    assert len(SPEC["case"]) >= 60
    assert {case["outcome"] for case in SPEC["case"]} == set(OUTCOMES)


def test_no_decision_has_no_outcome() -> None:
    assert classify(None) is None
    assert classify("  \n\n ") is None


def test_markup_around_a_decision_is_not_read() -> None:
    assert classify("**Anbefales** over for Kommunalbestyrelsen.") == Outcome("anbefalet")


def test_an_outcome_as_json_and_as_one_line() -> None:
    outcome = Outcome("anbefalet", Votes(for_=6, against=1), ("Et mindretal (Ø) kunne ikke anbefale.",))
    assert outcome.as_json() == {
        "outcome": "anbefalet",
        "votes": {"for": 6, "against": 1, "abstained": None, "parties": {}},
        "dissent": ["Et mindretal (Ø) kunne ikke anbefale."],
    }
    assert outcome.text == "anbefalet · 6 for, 1 imod · Et mindretal (Ø) kunne ikke anbefale."
    assert Outcome("godkendt", Votes(parties={"A": "for", "Ø": "imod"})).text == "godkendt · for: A; imod: Ø"


def test_watchlist_names_of_outcomes_read_their_aliases() -> None:
    assert outcome_name(" Forkastet ") == "ikke godkendt"
    assert outcome_name("afvist") == "ikke godkendt"
    assert outcome_name("Udsat") == "udsat"


# --- end to end: ingest, watchlists, feeds and mails --------------------------------------------

COMMITTEE = "Økonomiudvalget"
OWN = f"Beslutning i {COMMITTEE} den 02-11-2026"
ANBEFALET = (
    "Indstillingen anbefales over for Kommunalbestyrelsen med 6 stemmer for og 1 imod. "
    "Et mindretal (Ø) kunne ikke anbefale indstillingen."
)


def agenda() -> Doc:
    return (
        Doc()
        .item(1, "Skolestruktur på Vestegnen", "26/1", Sagsfremstilling="Forslag om ny skolestruktur.")
        .item(2, "Skolestruktur, takster", "26/2", Sagsfremstilling="Takster for skolestruktur og SFO.")
        .item(3, "Skolestruktur, byggeri", "26/3", Sagsfremstilling="Byggeri til ny skolestruktur.")
    )


def minutes() -> Doc:
    decisions = {1: "Sagen blev udsat til næste møde.", 2: ANBEFALET, 3: "Godkendt."}
    doc = Doc(kind="REFERAT")
    for number, title, case, sections in agenda().items:
        doc.item(number, title, case, **{**sections, OWN: decisions[number]})
    return doc


@pytest.mark.usefixtures("database")
def test_items_and_matches_carry_the_outcome_of_their_own_decision(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    add_watchlists(tmp_path, skole='terms = ["skolestruktur"]\n')
    put(tmp_path, "dagsorden.md", agenda())
    ingest(config)
    assert [item["outcome"] for item in json_lines(config, "items")] == [None, None, None], "an agenda: no decision"
    put(tmp_path, "referat.md", minutes())
    ingest(config)
    items = {item["number"]: item for item in json_lines(config, "items")}
    assert items[1]["outcome"] == {"outcome": "udsat", "votes": None, "dissent": []}
    assert items[2]["outcome"] == {
        "outcome": "anbefalet",
        "votes": {"for": 6, "against": 1, "abstained": None, "parties": {"Ø": "imod"}},
        "dissent": ["Et mindretal (Ø) kunne ikke anbefale indstillingen."],
    }
    assert items[3]["outcome"]["outcome"] == "godkendt" and items[3]["decision"] == "Godkendt."
    matched = [m for m in json_lines(config, "matches") if m["doc_kind"] == "referat"]
    assert {m["number"]: m["outcome"]["outcome"] for m in matched} == {1: "udsat", 2: "anbefalet", 3: "godkendt"}


@pytest.mark.usefixtures("database")
def test_a_watchlist_with_outcomes_matches_only_decisions_with_one_of_them(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    add_watchlists(
        tmp_path,
        stop='terms = ["skolestruktur"]\noutcomes = ["udsat", "forkastet"]\n',
        videre='terms = ["skolestruktur"]\noutcomes = ["anbefalet"]\n',
        alle='terms = ["skolestruktur"]\n',
    )
    put(tmp_path, "dagsorden.md", agenda())
    ingest(config)
    found = json_lines(config, "matches")
    assert {m["watchlist"] for m in found} == {"alle"}, "an item without a decision never matches an outcomes filter"
    put(tmp_path, "referat.md", minutes())
    ingest(config)
    by_watchlist: dict[str, list[int]] = {}
    for match in json_lines(config, "matches"):
        if match["doc_kind"] == "referat":
            by_watchlist.setdefault(match["watchlist"], []).append(match["number"])
    assert by_watchlist == {"alle": [1, 2, 3], "stop": [1], "videre": [2]}
    assert all(m["outcome"]["outcome"] == "udsat" for m in json_lines(config, "matches") if m["watchlist"] == "stop")


@pytest.mark.usefixtures("database")
def test_a_new_watchlist_with_outcomes_looks_back_at_stored_decisions(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    put(tmp_path, "referat.md", minutes())
    ingest(config)
    add_watchlists(tmp_path, stop='terms = ["skolestruktur"]\noutcomes = ["udsat"]\n')
    ingest(config)
    assert [(m["watchlist"], m["number"]) for m in json_lines(config, "matches")] == [("stop", 1)]


@pytest.mark.usefixtures("database")
def test_a_feed_entry_shows_the_outcome_as_a_label(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    add_watchlists(tmp_path, skole='terms = ["skolestruktur"]\n')
    put(tmp_path, "dagsorden.md", agenda())
    ingest(config)
    put(tmp_path, "referat.md", minutes())
    ingest(config)
    parsed = feedparser.parse((tmp_path / "state" / "feeds" / "skole.xml").read_bytes())
    assert parsed.bozo == 0
    content = {entry.title: entry.content[0].value for entry in parsed.entries}
    where = f"Testrup · {COMMITTEE} 02.11.2026 · Punkt"
    assert "<strong>Udfald:</strong> udsat</p>" in content[f"Beslutning: {where} 1: Skolestruktur på Vestegnen"]
    anbefalet = content[f"Beslutning: {where} 2: Skolestruktur, takster"]
    assert "<strong>Udfald:</strong> anbefalet · 6 for, 1 imod · Et mindretal (Ø) kunne ikke anbefale" in anbefalet
    assert "Udfald" not in content[f"{where} 1: Skolestruktur på Vestegnen"], "the agenda's entry has no decision"


@pytest.mark.usefixtures("database")
def test_a_mail_shows_the_outcome_under_the_decision(tmp_path: Path, smtp: Server) -> None:
    watchlist = (
        'title = "Skoler"\nterms = ["skolestruktur"]\n[deliver]\nemail = ["a@example.org"]\ndigest = "immediate"\n'
    )
    config = setup(tmp_path, smtp.port, skole=watchlist)
    put(tmp_path, "dagsorden.md", agenda())
    cycle(config, T0)
    put(tmp_path, "referat.md", minutes())
    assert cycle(config, T0 + timedelta(hours=1)).mail.sent == 1
    ((_, message),) = smtp.inbox.messages
    text, html = parts(message)
    lines = [line.strip() for line in text.splitlines()]
    at = lines.index("Beslutning: Sagen blev udsat til næste møde.")
    assert lines[at + 1] == "Udfald: udsat"
    assert "Udfald: anbefalet · 6 for, 1 imod · Et mindretal (Ø) kunne ikke anbefale indstillingen." in lines
    assert "Udfald: godkendt" in lines
    assert "<strong>Udfald:</strong> anbefalet · 6 for, 1 imod" in html
