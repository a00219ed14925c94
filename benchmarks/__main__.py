"""``python -m benchmarks [--scale tiny|small] [--out PATH]``: run, print a table, write JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.matching import SCALES, run

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
COLUMNS = (
    ("terms", "terms", "{:,}"),
    ("engine MB/s", "mb_per_s", "{:.2f}"),
    ("naive MB/s", "naive_mb_per_s", "{:.4f}"),
    ("ratio", "ratio", "{:,.1f}x"),
    ("hit rate", "hit_rate", "{:.1%}"),
    ("naive hit rate", "naive_hit_rate", "{:.1%}"),
    ("terms found per 1,000 words", "terms_found_per_1000_words", "{:.1f}"),
)


def machine() -> dict[str, Any]:
    try:
        ahocorasick = metadata.version("pyahocorasick")
    except metadata.PackageNotFoundError:
        ahocorasick = None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "pyahocorasick": ahocorasick,
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned, markdown-compatible table."""
    cells = [[fmt.format(row[key]) for _, key, fmt in COLUMNS] for row in rows]
    widths = [max(len(title), *(len(line[i]) for line in cells)) for i, (title, _, _) in enumerate(COLUMNS)]
    lines = ["| " + " | ".join(title.ljust(w) for (title, _, _), w in zip(COLUMNS, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    lines += ["| " + " | ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results (default: %(default)s)")
    args = parser.parse_args(argv)
    info = machine()
    print("machine: " + ", ".join(f"{key}={value}" for key, value in info.items()), flush=True)
    results = {"machine": info, "scale": args.scale}
    results.update(run(SCALES[args.scale], progress=lambda line: print("  " + line, file=sys.stderr, flush=True)))
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
    print(f"splitting the text into words alone: {check['words_seconds']:.3f}s of every row's engine time")
    if check["time_10000_over_100"] is not None:
        print(f"time per MB, 10,000 terms / 100 terms: {check['time_10000_over_100']:.2f} (target <= 1.5)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
