"""The matching engine: every term of every watchlist in one Aho-Corasick automaton.

The automaton runs over a text's case-folded words joined by single spaces, with a space in
front of every key that must start a word, so one pass finds every candidate whatever the
number of terms; the word, phrase and case rules of :mod:`bot.query` are then checked on each
hit. Suspended compounds ("Førtids- og seniorpension") are found by a scan of the words and
looked up in a sorted list of the plain terms.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import ahocorasick

from bot.parse import is_decision_heading
from bot.query import Term, Words, phrase_matches, suspended_compounds, words_of
from bot.watchlists import Watchlist


@dataclass(frozen=True)
class Hit:
    term: int  # index into the engine's terms
    word: int  # index of the first matched word
    length: int  # number of words covered


class Engine:
    """Finds every occurrence of a fixed set of terms in a text."""

    def __init__(self, terms: Sequence[Term], fold_aa: bool = False) -> None:
        self.terms = tuple(terms)
        self.fold_aa = fold_aa
        self._automaton = ahocorasick.Automaton()
        keys: dict[str, list[int]] = {}
        for index, term in enumerate(self.terms):
            key = term.key if term.words[0].kind == "infix" else f" {term.key}"
            keys.setdefault(key, []).append(index)
        for key, indexes in keys.items():
            self._automaton.add_word(key, (key.startswith(" "), len(key), tuple(indexes)))
        if keys:
            self._automaton.make_automaton()
        plain = sorted((term.key, index) for index, term in enumerate(self.terms) if term.is_plain_word)
        self._plain_keys = [key for key, _ in plain]
        self._plain_index = [index for _, index in plain]

    def words(self, text: str) -> Words:
        return words_of(text, self.fold_aa)

    def search(self, words: Words) -> list[Hit]:
        """Every hit in the text, in order of position; one per (term, word)."""
        if not self.terms or not words.folded:
            return []
        starts: list[int] = []
        position = 1
        for folded in words.folded:
            starts.append(position)
            position += len(folded) + 1
        joined = " " + " ".join(words.folded)
        found: dict[tuple[int, int], Hit] = {}
        for end, (anchored, length, indexes) in self._automaton.iter(joined):
            begin = end - length + 1 + (1 if anchored else 0)
            word = bisect_right(starts, begin) - 1
            for index in indexes:
                if (index, word) not in found and phrase_matches(self.terms[index], words, word):
                    found[index, word] = Hit(index, word, len(self.terms[index].words))
        for hit in self._compound_hits(words):
            found.setdefault((hit.term, hit.word), hit)
        return sorted(found.values(), key=lambda hit: (hit.word, hit.term))

    def _compound_hits(self, words: Words) -> Iterable[Hit]:
        # A plain term T matches a group when T starts with one of its hyphenated parts and
        # the rest of T occurs inside the shared final word: førtidspension ~ "Førtids- og seniorpension".
        for parts, final, first in suspended_compounds(words):
            covered = len(parts) + 2
            for part in parts:
                low = bisect_left(self._plain_keys, part)
                high = bisect_right(self._plain_keys, part + "\uffff")
                for position in range(low, high):
                    rest = self._plain_keys[position][len(part) :]
                    if rest and rest in final:
                        yield Hit(self._plain_index[position], first, covered)


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


def make_snippet(words: Words, hits: Sequence[Hit]) -> Snippet:
    """A window of words around the first hit; every hit inside it is highlighted."""
    if not words.spans:
        return Snippet("", ())
    first = min(hit.word for hit in hits) if hits else 0
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
    highlights: list[tuple[int, int]] = []
    for hit in sorted(hits, key=lambda h: h.word):
        last = hit.word + hit.length - 1
        if hit.word in starts and last in starts:
            span = (starts[hit.word], starts[last] + len(words.original_text(last)))
            if not highlights or span[0] >= highlights[-1][1]:
                highlights.append(span)
    return Snippet("".join(pieces), tuple(highlights))


# --- watchlists -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemText:
    """What a watchlist is matched against: one version of one item and where it was decided."""

    kommune: str
    committee: str
    case_number: str | None
    title: str
    sections: tuple[tuple[str, str], ...]
    added: tuple[tuple[str, str], ...] | None = None  # for a change: the text it added, per section


@dataclass(frozen=True)
class WatchlistMatch:
    slug: str
    terms: tuple[str, ...]  # the watchlist's terms that matched, as written
    snippet: Snippet
    by_case: bool = False


TITLE = "Titel"


@dataclass(frozen=True)
class _Compiled:
    watchlist: Watchlist
    engine: int
    terms: tuple[int, ...]
    all: tuple[int, ...]
    exclude: tuple[int, ...]
    cases: frozenset[str]


Segments = list[tuple[str, Words, list[Hit]]]  # heading, its words, the hits in them


class _Search:
    """The hits of one item, searched once per engine and kept for every watchlist."""

    def __init__(self, engines: tuple[Engine, Engine], item: ItemText) -> None:
        self._engines, self._item = engines, item
        self._done: dict[tuple[int, bool], Segments] = {}

    def segments(self, engine: int, added: bool = False) -> Segments:
        if (engine, added) not in self._done:
            source = (self._item.added or ()) if added else ((TITLE, self._item.title), *self._item.sections)
            found = []
            for heading, text in source:
                words = self._engines[engine].words(text)
                found.append((heading, words, self._engines[engine].search(words)))
            self._done[engine, added] = found
        return self._done[engine, added]


class Matcher:
    """All watchlists compiled together: one engine (two with ``fold_aa``) for every term."""

    def __init__(self, watchlists: Sequence[Watchlist]) -> None:
        self._ids: tuple[dict[str, int], dict[str, int]] = ({}, {})
        self._terms: tuple[list[Term], list[Term]] = ([], [])
        self._compiled = tuple(self._compile(watchlist) for watchlist in watchlists)
        self._engines = (Engine(self._terms[0]), Engine(self._terms[1], fold_aa=True))

    def _compile(self, watchlist: Watchlist) -> _Compiled:
        engine = int(watchlist.fold_aa)

        def ids(clause: Literal["terms", "all", "exclude"]) -> tuple[int, ...]:
            table, terms = self._ids[engine], self._terms[engine]
            for term in watchlist.parsed(clause):
                if term.raw not in table:
                    table[term.raw] = len(terms)
                    terms.append(term)
            return tuple(table[raw] for raw in getattr(watchlist, clause))

        cases = frozenset(" ".join(case.split()) for case in watchlist.cases)
        return _Compiled(watchlist, engine, ids("terms"), ids("all"), ids("exclude"), cases)

    @property
    def watchlists(self) -> tuple[Watchlist, ...]:
        return tuple(c.watchlist for c in self._compiled)

    def match(self, item: ItemText) -> list[WatchlistMatch]:
        """Every watchlist the item matches, with the terms found and a snippet."""
        search = _Search(self._engines, item)
        results = (_evaluate(compiled, item, search) for compiled in self._compiled)
        return [result for result in results if result is not None]


def _evaluate(compiled: _Compiled, item: ItemText, search: _Search) -> WatchlistMatch | None:
    watchlist = compiled.watchlist
    if watchlist.kommuner and item.kommune.casefold() not in {k.casefold() for k in watchlist.kommuner}:
        return None
    full = search.segments(compiled.engine)
    if item.case_number and " ".join(item.case_number.split()) in compiled.cases:
        return WatchlistMatch(watchlist.slug, (), _opening(full), by_case=True)
    committee = item.committee.casefold()
    if watchlist.committees and not any(c.casefold() in committee for c in watchlist.committees):
        return None
    if _found(full) & set(compiled.exclude):
        return None
    allowed = _within(full, watchlist.sections)
    if not set(compiled.all) <= _found(allowed):
        return None
    term_text = allowed
    if watchlist.only_new_text and item.added is not None:
        term_text = _within(search.segments(compiled.engine, added=True), watchlist.sections)
    found_terms = _found(term_text) & set(compiled.terms)
    if compiled.terms and not found_terms:
        return None
    raws = [raw for raw, term in zip(watchlist.terms, compiled.terms, strict=True) if term in found_terms]
    raws += list(watchlist.all)
    shown = found_terms | set(compiled.all)
    # The snippet shows the first hit in the item's text; the title is shown anyway.
    segments = term_text if compiled.terms else allowed
    for _, words, hits in sorted(segments, key=lambda segment: segment[0] == TITLE):
        relevant = [hit for hit in hits if hit.term in shown]
        if relevant:
            return WatchlistMatch(watchlist.slug, tuple(dict.fromkeys(raws)), make_snippet(words, relevant))
    return None


def _found(segments: Segments) -> set[int]:
    return {hit.term for _, _, hits in segments for hit in hits}


def _within(segments: Segments, filters: tuple[str, ...]) -> Segments:
    return [segment for segment in segments if _section_allowed(filters, segment[0])]


def _opening(segments: Segments) -> Snippet:
    """The first words of the item's first section (the title if it has none): for case matches."""
    body = [words for heading, words, _ in segments if heading != TITLE and words.spans]
    return make_snippet(body[0] if body else segments[0][1], [])


def _section_allowed(filters: tuple[str, ...], heading: str) -> bool:
    """``Beslutning`` selects decision sections, ``Titel`` the title; others match by prefix."""
    if not filters:
        return True
    folded = heading.casefold()
    for wanted in (f.casefold().strip() for f in filters):
        if wanted == "beslutning" and is_decision_heading(heading):
            return True
        if (wanted == "titel" and heading == TITLE) or (wanted != "beslutning" and folded.startswith(wanted)):
            return True
    return False
