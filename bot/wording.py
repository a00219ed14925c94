"""Counted nouns in English CLI output: "1 source", "2 sources", never "1 sources" or "source(s)"."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``plural(1, "match", "matches")`` → ``"1 match"``; ``plural(2, "source")`` → ``"2 sources"``."""
    return f"{count} {word if count == 1 else many or word + 's'}"
