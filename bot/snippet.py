"""A snippet: about thirty words of an item around the first hit of a watchlist's terms, with
the hits and the other occurrences of the found terms highlighted (feeds, email, ``matches``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.query import Hit, Term, Words, occurrences


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
_WHITESPACE = re.compile(r"\s+")
_NO_MARKUP = str.maketrans("", "", "*_#~`")


def _clean(text: str) -> str:
    """Text between words as a snippet shows it: markup dropped, whitespace runs as one space."""
    return _WHITESPACE.sub(" ", text.translate(_NO_MARKUP))


def make_snippet(words: Words, hits: Sequence[Hit], terms: Sequence[Term] = ()) -> Snippet:
    """A window of words around the first hit; the hits and every occurrence of ``terms`` inside
    it are highlighted."""
    if not words.spans:
        return Snippet("", ())
    first = min(words.index_at(hit.at) for hit in hits) if hits else 0
    high = min(len(words.spans), max(0, first - _BEFORE) + SNIPPET_WORDS)
    low = max(0, high - SNIPPET_WORDS)
    # Whole text kept at an end of the text (a closing full stop); "…" where the window cuts it.
    lead = "… " if low > 0 else _clean(words.text[: words.spans[0][0]]).lstrip()
    pieces = [lead]
    position = len(lead)
    starts: dict[int, int] = {}
    for index in range(low, high):
        if index > low:
            gap = _clean(words.gap(index - 1)) or " "
            pieces.append(gap)
            position += len(gap)
        starts[index] = position
        pieces.append(words.original_text(index))
        position += len(pieces[-1])
    pieces.append(" …" if high < len(words.spans) else _clean(words.text[words.spans[-1][1] :]).rstrip())
    covered = [(words.index_at(hit.at), words.index_at(hit.at) + hit.length - 1) for hit in hits]
    window = (words.starts[low], words.starts[high - 1] + 1)
    for term in terms:
        covered += [
            (index, index + len(term.words) - 1) for index in map(words.index_at, occurrences(term, words, *window))
        ]
    highlights: list[tuple[int, int]] = []
    for start_word, last in sorted(set(covered)):
        if start_word in starts and last in starts:
            span = (starts[start_word], starts[last] + len(words.original_text(last)))
            if not highlights or span[0] >= highlights[-1][1]:
                highlights.append(span)
    return Snippet("".join(pieces), tuple(highlights))
