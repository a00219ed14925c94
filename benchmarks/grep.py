"""The C ceiling: GNU grep over the same text, already lower-cased, measured two ways.

- ``LC_ALL=C grep -F -c -f terms``: counts matching *lines*, so it may stop at a line's first match.
- ``LC_ALL=C grep -o -F -f terms | wc -l``: prints every match, as the engine finds every term; the
  pipeline's time includes ``wc``.

Terms are written lower-cased without their query syntax (``*infix`` → ``infix``, ``=whole`` →
``whole``, a phrase → its words with one space), so grep looks for plain substrings: a superset of
what the engine finds, and no word rules. grep's output is read through a pipe: with its output on
/dev/null GNU grep stops at the first match. Both times include starting grep and building its
automaton for the terms; that start-up is also timed alone, on an empty file, and reported beside
them (``grep_startup_seconds``), so a corpus too small to amortise it shows. Best of three runs.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

MB = 1_000_000
REPEATS = 3
ENV = {"LC_ALL": "C", "PATH": "/usr/bin:/bin"}


def plain(raw: str) -> str:
    return " ".join(raw.strip('"').lstrip("*=").split()).lower()


def available() -> bool:
    return shutil.which("grep") is not None


@dataclass(frozen=True)
class Corpus:
    """The lower-cased text grep reads: its file, UTF-8 size and number of lines."""

    path: Path
    size: int
    lines: int


def write_corpus(docs: Iterable[str], path: Path) -> Corpus:
    """The documents lower-cased, one after another (a newline between), streamed to ``path``."""
    size, lines = 0, 1
    with path.open("wb") as out:
        for index, doc in enumerate(docs):
            data = (b"\n" if index else b"") + doc.lower().encode("utf-8")
            out.write(data)
            size += len(data)
            lines += data.count(b"\n")
    return Corpus(path, size, lines)


def _count(command: list[str]) -> tuple[float, int]:
    """Seconds of ``command`` and the number it prints."""
    start = time.perf_counter()
    done = subprocess.run(command, env=ENV, stdout=subprocess.PIPE, check=False)
    return time.perf_counter() - start, int(done.stdout.decode().strip() or 0)


def _count_lines_of(command: list[str]) -> tuple[float, int]:
    """Seconds of ``command | wc -l`` and the lines it printed."""
    start = time.perf_counter()
    grep = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE)
    wc = subprocess.Popen(["wc", "-l"], env=ENV, stdin=grep.stdout, stdout=subprocess.PIPE)
    assert grep.stdout is not None
    grep.stdout.close()  # wc alone holds the pipe: grep gets SIGPIPE if wc dies
    out, _ = wc.communicate()
    grep.wait()
    return time.perf_counter() - start, int(out.decode().strip() or 0)


def _best(run: Callable[[], tuple[float, int]], repeats: int) -> tuple[float, int]:
    """The fastest of ``repeats`` runs and the count of the last."""
    results = [run() for _ in range(repeats)]
    return min(seconds for seconds, _ in results), results[-1][1]


def _terms_file(raws: list[str], text: Corpus) -> Path:
    """The terms as grep reads them (-F -f), beside the corpus."""
    terms = text.path.parent / f"terms-{len(raws)}.txt"
    terms.write_text("\n".join(sorted({plain(raw) for raw in raws})) + "\n", encoding="utf-8")
    return terms


def _grep_o(terms: Path, corpus: Path) -> tuple[float, int]:
    """Seconds of one ``grep -o -F -f terms corpus | wc -l``, and every match it printed."""
    return _count_lines_of(["grep", "-o", "-F", "-f", str(terms), str(corpus)])


def o_seconds(raws: list[str], text: Corpus) -> float:
    """Seconds of one ``grep -o`` of these terms over ``text``."""
    return _grep_o(_terms_file(raws, text), text.path)[0]


def measure(raws: list[str], text: Corpus, repeats: int = REPEATS) -> dict[str, float | int]:
    """grep -c, grep -o | wc -l and grep's start-up alone, for these terms over ``text``: best
    seconds of ``repeats``, MB/s, and what each found."""
    folder, corpus = text.path.parent, text.path
    terms = _terms_file(raws, text)
    empty = folder / "empty.txt"
    empty.write_bytes(b"")
    size = text.size
    seconds, lines = _best(lambda: _count(["grep", "-F", "-c", "-f", str(terms), str(corpus)]), repeats)
    o_seconds, matches = _best(lambda: _grep_o(terms, corpus), repeats)
    startup, _ = _best(lambda: _count(["grep", "-F", "-c", "-f", str(terms), str(empty)]), repeats)
    return {
        "grep_seconds": seconds,
        "grep_mb_per_s": round(size / MB / seconds, 3),
        "grep_line_hit_rate": round(lines / text.lines, 4),
        "grep_o_seconds": o_seconds,
        "grep_o_mb_per_s": round(size / MB / o_seconds, 3),
        "grep_o_matches": matches,
        "grep_startup_seconds": startup,
        # start-up's share of each grep's time: under 5% means the corpus amortises it
        "grep_startup_share": round(startup / seconds, 4),
        "grep_o_startup_share": round(startup / o_seconds, 4),
    }
