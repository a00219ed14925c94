"""The benchmark runs at tiny scale and writes its JSON; the generator is deterministic.

No assertion here is about time: speeds depend on the machine and are only ever reported.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from benchmarks.__main__ import main, table
from benchmarks.baseline import compile_terms, matched_terms
from benchmarks.generate import ADJECTIVES, COMMON_TERMS, PARTS, documents, stem, stream, term_lists
from benchmarks.grep import plain, write_corpus
from benchmarks.matching import LARGE, SCALES, corpus, in_turn, run, scale_check
from benchmarks.year import YearSize, year
from bot.match.automaton import Engine
from bot.match.query import is_acronym, parse_term
from bot.parse.extract import extract_text
from bot.parse.parser import parse_minutes

ROW_KEYS = {
    "terms",
    "mb_per_s",
    "naive_mb_per_s",
    "ratio",
    "hit_rate",
    "seconds",
    "naive_seconds",
    "terms_found_per_1000_words",
    "grep_mb_per_s",
    "grep_seconds",
    "grep_o_mb_per_s",
    "grep_o_seconds",
    "grep_o_matches",
    "grep_startup_seconds",
    "grep_startup_share",
    "grep_o_startup_share",
    "grep_ratio",
    "grep_o_ratio",
    "bytes",
}
INGEST_KEYS = {
    "database",
    "cold_s",
    "warm_s",
    "mb_per_s",
    "items",
    "items_per_s",
    "warm_over_cold",
    "us_per_item",
    "statements_per_item",
    "commits_per_document",
    "phases_us_per_item",
    "main_cpu_s",
    "main_cpu_over_cold",
}


def check_ingest(block: dict[str, Any], database: str, files: int) -> None:
    """An ingest block's shape: every key, counts that add up (never a time)."""
    assert INGEST_KEYS <= set(block) and block["database"] == database
    assert block["items"] > 0 and block["errors"] == 0
    assert block["warm_unchanged"] == block["documents"] == files
    assert block["us_per_item"] > 0 and block["statements_per_item"] > 0 and block["commits_per_document"] > 0
    assert {"parse", "store", "other"} <= set(block["phases_us_per_item"])
    assert block["main_cpu_s"] > 0 and block["main_cpu_over_cold"] > 0


def test_documents_are_deterministic_danish_minutes() -> None:
    first, again, other = documents(5, seed=7), documents(5, seed=7), documents(5, seed=8)
    assert first == again
    assert [doc for doc, _ in zip(stream(7), range(5), strict=False)] == first  # documents() is the stream's prefix
    assert first != other
    assert documents(3, seed=7) == first[:3]
    for doc in first:
        assert doc.count("Punkt ") >= 1 and "Indstilling" in doc and "Beslutning i " in doc
        assert 500 < len(doc.encode("utf-8")) < 20_000
        sentences = [s for s in doc.replace("?", ".").replace(":", ".").split(".") if s.strip()]
        assert sentences


def test_term_lists_are_deterministic_prefix_stable_and_valid() -> None:
    big = term_lists(2_000, seed=3)
    assert term_lists(2_000, seed=3) == big
    assert term_lists(100, seed=3) == big[:100]
    assert term_lists(10, seed=3) == big[:10]
    assert len(set(big)) == len(big)
    assert term_lists(100, seed=4) != big[:100]
    for raw in big:
        parse_term(raw)  # raises TermError if not
    kinds = {raw[0] for raw in big if raw[0] in '*="'}
    assert kinds == {"*", "=", '"'}
    assert {"IGU", "KL", "FGU", "STAR"} <= set(big)


def test_term_lists_have_one_term_per_word_and_few_common_ones() -> None:
    big = term_lists(2_000, seed=3)
    words = [
        word
        for raw in big
        if raw not in COMMON_TERMS and not is_acronym(raw)
        for word in raw.strip('"').lstrip("*=").split()
        if word not in ADJECTIVES
    ]
    # no near-duplicates: no term's stem starts another's (afgørelse, afgørelser; virksomhed, virksomhe)
    stems = sorted(stem(word) for word in words)
    assert [(a, b) for a, b in zip(stems, stems[1:], strict=False) if b.startswith(a)] == []
    assert not set(words) & set(PARTS)  # specific terms, not the parts every compound is made of
    assert sum(raw in COMMON_TERMS for raw in big) == len(COMMON_TERMS)  # the deliberate exceptions


def test_specific_terms_are_rare_in_the_benchmark_text() -> None:
    raws = term_lists(2_000, seed=1)
    docs = documents(60, seed=5)
    engine = Engine([parse_term(raw) for raw in raws])
    hits = Counter(hit.term for doc in docs for hit in engine.search(engine.words(doc)))
    specific = [index for index, raw in enumerate(raws) if raw not in COMMON_TERMS and not is_acronym(raw)]
    assert max(hits[index] for index in specific) <= len(docs) // 4
    assert sum(1 for index in specific if hits[index]) < len(specific) // 2  # most never occur here


def test_baseline_regexes_agree_with_the_engine_on_the_rules() -> None:
    raws = ["kontanthjælp", "*ledighed", "=bil", "IGU", "=KL", '"nyt kontanthjælpssystem"']
    terms = [parse_term(raw) for raw in raws]
    text = (
        "Det nytte kontanthjælpssystemet og bruttoledigheden; bilag om IGU-forløb, igu og IGUer. "
        "KL's notat, kl. 16, Bilen og KLS."
    )
    engine = Engine(terms)
    found = {hit.term for hit in engine.search(engine.words(text))}
    assert matched_terms(compile_terms(terms), text) == found == {0, 1, 3, 4, 5}


@pytest.fixture(scope="module")
def tiny_results() -> dict[str, Any]:
    return run(SCALES["tiny"])


def test_tiny_benchmark_rows(tiny_results: dict[str, Any]) -> None:
    rows = tiny_results["matching"]
    assert isinstance(rows, list)
    assert [row["terms"] for row in rows] == [10, 100, 1_000]
    for row in rows:
        assert ROW_KEYS <= set(row)
        assert row["mb_per_s"] > 0 and row["naive_mb_per_s"] > 0 and row["ratio"] > 0
        assert 0 <= row["naive_hit_rate"] <= 1 and 0 <= row["hit_rate"] <= 1
        assert 0 < row["naive_bytes"] <= row["bytes"]
        assert row["grep_o_matches"] > 0 and row["grep_startup_seconds"] > 0 and row["grep_startup_share"] > 0
        # the baseline and the engine find the same terms in the same documents, apart from
        # suspended compounds, a rule the regexes do not have
        agreement = row["agreement"]
        assert agreement["naive_only"] == 0
        assert agreement["engine_only"] == agreement["engine_only_suspended_compound"]
    found = [row["terms_found_per_1000_words"] for row in rows]
    assert found == sorted(found) and found[-1] > 0  # each list holds the shorter ones
    check = tiny_results["scale_check"]
    assert check["time_10000_over_100"] is None  # no 10,000-term row at tiny scale
    assert check["grep_o_time_10000_over_100"] is None and check["engine_scales_like_grep_o"] is None
    # 33 KB cannot amortise grep's start-up: the check says so rather than hiding it
    assert check["grep_startup_under_5pct"] is False and check["grep_startup_over_5pct_at"]
    assert check["grep_o_startup_under_5pct"] is False and check["grep_o_startup_over_5pct_at"]
    assert tiny_results["scale_check"]["text_seconds"] > 0
    assert "| terms" in table(rows)


def test_main_writes_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results" / "bench.json"
    assert main(["--scale", "tiny", "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) >= {"machine", "matching", "scale_check", "ingest", "feeds", "digests", "peak_rss_mb"}
    check_ingest(data["ingest"], "sqlite", data["year"]["files"])
    if "ingest_postgresql" in data:  # a server answered at 127.0.0.1:5432
        check_ingest(data["ingest_postgresql"], "postgresql", data["year"]["files"])
        assert data["ingest_postgresql"]["items"] == data["ingest"]["items"]
    else:
        assert "PostgreSQL" in data["ingest_postgresql_skipped"]
    assert data["feeds"]["watchlists"] == 20 and data["feeds"]["matches"] > 0
    assert data["digests"]["recipients"] == 50
    phases = {"generate", "ingest", "feeds", "digests", "matching"}
    assert set(data["peak_rss_mb"]) == phases | ({"ingest_postgresql"} if "ingest_postgresql" in data else set())
    assert all(mb > 0 for mb in data["peak_rss_mb"].values())
    assert all(row["grep_mb_per_s"] > 0 and 0 <= row["grep_line_hit_rate"] <= 1 for row in data["matching"])
    assert {"platform", "python", "cpu_count"} <= set(data["machine"])
    assert [row["terms"] for row in data["matching"]] == [10, 100, 1_000]
    assert all(ROW_KEYS <= set(row) for row in data["matching"])
    assert set(data["scale_check"]) >= {"time_10000_over_100", "grep_o_time_10000_over_100", "grep_startup_under_5pct"}
    printed = capsys.readouterr().out
    assert "ingest warm" in printed and "peak RSS MB" in printed and "statements/item" in printed
    assert "grep -c MB/s" in printed and "grep -o MB/s" in printed and "start-up / grep -o" in printed
    assert "engine MB/s" in printed and "naive hit rate" in printed and "terms found per 1,000 words" in printed


def test_the_10000_over_100_ratios_are_timed_in_turn(tmp_path: Path) -> None:
    docs = corpus(SCALES["tiny"])
    turns = in_turn(docs, write_corpus(docs, tmp_path / "corpus.txt"), rounds=2)
    assert set(turns) == {"engine_100", "engine_10000", "grep_o_100", "grep_o_10000"}
    assert all(seconds > 0 for seconds in turns.values())
    check = scale_check([], turns)  # no rows of their own: the ratios come from the turns alone
    assert check["time_10000_over_100"] == round(turns["engine_10000"] / turns["engine_100"], 3)
    assert check["grep_o_time_10000_over_100"] == round(turns["grep_o_10000"] / turns["grep_o_100"], 3)
    assert check["rows_time_10000_over_100"] is None and check["in_turn"] == turns


def test_the_matching_corpus_is_50_mb_but_at_tiny_scale() -> None:
    assert all(SCALES[name].min_bytes >= LARGE >= 50_000_000 for name in ("small", "medium", "national"))
    assert SCALES["tiny"].min_bytes == 0
    sized = replace(SCALES["tiny"], min_bytes=100_000)  # the rule, on a corpus a test can afford
    docs = corpus(sized)
    assert sum(len(doc.encode("utf-8")) for doc in docs) >= 100_000 > sum(len(doc.encode("utf-8")) for doc in docs[:-1])
    assert docs[:10] == corpus(SCALES["tiny"]) == documents(10, seed=1)
    assert len(set(docs)) == len(docs)  # varied, not repeated


def test_year_is_deterministic_and_parses_as_agenda_minutes_pairs() -> None:
    size = YearSize(3, 2, 2, items=5)
    docs = list(year(size, seed=4))
    assert docs == list(year(size, seed=4))
    assert docs != list(year(size, seed=5))
    assert list(year(YearSize(1, 2, 2, items=5), seed=4)) == docs[: len(list(year(YearSize(1, 2, 2, items=5), 4)))]
    assert len({doc.path for doc in docs}) == len(docs) >= 2 * size.n_meetings
    assert {doc.path.rsplit(".", 1)[1] for doc in docs} == {"md", "txt"}
    assert any(doc.text.startswith("**DAGSORDEN") for doc in docs)  # bold layout
    assert any(doc.text.startswith("# DAGSORDEN") for doc in docs)  # markdown headings
    for doc in docs:
        meeting = parse_minutes(extract_text(doc.text.encode(), doc.path).text, doc.path)
        assert meeting.kind == ("referat" if "-referat" in doc.path else "dagsorden")
        assert len(meeting.items) >= 3
        if meeting.kind == "referat":
            assert all(item.decision for item in meeting.items)
        else:
            assert not any(item.decision for item in meeting.items)


def test_grep_terms_are_plain_lower_case_substrings() -> None:
    assert [plain(raw) for raw in ["*Ledighed", "=bil", "IGU", '"nyt  kontanthjælpssystem"']] == [
        "ledighed",
        "bil",
        "igu",
        "nyt kontanthjælpssystem",
    ]


def test_the_inline_image_benchmark_reports_both_pages_and_their_ratio() -> None:
    from benchmarks import pages

    result = pages.run(image=50_000)
    assert set(result) == {"bare_bytes", "heavy_bytes", "bare_seconds", "heavy_seconds", "ratio"}
    assert result["heavy_bytes"] > result["bare_bytes"] + 50_000 and result["ratio"] > 0
