"""``python -m benchmarks [--scale tiny|small|medium|national] [--out PATH]``: run, print tables, write JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import ingest, publish
from benchmarks.matching import ROUNDS, SCALES, run_scale
from benchmarks.phases import run_phase
from benchmarks.year import YearSize

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
COLUMNS = (
    ("terms", "terms", "{:,}"),
    ("engine MB/s", "mb_per_s", "{:.2f}"),
    ("naive MB/s", "naive_mb_per_s", "{:.4f}"),
    ("grep -c MB/s", "grep_mb_per_s", "{:.1f}"),
    ("grep -o MB/s", "grep_o_mb_per_s", "{:.1f}"),
    ("grep start-up s", "grep_startup_seconds", "{:.4f}"),
    ("start-up / grep -c", "grep_startup_share", "{:.1%}"),
    ("start-up / grep -o", "grep_o_startup_share", "{:.1%}"),
    ("vs naive", "ratio", "{:,.1f}x"),
    ("vs grep -c", "grep_ratio", "{:.3f}"),
    ("vs grep -o", "grep_o_ratio", "{:.3f}"),
    ("hit rate", "hit_rate", "{:.1%}"),
    ("naive hit rate", "naive_hit_rate", "{:.1%}"),
    ("terms found per 1,000 words", "terms_found_per_1000_words", "{:.1f}"),
)


YEARS = {  # the generated year ingested, the watchlists whose feeds are published, the digests composed
    "tiny": (YearSize(2, 2, 2, items=5), 20, 50),
    "small": (YearSize(4, 15, 3), 1_000, 10_000),
    "medium": (YearSize(10, 15, 11), 1_000, 10_000),
    "national": (YearSize(98, 15, 11), 1_000, 10_000),
}


def machine() -> dict[str, Any]:
    try:
        ahocorasick = metadata.version("ahocorasick-rs")
    except metadata.PackageNotFoundError:
        ahocorasick = None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "ahocorasick-rs": ahocorasick,
    }


PHASES = ("ingest", "feeds", "digests", "matching")


def year_phases(scale: str, phases: set[str], progress: Callable[[str], None]) -> dict[str, Any]:
    """Generate the year and run ingest, feeds and digests (those in ``phases``), each in its own
    child process; with each one's peak RSS. Feeds need the ingested store, so they imply ingest."""
    size, n_watchlists, n_recipients = YEARS[scale]
    out: dict[str, Any] = {}
    rss: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-year-") as folder:
        root = Path(folder)
        if phases & {"ingest", "feeds"}:
            written, rss["generate"] = run_phase(ingest.prepare, size, root)
            mb = written["bytes"] / 1e6
            progress(f"generated {written['files']:,} files, {mb:,.1f} MB in {written['generate_s']:.1f}s")
            kommuner = written.pop("kommuner")
            out["year"] = {**written, **vars(size), "meetings_total": size.n_meetings}
            out["ingest"], rss["ingest"] = run_phase(ingest.run, root, kommuner, written["bytes"])
            progress(f"ingest: cold {out['ingest']['cold_s']:.1f}s, warm {out['ingest']['warm_s']:.2f}s")
        if "ingest" in phases:
            postgresql, peak = run_phase(ingest.run_postgresql, root, kommuner, written["bytes"])
            if "skipped" in postgresql:  # no server here: the block is left out, the note says why
                out["ingest_postgresql_skipped"] = postgresql["skipped"]
                progress(f"ingest on PostgreSQL skipped: {postgresql['skipped']}")
            else:
                out["ingest_postgresql"], rss["ingest_postgresql"] = postgresql, peak
                progress(f"ingest on PostgreSQL: cold {postgresql['cold_s']:.1f}s, warm {postgresql['warm_s']:.2f}s")
        if "feeds" in phases:
            out["feeds"], rss["feeds"] = run_phase(publish.feeds, root, kommuner, n_watchlists)
            feeds = out["feeds"]
            progress(
                f"feeds: look back {feeds['backfill_s']:.1f}s, match {feeds['match_s']:.1f}s, "
                f"publish {feeds['publish_s']:.1f}s"
            )
        if "digests" in phases:
            out["digests"], rss["digests"] = run_phase(publish.digests, root, n_recipients)
            progress(f"digests: {out['digests']['seconds']:.1f}s")
    return {**out, "peak_rss_mb": rss}


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned, markdown-compatible table."""
    cells = [[fmt.format(row[key]) for _, key, fmt in COLUMNS] for row in rows]
    widths = [max(len(title), *(len(line[i]) for line in cells)) for i, (title, _, _) in enumerate(COLUMNS)]
    lines = ["| " + " | ".join(title.ljust(w) for (title, _, _), w in zip(COLUMNS, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    lines += ["| " + " | ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in cells]
    return "\n".join(lines)


def ingest_lines(done: dict[str, Any]) -> list[str]:
    """One ingest block (SQLite or PostgreSQL) as lines."""
    name = done["database"]
    phases = ", ".join(f"{phase} {us:,.0f}" for phase, us in done["phases_us_per_item"].items())
    return [
        f"ingest cold ({name}): {done['cold_s']:.2f}s, {done['mb_per_s']:.2f} MB/s, {done['items_per_s']:,.0f} "
        f"items/s ({done['items']:,} items, {done['changed']:,} changed by the minutes, {done['errors']} errors)",
        f"  {done['us_per_item']:,.0f} us/item, {done['statements_per_item']:.2f} statements/item, "
        f"{done['commits_per_document']:.2f} commits/document; us/item by phase: {phases}",
        f"  storing process CPU {done['main_cpu_s']:.1f}s ({done['main_cpu_over_cold']:.0%} of the cycle)",
        f"ingest warm ({name}): {done['warm_s']:.2f}s = {done['warm_over_cold']:.1%} of cold (target < 10%)",
    ]


def summary(results: dict[str, Any]) -> str:
    """The year phases that ran, as lines: ingest, feeds, digests, peak RSS."""
    lines = []
    if "ingest" in results:
        year = results["year"]
        lines.append(
            f"year: {year['meetings_total']:,} meetings, {year['files']:,} files, {year['bytes'] / 1e6:,.1f} MB"
        )
        lines += ingest_lines(results["ingest"])
    if "ingest_postgresql" in results:
        lines += ingest_lines(results["ingest_postgresql"])
    elif "ingest_postgresql_skipped" in results:
        lines.append(f"ingest on PostgreSQL skipped: {results['ingest_postgresql_skipped']}")
    if "feeds" in results:
        feeds = results["feeds"]
        lines.append(
            f"feeds: {feeds['watchlists']:,} new watchlists looked back over {feeds['backfill_items']:,} items "
            f"in {feeds['backfill_s']:.2f}s ({feeds['backfill_matches']:,} matches); matched as change events in "
            f"{feeds['match_s']:.2f}s ({feeds['matches']:,} matches), published in {feeds['publish_s']:.2f}s "
            f"({feeds['files_written']:,} files)"
        )
    if "digests" in results:
        digests = results["digests"]
        lines.append(
            f"digests: {digests['recipients']:,} composed in {digests['seconds']:.2f}s ({digests['per_s']:,.0f}/s)"
        )
    rss = ", ".join(f"{phase} {mb:,.0f}" for phase, mb in results["peak_rss_mb"].items())
    return "\n".join([*lines, f"peak RSS MB: {rss}"])


def print_matching(results: dict[str, Any]) -> None:
    rows = results["matching"]
    print(table(rows))
    for row in rows:
        agreement = row["agreement"]
        print(
            f"{row['terms']:>6,} terms: {row['terms_found_per_doc']:.1f} distinct terms found per document "
            f"({row['terms_found_per_1000_words']:.1f} per 1,000 words); {row['terms_ever_found']:.0%} of the "
            f"terms found in some document\n{'':>14}naive on {row['naive_docs']} of {row['docs']} docs "
            f"({row['naive_bytes'] / 1e3:,.0f} of {row['bytes'] / 1e3:,.0f} KB), engine hit rate there "
            f"{row['slice_hit_rate']:.1%}; (doc, term) pairs: engine only {agreement['engine_only']} "
            f"({agreement['engine_only_suspended_compound']} suspended compounds), regex only {agreement['naive_only']}"
        )
    check = results["scale_check"]
    print(f"folding and blanking the text alone: {check['text_seconds']:.3f}s of every row's engine time")
    for kind, key in (("grep -c", "grep_startup"), ("grep -o", "grep_o_startup")):
        over = ", ".join(f"{terms:,}" for terms in check[f"{key}_over_5pct_at"])
        print(
            f"grep start-up under 5% of {kind}'s time: "
            + ("yes, at every row" if check[f"{key}_under_5pct"] else f"no, at {over} terms")
        )
    if check["time_10000_over_100"] is not None:
        print(
            f"time, 10,000 terms / 100 terms, timed in turn ({ROUNDS} rounds): engine "
            f"{check['time_10000_over_100']:.2f}, grep -o {check['grep_o_time_10000_over_100']:.2f} (target: "
            f"engine <= grep -o: {'holds' if check['engine_scales_like_grep_o'] else 'does not hold'}); "
            f"the rows alone: engine {check['rows_time_10000_over_100']:.2f}, "
            f"grep -o {check['rows_grep_o_time_10000_over_100']:.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results (default: %(default)s)")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help="comma-separated subset of %(default)s (feeds imply ingest), e.g. --phases ingest",
    )
    args = parser.parse_args(argv)
    phases = set(args.phases.split(","))
    if not phases <= set(PHASES):
        parser.error(f"--phases: unknown {', '.join(sorted(phases - set(PHASES)))}")
    info = machine()
    print("machine: " + ", ".join(f"{key}={value}" for key, value in info.items()), flush=True)
    results = {"machine": info, "scale": args.scale}
    progress = lambda line: print("  " + line, file=sys.stderr, flush=True)  # noqa: E731
    results.update(year_phases(args.scale, phases, progress))
    if "matching" in phases:
        matched, results["peak_rss_mb"]["matching"] = run_phase(run_scale, args.scale)
        results.update(matched)
    if "matching" in results:
        print_matching(results)
    print(summary(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
