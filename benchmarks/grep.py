"""The C ceiling: ``LC_ALL=C grep -F -c -f terms`` over the same text, already lower-cased.

Terms are written lower-cased without their query syntax (``*infix`` → ``infix``, ``=whole`` →
``whole``, a phrase → its words with one space), so grep looks for plain substrings: a superset of
what the engine finds, and no word rules. grep's output (one count) is read through a pipe: with
its output on /dev/null GNU grep stops at the first match. Best of a few runs, in MB/s of the text.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

MB = 1_000_000
REPEATS = 3


def plain(raw: str) -> str:
    return " ".join(raw.strip('"').lstrip("*=").split()).lower()


def available() -> bool:
    return shutil.which("grep") is not None


def write_corpus(docs: list[str], path: Path) -> int:
    """The documents lower-cased, one after another; their UTF-8 size."""
    data = "\n".join(docs).lower().encode("utf-8")
    path.write_bytes(data)
    return len(data)


def measure(raws: list[str], corpus: Path, folder: Path, repeats: int = REPEATS) -> dict[str, float | int]:
    """Seconds (best of ``repeats``), MB/s and matching lines for grep with these terms."""
    terms = folder / f"terms-{len(raws)}.txt"
    terms.write_text("\n".join(sorted({plain(raw) for raw in raws})) + "\n", encoding="utf-8")
    command = ["grep", "-F", "-c", "-f", str(terms), str(corpus)]
    env = {"LC_ALL": "C", "PATH": "/usr/bin:/bin"}
    best, lines = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, check=False)
        best = min(best, time.perf_counter() - start)
        lines = int(done.stdout.decode().strip() or 0)
    text_lines = corpus.read_bytes().count(b"\n") + 1
    return {
        "grep_seconds": best,
        "grep_mb_per_s": round(corpus.stat().st_size / MB / best, 3),
        "grep_line_hit_rate": round(lines / text_lines, 4),
    }
