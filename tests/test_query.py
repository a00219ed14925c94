"""The query language, specified by the case file ``cases/terms.toml`` and the term errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.match.automaton import Engine
from bot.match.query import TermError, Words, acronym_marked, blanked, fold, found_text, parse_term
from bot.match.snippet import make_snippet

CASES: list[dict[str, Any]] = tomllib.loads((Path(__file__).parent / "cases" / "terms.toml").read_text("utf-8"))["case"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['term']} ~ {c['text'][:40]}")
def test_term_matches_text_as_specified(case: dict[str, Any]) -> None:
    engine = Engine([parse_term(case["term"])])
    words = engine.words(case["text"])
    hits = engine.search(words)
    assert bool(hits) is case["match"], case.get("note", "")
    if "found" in case:
        assert found_text(words, hits[0]) == case["found"]


@pytest.mark.parametrize(
    ("term", "reason"),
    [
        ("", "empty term"),
        ("   ", "empty term"),
        ("a", "too short to match as a prefix"),
        ('"nyt kontanthjælpssystem', "a phrase must be quoted as a whole"),
        ("ny*t", "'*' and '=' go once, in front of a single word"),
        ("*nyt system", "'*' and '=' go once, in front of a single word"),
        ("==bil", "'*' and '=' go once"),
        ("!!!", "no letters or digits"),
        ("løn (fast)", "only letters, digits, spaces and hyphens"),
    ],
)
def test_invalid_terms_are_rejected_with_the_reason(term: str, reason: str) -> None:
    with pytest.raises(TermError, match=reason.replace("(", r"\(").replace("*", r"\*")):
        parse_term(term)


def test_one_letter_whole_words_are_allowed() -> None:
    assert parse_term("=a").words[0].kind == "whole"


def test_fold_aa_treats_aa_and_å_alike() -> None:
    engine = Engine([parse_term("Aabenraa", fold_aa=True), parse_term("ålborg", fold_aa=True)], fold_aa=True)
    assert engine.search(engine.words("Åbenrå Kommune")) and engine.search(engine.words("Aalborg Kommune"))
    plain = Engine([parse_term("Aabenraa")])
    assert not plain.search(plain.words("Åbenrå Kommune"))


def test_fold_aa_keeps_acronyms_case_sensitive() -> None:
    engine = Engine([parse_term("ÅU", fold_aa=True)], fold_aa=True)
    assert engine.search(engine.words("Indstilles til ÅU's møde"))
    assert engine.search(engine.words("Indstilles til AAU"))
    assert not engine.search(engine.words("Indstilles til åu"))


def test_many_terms_share_one_pass_and_each_reports_its_hits() -> None:
    terms = [parse_term(t) for t in ["sats", "satsstruktur", "*ledighed", "IGU", '"nyt kontanthjælpssystem"', "nyt"]]
    engine = Engine(terms)
    words = engine.words("Ny satsstruktur og nyt kontanthjælpssystem; bruttoledighed; IGU'en")
    found = {(terms[hit.term].raw, found_text(words, hit)) for hit in engine.search(words)}
    assert found == {
        ("sats", "satsstruktur"),
        ("satsstruktur", "satsstruktur"),
        ('"nyt kontanthjælpssystem"', "nyt kontanthjælpssystem"),
        ("nyt", "nyt"),
        ("*ledighed", "bruttoledighed"),
        ("IGU", "IGU"),
    }


def test_a_snippet_is_about_thirty_words_around_the_first_hit_with_hits_highlighted() -> None:
    text = (
        " ".join(f"ord{n}" for n in range(100))
        + " kontanthjælp og mere kontanthjælpen "
        + " ".join(f"efter{n}" for n in range(100))
    )
    term = parse_term("kontanthjælp")
    engine = Engine([term])
    words = engine.words(text)
    snippet = make_snippet(words, engine.search(words), [term])
    assert snippet.text.startswith("… ord88 ") and snippet.text.endswith(" …")
    assert len(snippet.text.strip("… ").split()) == 30
    assert [snippet.text[a:b] for a, b in snippet.highlights] == ["kontanthjælp", "kontanthjælpen"]
    assert "**kontanthjælp** og mere **kontanthjælpen**" in snippet.marked()


@pytest.mark.parametrize(("written", "same_as"), [("daginstitution*", "daginstitution"), ("*ledighed*", "*ledighed")])
def test_a_trailing_star_is_the_word_start_a_plain_term_already_matches(written: str, same_as: str) -> None:
    assert parse_term(written).words == parse_term(same_as).words
    engine = Engine([parse_term(written)])
    assert engine.search(engine.words("Nye daginstitutioner og bruttoledigheden"))


@pytest.mark.parametrize(
    ("term", "instead"),
    [
        ("=bil*", "write '=bil' or 'bil'"),
        ("*nyt system", "a phrase is written '\"nyt system\"'"),
        ("løn (fast)", "write 'løn fast'"),
        ("!!!", "write a word, e.g. 'kontanthjælp'"),
        ("a*", "write '=a' for the whole word"),
    ],
)
def test_a_refused_term_says_what_to_write_instead(term: str, instead: str) -> None:
    with pytest.raises(TermError) as refused:
        parse_term(term)
    assert instead in str(refused.value)


def test_words_without_quotes_are_a_phrase_too() -> None:
    assert parse_term("nyt kontanthjælpssystem").words == parse_term('"nyt kontanthjælpssystem"').words


@pytest.mark.parametrize("fold_aa", [False, True])
def test_the_byte_tables_spell_every_latin1_character_as_the_functions_do(fold_aa: bool) -> None:
    # Each text is read through the byte tables when it fits in Latin-1 and through the functions
    # otherwise ("Ω" is a letter beyond Latin-1): both must give the same text at the same offsets.
    latin1 = "".join(map(chr, range(256)))
    for text in (latin1, latin1 + "Ω"):
        words = Words(text, fold_aa)
        assert (words.scan_bytes is None) == text.endswith("Ω")
        assert words.cased_scan == blanked(words.cased)
        assert words.scan == fold(blanked(words.cased))
        assert words.acronym_scan == acronym_marked(blanked(words.cased))
        assert len(words.acronym_scan) == len(words.cased)
