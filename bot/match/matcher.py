"""Watchlists against items: which watchlists an item (or a change to it) matches, with the
snippet each shows; the terms are found by :class:`bot.match.automaton.Engine`, one per ``fold_aa``
setting, shared by every watchlist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.match.automaton import Engine
from bot.match.query import Hit, Term, Words
from bot.match.snippet import Snippet, make_snippet
from bot.match.watchlists import Watchlist
from bot.parse.minutes import collapse
from bot.parse.sections import is_decision_heading, section_kind

# --- watchlists -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentText:
    """The text of one of the item's attachments, for watchlists with ``attachments = true``."""

    name: str
    url: str | None
    text: str
    new: bool = False  # added or changed by the change being matched: new text for only_new_text


@dataclass(frozen=True)
class ItemText:
    """What a watchlist is matched against: one version of one item and where it was decided."""

    kommune: str
    committee: str
    case_number: str | None
    title: str
    sections: tuple[tuple[str, str], ...]
    added: tuple[tuple[str, str], ...] | None = None  # for a change: the text it added, per section
    attachments: tuple[AttachmentText, ...] = ()
    outcome: str | None = None  # the outcome of the item's own decision (bot.outcomes); None without one


@dataclass(frozen=True)
class WatchlistMatch:
    slug: str
    terms: tuple[str, ...]  # the watchlist's terms that matched, as written
    snippet: Snippet
    by_case: bool = False
    attachment: tuple[str, str | None] | None = None  # (name, url) of the attachment the snippet is from


TITLE = "Titel"
_BILAG = "\x00bilag "  # heading of an attachment's segment, then its index: never a real heading


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
        self._bilag: dict[int, Segments] = {}

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

    def attachment_segments(self, engine: int) -> Segments:
        """The item's attachments, each a segment headed ``_BILAG`` and its index."""
        if engine not in self._bilag:
            found = []
            for index, attachment in enumerate(self._item.attachments):
                words = self._engines[engine].words(attachment.text)
                found.append((f"{_BILAG}{index}", words, self._engines[engine].search(words)))
            self._bilag[engine] = found
        return self._bilag[engine]


class Matcher:
    """All watchlists compiled together: one engine (two with ``fold_aa``) for every term.

    An item typically contains the terms of a few watchlists out of thousands, so an index
    from each term to the watchlists that cannot match without it picks the few to evaluate.
    """

    def __init__(self, watchlists: Sequence[Watchlist]) -> None:
        self._ids: tuple[dict[str, int], dict[str, int]] = ({}, {})
        self._terms: tuple[list[Term], list[Term]] = ([], [])
        self._compiled = tuple(self._compile(watchlist) for watchlist in watchlists)
        self._engines = (Engine(self._terms[0]), Engine(self._terms[1], fold_aa=True))
        # Per engine (term ids are the engine's own). A watchlist needs one of its ``terms`` in
        # the item, or, without terms, every one of ``all``: exclude and the filters only reject.
        self._by_term: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})
        self._by_case: dict[str, list[int]] = {}
        self._new_text: list[int] = []  # a term in the added text can be missing from the whole
        for position, compiled in enumerate(self._compiled):
            for term in compiled.terms or compiled.all:
                self._by_term[compiled.engine].setdefault(term, []).append(position)
            for case in compiled.cases:
                self._by_case.setdefault(case, []).append(position)
            if compiled.watchlist.only_new_text:
                self._new_text.append(position)
        self._attachments = any(compiled.watchlist.attachments for compiled in self._compiled)

    @property
    def wants_attachments(self) -> bool:
        """Whether a watchlist searches attachments: only then need their texts be read."""
        return self._attachments

    def _compile(self, watchlist: Watchlist) -> _Compiled:
        engine = int(watchlist.fold_aa)

        def ids(clause: Literal["terms", "all", "exclude"]) -> tuple[int, ...]:
            table, terms = self._ids[engine], self._terms[engine]
            for term in watchlist.parsed(clause):
                if term.raw not in table:
                    table[term.raw] = len(terms)
                    terms.append(term)
            return tuple(table[raw] for raw in getattr(watchlist, clause))

        cases = frozenset(collapse(case) for case in watchlist.cases)
        return _Compiled(watchlist, engine, ids("terms"), ids("all"), ids("exclude"), cases)

    @property
    def watchlists(self) -> tuple[Watchlist, ...]:
        return tuple(c.watchlist for c in self._compiled)

    def match(self, item: ItemText) -> list[WatchlistMatch]:
        """Every watchlist the item matches, with the terms found and a snippet."""
        search = _Search(self._engines, item)
        results = (_evaluate(self._compiled[position], item, search) for position in self._candidates(item, search))
        return [result for result in results if result is not None]

    def _candidates(self, item: ItemText, search: _Search) -> list[int]:
        """The watchlists that might match the item, in their order; every other one would not."""
        positions: set[int] = set()
        for engine, index in enumerate(self._by_term):
            if index:  # no fold_aa watchlist: the second engine never reads the item
                for term in _found(search.segments(engine)):
                    positions.update(index.get(term, ()))
                if self._attachments and item.attachments:
                    for term in _found(search.attachment_segments(engine)):
                        positions.update(index.get(term, ()))
        if item.case_number:
            positions.update(self._by_case.get(collapse(item.case_number), ()))
        if item.added is not None:
            positions.update(self._new_text)
        return sorted(positions)


def _evaluate(compiled: _Compiled, item: ItemText, search: _Search) -> WatchlistMatch | None:
    watchlist = compiled.watchlist
    if watchlist.kommuner and item.kommune.casefold() not in {k.casefold() for k in watchlist.kommuner}:
        return None
    if watchlist.outcomes and item.outcome not in watchlist.outcomes:  # no decision yet: no outcome to match
        return None
    full = search.segments(compiled.engine)
    if item.case_number and collapse(item.case_number) in compiled.cases:
        return WatchlistMatch(watchlist.slug, (), _opening(full), by_case=True)
    committee = item.committee.casefold()
    if watchlist.committees and not any(c.casefold() in committee for c in watchlist.committees):
        return None
    if _found(full) & set(compiled.exclude):  # the item's own text: an attachment's words do not exclude it
        return None
    # Attachments are searched besides the sections chosen, not filtered by them
    bilag = search.attachment_segments(compiled.engine) if watchlist.attachments else []
    allowed = _within(full, watchlist.sections) + bilag
    if not set(compiled.all) <= _found(allowed):
        return None
    term_text = allowed
    if watchlist.only_new_text and item.added is not None:
        # ``bilag`` is empty when this watchlist does not search attachments (another one may)
        pairs = zip(bilag, item.attachments, strict=True) if bilag else ()
        new_bilag = [segment for segment, attachment in pairs if attachment.new]
        term_text = _within(search.segments(compiled.engine, added=True), watchlist.sections) + new_bilag
    found_terms = _found(term_text) & set(compiled.terms)
    if compiled.terms and not found_terms:
        return None
    raws = [raw for raw, term in zip(watchlist.terms, compiled.terms, strict=True) if term in found_terms]
    raws += list(watchlist.all)
    shown = found_terms | set(compiled.all)
    # The snippet shows the first hit in the item's text, else in its attachments; the title is shown anyway.
    segments = term_text if compiled.terms else allowed
    for heading, words, hits in sorted(segments, key=_snippet_order):
        relevant = [hit for hit in hits if hit.term in shown]
        if relevant:
            terms = search.terms(compiled.engine, {hit.term for hit in relevant})
            snippet = make_snippet(words, relevant, terms)
            found_in = _attachment(item, heading)
            where = (found_in.name, found_in.url) if found_in is not None else None
            return WatchlistMatch(watchlist.slug, tuple(dict.fromkeys(raws)), snippet, attachment=where)
    return None


def _snippet_order(segment: tuple[str, Words, list[Hit]]) -> int:
    heading = segment[0]
    return 2 if heading == TITLE else 1 if heading.startswith(_BILAG) else 0


def _attachment(item: ItemText, heading: str) -> AttachmentText | None:
    """The attachment of a segment's heading; None for the item's own text."""
    return item.attachments[int(heading[len(_BILAG) :])] if heading.startswith(_BILAG) else None


def _found(segments: Segments) -> set[int]:
    return {hit.term for _, _, hits in segments for hit in hits}


def _within(segments: Segments, filters: tuple[str, ...]) -> Segments:
    return [segment for segment in segments if _section_allowed(filters, segment[0])]


def _opening(segments: Segments) -> Snippet:
    """The first words of the item's first section (the title if it has none): for case matches."""
    body = [words for heading, words, _ in segments if heading != TITLE and words]
    return make_snippet(body[0] if body else segments[0][1], [])


def _section_allowed(filters: tuple[str, ...], heading: str) -> bool:
    """``Beslutning`` selects decision sections, ``Titel`` the title; others match by prefix,
    a Supplerende section also as the one it supplements ("Indstilling": "Supplerende indstilling")."""
    if not filters:
        return True
    names = (heading.casefold(), section_kind(heading))
    for wanted in (f.casefold().strip() for f in filters):
        if wanted == "beslutning" and is_decision_heading(heading):
            return True
        if wanted == "titel" and heading == TITLE:
            return True
        if wanted != "beslutning" and any(name.startswith(wanted) for name in names):
            return True
    return False
