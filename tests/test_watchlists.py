"""Watchlist files and their rules, specified by ``cases/watchlists.toml``."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.match.matcher import ItemText, Matcher
from bot.match.watchlists import Watchlist, load_watchlist, load_watchlists
from bot.parse.parser import parse_minutes

ROOT = Path(__file__).resolve().parents[1]
SPEC = tomllib.loads((Path(__file__).parent / "cases" / "watchlists.toml").read_text("utf-8"))


def _item(overrides: dict[str, Any]) -> ItemText:
    fields = {**SPEC["item"], **overrides}
    return ItemText(
        kommune=fields["kommune"],
        committee=fields["committee"],
        case_number=fields["case_number"],
        title=fields["title"],
        sections=tuple(tuple(section) for section in fields["sections"]),  # type: ignore[misc]
        added=tuple(tuple(section) for section in fields["added"]) if "added" in fields else None,  # type: ignore[misc]
    )


@pytest.mark.parametrize("case", SPEC["case"], ids=lambda case: case["name"])
def test_watchlist_rule(case: dict[str, Any]) -> None:
    watchlist = Watchlist.model_validate({"slug": "case", **case["watchlist"]})
    found = Matcher([watchlist]).match(_item(case.get("item", {})))
    assert bool(found) is case["match"]
    if found and "terms" in case:
        assert list(found[0].terms) == case["terms"]
    if found:
        assert found[0].by_case is case.get("by_case", False)
        assert found[0].snippet.text


def test_many_watchlists_are_matched_together_and_independently() -> None:
    watchlists = [
        Watchlist(slug="a", terms=("arbejdspligt",)),
        Watchlist(slug="b", terms=("skolestruktur",)),
        Watchlist(slug="c", terms=("IGU",), sections=("Beslutning",)),
        Watchlist(slug="d", terms=("Aabenraa",), fold_aa=True),
    ]
    found = Matcher(watchlists).match(_item({}))
    assert [result.slug for result in found] == ["a", "c"]


def test_together_the_watchlists_find_exactly_what_each_finds_alone() -> None:
    """The matcher evaluates only the watchlists an item could match (a term, a case, a
    change's added text); the result must be that of evaluating every one of them."""
    watchlists = [
        Watchlist.model_validate({"slug": f"rule-{n}", **case["watchlist"]}) for n, case in enumerate(SPEC["case"])
    ]
    watchlists += [
        Watchlist(slug="added-only", terms=("skolestruktur",), only_new_text=True),
        Watchlist(slug="aa-folded", terms=("Aabenraa",), fold_aa=True),
        Watchlist(slug="aa-plain", terms=("Aabenraa",)),
        Watchlist(slug="aa-all-only", all=("kontanthjælp", "Aabenraa"), fold_aa=True),
        Watchlist(slug="case-spaced", cases=("26/ 09817",), terms=("skolestruktur",)),
    ]
    items = [_item(case.get("item", {})) for case in SPEC["case"]]
    items += [
        # A change whose added text has a term the item's sections lack: only_new_text looks there alone.
        _item({"added": [["Sagsfremstilling", "skolestruktur"]]}),
        _item({"title": "Samarbejde med Åbenrå Kommune om kontanthjælp"}),
        _item({"title": "Samarbejde med Aabenraa Kommune"}),
        _item({"case_number": "26/  09817"}),
        _item({"kommune": "Egeskov", "committee": "Teknik- og Miljøudvalget"}),
    ]
    together, found = Matcher(watchlists), set()
    for item in dict.fromkeys(items):
        alone = [result for watchlist in watchlists for result in Matcher([watchlist]).match(item)]
        assert together.match(item) == alone, item
        found |= {result.slug for result in alone}
    assert {"added-only", "aa-folded", "aa-plain", "aa-all-only", "case-spaced"} <= found
    assert len(found) > 20


TOC_MINUTES = """# REFERAT Teknikudvalget d. 02-11-2026

## Indholdsfortegnelse

Skybrudsplan for Egeskov.....	3
Lukket: Køb af areal til regnvandsbassin.....	4

# Punkt 1: Godkendelse af dagsorden

26/1

## Beslutning

Godkendt.

# Punkt 2: Lukket: Køb af areal til regnvandsbassin

26/2
"""


def test_terms_in_the_table_of_contents_do_not_match_but_closed_titles_do() -> None:
    meeting = parse_minutes(TOC_MINUTES, "toc.md")
    matcher = Matcher([Watchlist(slug="s", terms=("skybrud",)), Watchlist(slug="r", terms=("regnvandsbassin",))])
    found = [
        result.slug
        for item in meeting.items
        for result in matcher.match(
            ItemText(
                "X", meeting.committee, item.case_number, item.title, tuple((s.heading, s.text) for s in item.sections)
            )
        )
    ]
    assert found == ["r"], "skybrud is only in the table of contents; the closed item's title is matched"


# --- files ----------------------------------------------------------------------------------------


def test_the_shipped_example_watchlists_are_valid() -> None:
    watchlists, errors = load_watchlists(ROOT / "watchlists")
    assert errors == []
    assert len(watchlists) >= 2
    assert all(w.title and w.terms for w in watchlists)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_slug_is_the_file_name_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    watchlist = load_watchlist(write(tmp_path, "igu.toml", 'terms = ["IGU"]\n'))
    assert (watchlist.slug, watchlist.name, watchlist.backfill_days) == ("igu", "igu", 30)
    assert (watchlist.deliver.feed, watchlist.deliver.email, watchlist.deliver.digest) == (True, (), "daily")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('terms = ["a"]\n', r"w\.toml:1: terms\[1\]: 'a': too short"),
        ('title = "x"\nterms = ["ok", "ny*t"]\n', r"w\.toml:2: terms\[2\]: 'ny\*t': '\*' and '='"),
        ('terms = ["ok"]\ntrems = ["x"]\n', r"w\.toml:2: trems: unknown key"),
        ('terms = "ok"\n', r"w\.toml:1: terms: "),
        ('title = "x"\n', r"w\.toml: \(top level\): a watchlist needs 'terms', 'all' or 'cases'"),
        ('terms = ["ok"]\n[deliver]\ndigest = "hourly"\n', r"w\.toml:3: deliver\.digest: "),
        (
            'terms = ["ok"]\n[deliver]\nemail = ["ikke en adresse"]\n',
            r"w\.toml:3: deliver\.email\[1\]: 'ikke en adresse' is not one plain email address",
        ),
        ('terms = ["ok"]\nbackfill_days = -1\n', r"w\.toml:2: backfill_days: "),
        ("terms = [\n", r"w\.toml:1: not valid TOML: "),
        ('terms = ["ok"]\ntitle = \n', r"w\.toml:2: not valid TOML: Invalid value \(column 9\)"),
        ('terms = "skybrud"\n', r'w\.toml:1: terms: must be a list, e\.g\. terms = \["skybrud"\]$'),
        ('terms = ["ok"]\nfold_aa = "yes"\n', r"w\.toml:2: fold_aa: must be true or false, without quotes"),
        ('terms = ["ok"]\nbackfill_days = "30"\n', r"w\.toml:2: backfill_days: must be a whole number, .*= 30$"),
        ('terms = ["ok"]\npublic = 0\n', r"w\.toml:2: public: must be true or false"),
        ('terms = ["ok"]\n\n[deliver]\nfeed = "no"\n', r"w\.toml:4: deliver\.feed: must be true or false"),
        ('terms = ["ok"]\n[deliver]\nemail = "a@example.org"\n', r'email: must be a list, e\.g\. email = \["a@'),
        ('terms = ["ok", 7]\n', r"w\.toml:1: terms\[2\]: must be text in quotes"),
    ],
)
def test_mistakes_name_the_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "w.toml", text)
    _, errors = load_watchlists(tmp_path)
    assert len(errors) == 1
    assert re.search(expected, errors[0]), errors[0]
    assert errors[0].startswith(str(path))


def test_one_broken_watchlist_never_stops_the_others(tmp_path: Path) -> None:
    write(tmp_path, "a-good.toml", 'terms = ["IGU"]\n')
    write(tmp_path, "b-broken.toml", 'terms = ["a"]\n')
    write(tmp_path, "c-good.toml", 'terms = ["skybrud"]\n')
    watchlists, errors = load_watchlists(tmp_path)
    assert [w.slug for w in watchlists] == ["a-good", "c-good"]
    assert len(errors) == 1 and "b-broken.toml" in errors[0]


@pytest.mark.parametrize("name", ["Kontanthjælp.toml", "source-x.toml", "_health.toml"])
def test_file_names_must_be_slugs_and_not_reserved(tmp_path: Path, name: str) -> None:
    write(tmp_path, name, 'terms = ["IGU"]\n')
    watchlists, errors = load_watchlists(tmp_path)
    assert watchlists == [] and len(errors) == 1 and name in errors[0]


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_bytes('title = "Skoler"\nterms = ["børn"]\n'.encode("cp1252"))
    _, errors = load_watchlists(tmp_path)
    assert errors == [f"{path}:2: not UTF-8 text (byte 0xf8): save the file as UTF-8"]
    path.write_bytes('\ufeffterms = ["børn"]\n'.encode())
    assert load_watchlist(path).terms == ("børn",), "a byte order mark is fine"
