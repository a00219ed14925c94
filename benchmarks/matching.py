"""Matching speed: the Aho-Corasick engine against one regex per term, in this process, on this text.

For each number of terms N the engine (``engine.words(text)`` + ``engine.search(words)`` per
document, what every match costs) runs over the whole corpus (at least 50 MB at every scale but
tiny, so that grep's start-up is a small part of grep's time; grep runs over the same bytes,
lower-cased), and the naive baseline (every
term's regex over every document) over a leading slice of it, sized so its run stays short; both
are rates (MB/s), so the ratio between them holds. Each time is the best of three runs.
Afterwards, untimed, the engine's terms per document are compared with the regexes' on the slice.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from benchmarks import grep
from benchmarks.baseline import compile_terms, matched_terms
from benchmarks.generate import stream, term_lists
from bot.match.automaton import Engine
from bot.match.query import Hit, Term, Words, found_text, parse_term

T = TypeVar("T")
ROUNDS = 5  # rounds of the four runs timed in turn for the 10,000/100 ratios
REPEATS = 3  # best of three; over >= 50 MB each run takes seconds, which evens out a shared core
MB = 1_000_000


@dataclass(frozen=True)
class Scale:
    name: str
    n_docs: int
    term_counts: tuple[int, ...]
    naive_budget: int  # UTF-8 bytes x terms the naive baseline may scan per run
    min_naive_docs: int = 2
    min_bytes: int = 0  # the corpus is at least n_docs documents and at least this many UTF-8 bytes


_FULL = (10, 100, 1_000, 10_000, 100_000)
LARGE = 50 * MB  # grep's start-up (~10-20 ms at 10,000 terms) is then well under 5% of its time
SCALES = {
    "tiny": Scale("tiny", n_docs=10, term_counts=(10, 100, 1_000), naive_budget=8 * MB),
    "small": Scale("small", n_docs=800, term_counts=_FULL, naive_budget=240 * MB, min_bytes=LARGE),
    "medium": Scale("medium", n_docs=800, term_counts=_FULL, naive_budget=240 * MB, min_bytes=LARGE),
    "national": Scale("national", n_docs=2_000, term_counts=_FULL, naive_budget=240 * MB, min_bytes=LARGE),
}
STARTUP_SHARE = 0.05  # grep's start-up under this share of its time: the corpus amortises it
NAIVE_REPEATS_FROM = 100_000  # one run of 100,000 regexes takes long enough to time once


def best_of(run: Callable[[], T], repeats: int = REPEATS) -> tuple[float, T]:
    """The fastest of ``repeats`` runs (seconds) and the result of the last."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def engine_hits(engine: Engine, docs: list[str]) -> list[list[Hit]]:
    """The hits (one per distinct term found) of each document: the whole engine cost, ``words``
    and ``search``."""
    return [engine.search(engine.words(doc)) for doc in docs]


def word_count(docs: list[str]) -> int:
    return sum(len(Words(doc).scan.split()) for doc in docs)


def naive_sets(regexes: list[re.Pattern[str]], docs: list[str]) -> list[set[int]]:
    return [matched_terms(regexes, doc) for doc in docs]


def size(docs: list[str]) -> int:
    return sum(len(doc.encode("utf-8")) for doc in docs)


def corpus(scale: Scale, seed: int = 1) -> list[str]:
    """The generated documents: the first ``n_docs``, then more of the same stream until the text
    has ``min_bytes``. Every document differs, so no cache sees the same text twice."""
    docs: list[str] = []
    total = 0
    for doc in stream(seed):
        if len(docs) >= scale.n_docs and total >= scale.min_bytes:
            break
        docs.append(doc)
        total += len(doc.encode("utf-8"))
    return docs


def naive_slice(docs: list[str], n_terms: int, scale: Scale) -> list[str]:
    """The leading documents the naive baseline runs on: within the budget, at least a few."""
    total, count = 0, 0
    for doc in docs:
        total += len(doc.encode("utf-8"))
        if count >= scale.min_naive_docs and total * n_terms > scale.naive_budget:
            break
        count += 1
    return docs[:count]


def compare(
    engine: Engine, terms: list[Term], raws: list[str], docs: list[str], naive: list[set[int]]
) -> dict[str, Any]:
    """Per (document, term): found by the engine only, by the regexes only. Engine-only hits that
    are suspended compounds ("Social- og Beskæftigelsesudvalget") are a rule the regexes lack."""
    engine_only = compound = naive_only = 0
    examples: list[str] = []
    compounds: list[str] = []
    for doc, found in zip(docs, naive, strict=True):
        words = engine.words(doc)
        by_term: dict[int, list[Hit]] = {}
        for hit in engine.search(words):
            by_term.setdefault(hit.term, []).append(hit)
        for index in set(by_term) - found:
            engine_only += 1
            hit = by_term[index][0]
            if all(hit.length != len(terms[index].words) for hit in by_term[index]):
                compound += 1
                if len(compounds) < 5:
                    compounds.append(f"{raws[index]!r} in {found_text(words, hit)!r}")
            elif len(examples) < 5:
                examples.append(f"engine only: {raws[index]!r} in {found_text(words, hit)!r}")
        for index in sorted(found - set(by_term)):
            naive_only += 1
            if len(examples) < 10:
                examples.append(f"regex only: {raws[index]!r}")
    naive_hits = sum(len(found) for found in naive)
    return {
        "engine_only": engine_only,
        "engine_only_suspended_compound": compound,
        "naive_only": naive_only,
        "engine_term_hits": naive_hits - naive_only + engine_only,
        "naive_term_hits": naive_hits,
        "examples": examples,
        "suspended_compound_examples": compounds,
    }


def measure(
    n_terms: int, docs: list[str], scale: Scale, text: grep.Corpus, words: int, seed: int = 1
) -> dict[str, Any]:
    raws = term_lists(n_terms, seed)
    terms = [parse_term(raw) for raw in raws]
    start = time.perf_counter()
    engine = Engine(terms)
    build = time.perf_counter() - start
    seconds, per_doc = best_of(lambda: engine_hits(engine, docs))
    flags = [bool(hits) for hits in per_doc]
    found = sum(len(hits) for hits in per_doc)
    ever = {hit.term for hits in per_doc for hit in hits}
    del per_doc  # the hits of a 50 MB corpus: not kept while the baselines run
    sliced = naive_slice(docs, n_terms, scale)
    regexes = compile_terms(terms)
    repeats = REPEATS if n_terms < NAIVE_REPEATS_FROM else 1
    naive_seconds, naive = best_of(lambda: naive_sets(regexes, sliced), repeats)
    grepped = grep.measure(raws, text)
    total, naive_total = size(docs), size(sliced)
    mb_per_s, naive_mb_per_s = total / MB / seconds, naive_total / MB / naive_seconds
    return {
        "terms": n_terms,
        "mb_per_s": round(mb_per_s, 3),
        "naive_mb_per_s": round(naive_mb_per_s, 4),
        "ratio": round(mb_per_s / naive_mb_per_s, 2),
        **grepped,
        "grep_ratio": round(mb_per_s / float(grepped["grep_mb_per_s"]), 4),
        "grep_o_ratio": round(mb_per_s / float(grepped["grep_o_mb_per_s"]), 4),
        "hit_rate": round(sum(flags) / len(flags), 4),
        "naive_hit_rate": round(sum(1 for found in naive if found) / len(naive), 4),
        "slice_hit_rate": round(sum(flags[: len(sliced)]) / len(sliced), 4),
        "terms_found_per_1000_words": round(1000 * found / words, 2),
        "terms_found_per_doc": round(found / len(docs), 2),
        "terms_ever_found": round(len(ever) / n_terms, 4),
        "words": words,
        "seconds": seconds,
        "naive_seconds": naive_seconds,
        "bytes": total,
        "docs": len(docs),
        "naive_bytes": naive_total,
        "naive_docs": len(sliced),
        "build_seconds": round(build, 4),
        "agreement": compare(engine, terms, raws, sliced, naive),
    }


def run(scale: Scale, seed: int = 1, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every row of the matching benchmark and the scale checks (10,000 terms against 100, the
    engine's and grep -o's; grep's start-up against its time)."""
    docs = corpus(scale, seed)
    words = word_count(docs)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-grep-") as folder:
        text = grep.write_corpus(docs, Path(folder) / "corpus.txt")
        if progress:
            progress(f"matching corpus: {len(docs):,} documents, {text.size / MB:,.1f} MB")
        for n_terms in scale.term_counts:
            rows.append(measure(n_terms, docs, scale, text, words, seed))
            if progress:
                row = rows[-1]
                progress(
                    f"{n_terms} terms: engine {row['seconds']:.3f}s, naive {row['naive_seconds']:.3f}s, "
                    f"grep -c {row['grep_seconds']:.3f}s, grep -o {row['grep_o_seconds']:.3f}s, "
                    f"grep start-up {row['grep_startup_seconds']:.4f}s"
                )
        turns = in_turn(docs, text, seed) if {100, 10_000} <= set(scale.term_counts) else None
    # The part of every row's time that does not depend on the terms: folding and blanking the text.
    text_seconds, _ = best_of(lambda: [(folded.scan, folded.cased_scan) for folded in map(Words, docs)])
    return {"matching": rows, "scale_check": {**scale_check(rows, turns), "text_seconds": text_seconds}}


def in_turn(docs: list[str], text: grep.Corpus, seed: int = 1, rounds: int = ROUNDS) -> dict[str, float]:
    """The engine and grep -o at 100 and at 10,000 terms, one run of each per round and the four in
    turn, the best of each over the rounds. The rows time each term count on its own, a minute
    apart: on a shared machine a spell of load that falls on one row and not the other moved their
    ratio by a third between runs of the same code; in turn, it falls on all four alike."""
    raws = {count: term_lists(count, seed) for count in (100, 10_000)}
    engines = {count: Engine([parse_term(raw) for raw in terms]) for count, terms in raws.items()}
    best = dict.fromkeys(("engine_100", "engine_10000", "grep_o_100", "grep_o_10000"), float("inf"))
    for _ in range(rounds):
        for count, engine in engines.items():
            start = time.perf_counter()
            engine_hits(engine, docs)
            best[f"engine_{count}"] = min(best[f"engine_{count}"], time.perf_counter() - start)
            best[f"grep_o_{count}"] = min(best[f"grep_o_{count}"], grep.o_seconds(raws[count], text))
    return best


def over_100(rows: list[dict[str, Any]], key: str) -> float | None:
    """``key`` (a time) at 10,000 terms over the same at 100; None without both rows."""
    seconds = {row["terms"]: row[key] for row in rows}
    return round(seconds[10_000] / seconds[100], 3) if 10_000 in seconds and 100 in seconds else None


def scale_check(rows: list[dict[str, Any]], turns: dict[str, float] | None = None) -> dict[str, Any]:
    """How the engine's time grows from 100 to 10,000 terms next to how grep -o's does, in this
    run (timed in turn, :func:`in_turn`; the rows' own times beside them); and whether grep's
    start-up stays under 5% of its time (else grep's rate is start-up)."""
    rows_engine, rows_grep_o = over_100(rows, "seconds"), over_100(rows, "grep_o_seconds")
    engine, grep_o = rows_engine, rows_grep_o
    if turns is not None:
        engine = round(turns["engine_10000"] / turns["engine_100"], 3)
        grep_o = round(turns["grep_o_10000"] / turns["grep_o_100"], 3)
    startup_over = [row["terms"] for row in rows if row["grep_startup_share"] >= STARTUP_SHARE]
    o_startup_over = [row["terms"] for row in rows if row["grep_o_startup_share"] >= STARTUP_SHARE]
    return {
        "time_10000_over_100": engine,
        "grep_o_time_10000_over_100": grep_o,
        "engine_scales_like_grep_o": None if engine is None or grep_o is None else engine <= grep_o,
        "rows_time_10000_over_100": rows_engine,  # the same from the rows' own times
        "rows_grep_o_time_10000_over_100": rows_grep_o,
        "in_turn": turns,  # best seconds of each of the four over ROUNDS rounds; None without both rows
        "grep_startup_under_5pct": not startup_over,  # of grep -c's time, which may stop early on a line
        "grep_startup_over_5pct_at": startup_over,
        "grep_o_startup_under_5pct": not o_startup_over,  # of grep -o's time
        "grep_o_startup_over_5pct_at": o_startup_over,
    }


def run_scale(name: str) -> dict[str, Any]:
    """:func:`run` at a named scale, progress on stderr (what ``python -m benchmarks`` runs in a child)."""
    return run(SCALES[name], progress=lambda line: print("  " + line, file=sys.stderr, flush=True))
