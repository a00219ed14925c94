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
from typing import Literal, NamedTuple

import ahocorasick

from bot.query import Term, Words, is_acronym, phrase_matches, suspended_compounds, word_matches, words_of
from bot.sections import is_decision_heading
from bot.watchlists import Watchlist

_MIN_SHARED_TAIL = 3


class Hit(NamedTuple):
    term: int  # index into the engine's terms
    word: int  # index of the first matched word
    length: int  # number of words covered


class Engine:
    """Finds every occurrence of a fixed set of terms in a text."""

    def __init__(self, terms: Sequence[Term], fold_aa: bool = False) -> None:
        self.terms = tuple(terms)
        self.fold_aa = fold_aa
        proven: dict[str, list[int]] = {}  # one-word prefix and infix terms: the automaton proves them
        checked: dict[str, list[int]] = {}  # whole words and acronyms: the word needs a check
        # A phrase is found through its longest word (the rarest, usually: "kontanthjælpssystem",
        # not "nyt"), then checked around each place that word occurs.
        self._phrases: dict[str, list[tuple[int, int]]] = {}  # key → (term, position of the key word)
        self._lengths = tuple(len(term.words) for term in self.terms)
        cased: set[str] = set()
        for index, term in enumerate(self.terms):
            anchor = max(
                range(len(term.words)), key=lambda at: (term.words[at].kind != "infix", len(term.words[at].text))
            )
            word = term.words[anchor]
            if is_acronym(word.text):
                key = f" {word.text}"  # acronyms are searched in the original case: " KL" never fires at "klima"
                cased.add(key)
            else:
                key = word.text.lower() if word.kind == "infix" else f" {word.text.lower()}"
            if len(term.words) > 1:
                self._phrases.setdefault(key, []).append((index, anchor))
            else:
                (proven if word.kind in ("prefix", "infix") else checked).setdefault(key, []).append(index)
        self._folded, self._cased = ahocorasick.Automaton(), ahocorasick.Automaton()
        for key in proven.keys() | checked.keys() | self._phrases.keys():
            offset = len(key) - 1 - int(key.startswith(" "))  # from the key's last letter to its word's start
            # Most keys only prove terms: they carry no ``rest``, the fast path of :meth:`_scan`.
            rest = (tuple(checked.get(key, ())), key if key in self._phrases else None)
            value = (offset, tuple(proven.get(key, ())), rest if rest != ((), None) else None)
            (self._cased if key in cased else self._folded).add_word(key, value)
        for automaton in (self._folded, self._cased):
            if len(automaton):
                automaton.make_automaton()
        plain = sorted((term.key, index) for index, term in enumerate(self.terms) if term.is_plain_word)
        self._plain_keys = [key for key, _ in plain]
        self._plain_index = [index for _, index in plain]
        self._tails: dict[str, ahocorasick.Automaton | None] = {}

    def words(self, text: str) -> Words:
        return words_of(text, self.fold_aa)

    def search(self, words: Words) -> list[Hit]:
        """The first hit of every term found in the text, in order of position.

        The automaton runs over the text's distinct words only (each once, in order of first
        occurrence), so its cost follows the vocabulary of a document, not its repetitions;
        phrases are then checked at the places their first word occurs. Only the first hit of
        a term counts: whether a term is in an item decides a match, and a snippet finds the
        other occurrences in its own window (:func:`make_snippet`).
        """
        if not self.terms or not words.folded:
            return []
        occurrences: dict[str, list[int]] = {}
        for index, original in enumerate(words.original):
            occurrences.setdefault(original, []).append(index)
        distinct = list(occurrences)
        at = [occurrences[original] for original in distinct]
        found: dict[int, int] = {}  # term → the word of its first hit
        folded = [words.folded[places[0]] for places in at]
        self._scan(self._folded, folded, at, words, found)
        if len(self._cased):
            self._scan(self._cased, distinct, at, words, found)
        covered: dict[int, int] = {}  # a suspended-compound hit covers the whole group
        for hit in self._compound_hits(words):
            if hit.term not in found or hit.word < found[hit.term]:
                found[hit.term], covered[hit.term] = hit.word, hit.length
        hits = [Hit(term, word, covered.get(term) or self._lengths[term]) for term, word in found.items()]
        return sorted(hits, key=lambda hit: (hit.word, hit.term))

    def _scan(
        self,
        automaton: ahocorasick.Automaton,
        forms: list[str],
        at: list[list[int]],
        words: Words,
        found: dict[int, int],
    ) -> None:
        """Run one automaton over the distinct words (in ``forms``) and record first hits."""
        if not len(automaton):
            return
        starts: list[int] = []
        position = 1
        for form in forms:
            starts.append(position)
            position += len(form) + 1
        proven_at: dict[int, int] = {}  # a proven term → where its first distinct word starts
        for end, (offset, proven, rest) in automaton.iter(" " + " ".join(forms)):
            # Distinct words come in order of first occurrence: a later one is a later hit.
            for index in proven:
                proven_at.setdefault(index, end - offset)
            if rest is not None:
                checked, phrases = rest
                places = at[bisect_right(starts, end - offset) - 1]
                for index in checked:
                    if index not in found and self._word_matches(index, words, places[0]):
                        found[index] = places[0]
                if phrases is not None:
                    self._phrase_hits(self._phrases[phrases], words, places, found)
        for index, start in proven_at.items():
            found[index] = at[bisect_right(starts, start) - 1][0]

    def _word_matches(self, index: int, words: Words, place: int) -> bool:
        return word_matches(self.terms[index].words[0], words.original[place], words.folded[place])

    def _phrase_hits(
        self, phrases: list[tuple[int, int]], words: Words, places: list[int], found: dict[int, int]
    ) -> None:
        for index, anchor in phrases:
            limit = found.get(index, len(words.folded))
            for place in places:
                start = place - anchor
                if start >= limit:
                    break
                if start >= 0 and phrase_matches(self.terms[index], words, start):
                    found[index] = start
                    break

    def _compound_hits(self, words: Words) -> Iterable[Hit]:
        # A plain term T matches a group when T starts with one of its hyphenated parts and the
        # rest of T (three letters or more) occurs inside the shared final word, after its start:
        # førtidspension ~ "Førtids- og seniorpension", but not sociale ~ "Social- og Sundhedsudvalget"
        # nor børneskole ~ "Børne- og Skoleudvalget" (the shared tail there is "udvalget").
        for parts, final, first in suspended_compounds(words):
            covered = len(parts) + 2
            for part in parts:
                tails = self._tails_of(part)
                if tails is not None:
                    for _, indexes in tails.iter(final[1:]):
                        for index in indexes:
                            yield Hit(index, first, covered)

    def _tails_of(self, part: str) -> ahocorasick.Automaton | None:
        """An automaton of the rests of the plain terms that start with ``part`` (built once)."""
        if part not in self._tails:
            low = bisect_left(self._plain_keys, part)
            high = bisect_right(self._plain_keys, part + "\uffff")
            rests: dict[str, list[int]] = {}
            for position in range(low, high):
                rest = self._plain_keys[position][len(part) :]
                if len(rest) >= _MIN_SHARED_TAIL:
                    rests.setdefault(rest, []).append(self._plain_index[position])
            automaton = None
            if rests:
                automaton = ahocorasick.Automaton()
                for rest, indexes in rests.items():
                    automaton.add_word(rest, tuple(indexes))
                automaton.make_automaton()
            self._tails[part] = automaton
        return self._tails[part]


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
    covered = [(hit.word, hit.word + hit.length - 1) for hit in hits]
    covered += [
        (index, index + len(term.words) - 1)
        for index in range(low, high)
        for term in terms
        if phrase_matches(term, words, index)
    ]
    highlights: list[tuple[int, int]] = []
    for start_word, last in sorted(set(covered)):
        if start_word in starts and last in starts:
            span = (starts[start_word], starts[last] + len(words.original_text(last)))
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

    def terms(self, engine: int, ids: Iterable[int]) -> list[Term]:
        return [self._engines[engine].terms[index] for index in sorted(ids)]

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
            terms = search.terms(compiled.engine, {hit.term for hit in relevant})
            return WatchlistMatch(watchlist.slug, tuple(dict.fromkeys(raws)), make_snippet(words, relevant, terms))
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
