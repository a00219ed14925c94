"""A snippet: about thirty words of an item around the first hit of a watchlist's terms, with
the hits and the other occurrences of the found terms highlighted (feeds, email, ``matches``).

A hit inside a table (a window mostly of numbers: "Kontanthjælp 12.345 13.456 …") makes a poor
snippet; a later occurrence of the terms in prose is shown instead, when there is one.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice

from bot.match.query import Hit, Term, Words, occurrences


@dataclass(frozen=True)
class Snippet:
    """About thirty words around the first hit, with the character ranges of hits to highlight."""

    text: str
    highlights: tuple[tuple[int, int], ...]

    def marked(self, before: str = "**", after: str = "**") -> str:
        out, last = [], 0
        for start, end in self.highlights:
            out += [self.text[last:start], before, self.text[start:end], after]
            last = end
        out.append(self.text[last:])
        return "".join(out)


SNIPPET_WORDS = 30
_BEFORE = 12
# A word or gap longer than this is cut with "…": a multi-megabyte word is shown, stored and
# mailed as its first characters, not whole in every match of every watchlist.
_LONGEST = 80
_WHITESPACE = re.compile(r"\s+")
_NO_MARKUP = str.maketrans("", "", "*_#~`")
# A window with at least this share of words holding a digit is a table's, not prose
_TABLE_SHARE = 0.4
# Later occurrences tried for a prose window: bounds the cost on a long table full of the term
_CANDIDATES = 40


def _word(text: str) -> str:
    return text if len(text) <= _LONGEST else f"{text[:_LONGEST]}…"


def _clean(text: str) -> str:
    """Text between words as a snippet shows it: markup dropped, whitespace runs as one space,
    and " … " for a long run of other characters (a ruler of dashes)."""
    if text == " ":  # most gaps: what the steps below would return
        return text
    cleaned = _WHITESPACE.sub(" ", text.translate(_NO_MARKUP))
    return cleaned if len(cleaned) <= _LONGEST else " … "


def _window(words: Words, first: int) -> list[int]:
    """Where the words of the window start in :attr:`Words.scan`: up to ``_BEFORE`` words before
    the word at ``first``, and more before it where the text ends too soon for ``SNIPPET_WORDS``.

    Found by walking from word to word around the hit, so the cost is the window's, not the text's.
    """
    starts = [first]
    while len(starts) <= _BEFORE and (before := words.previous_word(starts[0])) is not None:
        starts.insert(0, before)
    while len(starts) < SNIPPET_WORDS and (after := words.next_word(words.word_end(starts[-1]))) is not None:
        starts.append(after)
    while len(starts) < SNIPPET_WORDS and (before := words.previous_word(starts[0])) is not None:
        starts.insert(0, before)
    return starts


def make_snippet(words: Words, hits: Sequence[Hit], terms: Sequence[Term] = ()) -> Snippet:
    """A window of words around the first hit (or, when that is in a table, around the first
    later occurrence of ``terms`` in prose); the hits and every occurrence of ``terms`` inside
    it are highlighted."""
    first = min(hit.at for hit in hits) if hits else words.next_word(0)
    if first is None:
        return Snippet("", ())
    starts = _window(words, first)
    if terms and _is_table(words, starts):
        starts = _prose_window(words, terms, first) or starts
    text, shown = _render(words, starts)
    covered = [(hit.at, hit.length) for hit in hits]
    for term in terms:
        covered += [(at, len(term.words)) for at in occurrences(term, words, starts[0], starts[-1] + 1)]
    index_of = {start: index for index, start in enumerate(starts)}
    ranges = {(index_of[at], index_of[at] + length - 1) for at, length in covered if at in index_of}
    highlights: list[tuple[int, int]] = []
    for start_word, last in sorted(ranges):
        if last < len(shown):
            span = (shown[start_word][0], shown[last][1])
            if not highlights or span[0] >= highlights[-1][1]:
                highlights.append(span)
    return Snippet(text, tuple(highlights))


def _is_number(words: Words, start: int) -> bool:
    word = words.scan[start : words.word_end(start)]
    # Most words are letters only, and no letter is a digit: one call in C settles those.
    return not word.isalpha() and any(map(str.isdigit, word))


def _is_table(words: Words, starts: Sequence[int]) -> bool:
    return sum(_is_number(words, start) for start in starts) >= _TABLE_SHARE * len(starts)


def _prose_window(words: Words, terms: Sequence[Term], first: int) -> list[int] | None:
    """The window of the first later occurrence of ``terms`` that is prose, if any is found
    among the next ``_CANDIDATES`` occurrences."""
    following = words.next_word(words.word_end(first))
    if following is None:
        return None
    end = len(words.scan) - 1
    found = heapq.merge(*(occurrences(term, words, following, end) for term in terms))
    for at in islice(found, _CANDIDATES):
        starts = _after_numbers(words, _window(words, at), at)
        if not _is_table(words, starts):
            return starts
    return None


def _after_numbers(words: Words, starts: list[int], at: int) -> list[int]:
    """The window from the end of the last run of numbers before the hit (the table the prose
    follows), filled up with the words after it; a lone number ("i 2026") is prose."""
    numeric = [_is_number(words, start) for start in starts[: starts.index(at)]]
    runs = [index for index in range(2, len(numeric)) if all(numeric[index - 2 : index + 1])]
    if not runs:
        return starts
    starts = starts[runs[-1] + 1 :]
    while len(starts) < SNIPPET_WORDS and (after := words.next_word(words.word_end(starts[-1]))) is not None:
        starts.append(after)
    return starts


def _render(words: Words, starts: list[int]) -> tuple[str, list[tuple[int, int]]]:
    """The snippet's text for the window's words, and where each word stands in it."""
    spans = words.text_spans(starts[0], len(starts))
    text = words.text
    # Whole text kept at an end of the text (a closing full stop); "…" where the window cuts it.
    lead = "… " if words.previous_word(starts[0]) is not None else _clean(text[: spans[0][0]]).lstrip()
    pieces = [lead]
    position = len(lead)
    shown = []
    for index, (start, end) in enumerate(spans):
        if index:
            gap = _clean(text[spans[index - 1][1] : start]) or " "
            pieces.append(gap)
            position += len(gap)
        pieces.append(_word(text[start : min(end, start + _LONGEST + 1)]))
        shown.append((position, position + len(pieces[-1])))
        position += len(pieces[-1])
    more = words.next_word(words.word_end(starts[-1])) is not None
    pieces.append(" …" if more else _clean(text[spans[-1][1] :]).rstrip())
    return "".join(pieces), shown
