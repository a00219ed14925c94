"""The matching engine: every term of every watchlist in one Aho-Corasick automaton.

The automaton (ahocorasick-rs, native code) runs once over a text's case-folded characters with
every character outside a word blanked (:attr:`bot.query.Words.scan`), with a blank in front of
every key that must start a word, so one pass finds every candidate whatever the number of
terms and no Python code runs per word; the word, phrase and case rules of :mod:`bot.query` are
then checked on the few hits that need it. Suspended compounds ("Førtids- og seniorpension") are
found by a regex and looked up in a sorted list of the plain terms.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, NamedTuple, TypeVar

from ahocorasick_rs import AhoCorasick

from bot.query import Hit, Term, Words, is_acronym, phrase_at, suspended_compounds, word_matches
from bot.sections import is_decision_heading, section_kind
from bot.snippet import Snippet, make_snippet
from bot.watchlists import Watchlist

_MIN_SHARED_TAIL = 3
_CHUNK = 1 << 16  # characters searched at once: "*aa" in a 10 MB "aaaa…" held 1.5 GB of hits


class _Key(NamedTuple):
    """What a hit of one automaton key means."""

    infix: bool  # the key may start inside a word (else it starts with the blank before one)
    proven: tuple[int, ...]  # one-word prefix and infix terms: the hit proves them
    checked: tuple[int, ...]  # whole words and acronyms: the word needs a check
    phrases: tuple[tuple[int, int], ...]  # (term, position of the key word in it)

    def word_of(self, words: Words, start: int) -> int:
        """Where the word of a hit that starts at ``start`` starts."""
        return words.word_start(start) if self.infix else start + 1


@dataclass
class _Meanings:
    """A key's terms while the engine is built (frozen into a :class:`_Key`)."""

    proven: list[int] = field(default_factory=list)
    checked: list[int] = field(default_factory=list)
    phrases: list[tuple[int, int]] = field(default_factory=list)


M = TypeVar("M")


class _Automaton(Generic[M]):
    """Keys and what each means, searched in chunks: a chunk's hits are held, never a text's."""

    def __init__(self, keys: dict[str, M]) -> None:
        self.keys = tuple(keys.values())
        self._automaton = AhoCorasick(list(keys)) if keys else None
        # Consecutive chunks overlap by a key's length less one: every occurrence lies whole in one.
        self._overlap = max(map(len, keys), default=1) - 1

    def hits(self, text: str) -> Iterator[tuple[int, list[tuple[int, int, int]]]]:
        """Per chunk of ``text``: its offset, and (key, start, end) of every occurrence of every key
        in it, relative to the offset, in order of their ends. An occurrence in the overlap of two
        chunks is reported by both."""
        if self._automaton is not None:
            for offset in range(0, len(text), _CHUNK):
                chunk = text[offset : offset + _CHUNK + self._overlap]
                yield offset, self._automaton.find_matches_as_indexes(chunk, overlapping=True)


class Engine:
    """Finds every occurrence of a fixed set of terms in a text."""

    def __init__(self, terms: Sequence[Term], fold_aa: bool = False) -> None:
        self.terms = tuple(terms)
        self.fold_aa = fold_aa
        self._lengths = tuple(len(term.words) for term in self.terms)
        keys: tuple[dict[str, _Meanings], dict[str, _Meanings]] = ({}, {})
        for index, term in enumerate(self.terms):
            # A phrase is found through its longest word (the rarest, usually:
            # "kontanthjælpssystem", not "nyt"), then checked around each place that word occurs.
            anchor = max(
                range(len(term.words)), key=lambda at: (term.words[at].kind != "infix", len(term.words[at].text))
            )
            word = term.words[anchor]
            # Acronyms are searched in the original case: " KL" never fires at "klima".
            table = keys[is_acronym(word.text)]
            key = word.text if word.kind == "infix" else f" {word.text}"
            if len(term.words) > 1:
                table.setdefault(key, _Meanings()).phrases.append((index, anchor))
            elif word.kind in ("prefix", "infix"):
                table.setdefault(key, _Meanings()).proven.append(index)
            else:
                # A blank ends every word of the scanned text, so " bil " proves the whole word;
                # an acronym also stands with endings ("KLs"), which " KL" finds and a check proves.
                table.setdefault(f"{key} ", _Meanings()).proven.append(index)
                if word.kind == "acronym":
                    table.setdefault(key, _Meanings()).checked.append(index)
        self._folded, self._cased = (
            _Automaton(
                {
                    key: _Key(not key.startswith(" "), tuple(m.proven), tuple(m.checked), tuple(m.phrases))
                    for key, m in table.items()
                }
            )
            for table in keys
        )
        plain = sorted((term.key, index) for index, term in enumerate(self.terms) if term.is_plain_word)
        self._plain_keys = [key for key, _ in plain]
        self._plain_index = [index for _, index in plain]
        self._tails: dict[str, _Automaton[tuple[int, ...]] | None] = {}

    def words(self, text: str) -> Words:
        return Words(text, self.fold_aa)

    def search(self, words: Words) -> list[Hit]:
        """The first hit of every term found in the text, in order of position.

        Only the first hit of a term counts: whether a term is in an item decides a match, and
        a snippet finds the other occurrences in its own window (:func:`make_snippet`).
        """
        if not self.terms or not words:
            return []
        found: dict[int, int] = {}  # term → where the word of its first hit starts
        self._scan(self._folded, words.scan, words, found)
        if self._cased.keys:
            self._scan(self._cased, words.cased_scan, words, found)
        covered: dict[int, int] = {}  # a suspended-compound hit covers the whole group
        for hit in self._compound_hits(words):
            if hit.term not in found or hit.at < found[hit.term]:
                found[hit.term], covered[hit.term] = hit.at, hit.length
        lengths = self._lengths
        # tuple.__new__ skips the NamedTuple's Python-level constructor: a search at 10,000 terms
        # makes ~25 Hits per text, and the constructor was a sixth of its time.
        return [
            tuple.__new__(Hit, (term, at, covered.get(term) or lengths[term]))
            for at, term in sorted(zip(found.values(), found, strict=True))
        ]

    def _scan(self, automaton: _Automaton[_Key], text: str, words: Words, found: dict[int, int]) -> None:
        settled: set[int] = set()  # keys whose terms are all found: their later hits change nothing
        for offset, hits in automaton.hits(text):
            # Most keys only prove terms and only their first hit counts: one dict, built in C.
            first = {key: start for key, start, _ in reversed(hits)}
            pending = set()  # keys to check, in order of position, each until all of its terms are found
            for key, start in first.items():
                if key in settled:
                    continue
                meaning = automaton.keys[key]
                for index in meaning.proven:
                    found.setdefault(index, meaning.word_of(words, offset + start))
                if meaning.checked or meaning.phrases:
                    pending.add(key)
                else:
                    settled.add(key)
            for key, start, _ in hits if pending else ():
                if key in pending:
                    meaning = automaton.keys[key]
                    if self._check(meaning, words, meaning.word_of(words, offset + start), found):
                        pending.discard(key)
                        settled.add(key)

    def _check(self, meaning: _Key, words: Words, start: int, found: dict[int, int]) -> bool:
        """Record the terms of a checked or phrase key that match at the word starting at ``start``;
        whether all of them are found now."""
        done = True
        for index in meaning.checked:
            # An acronym may already be found standing alone (" KL "), perhaps later in the text.
            if found.get(index, start + 1) > start:
                if word_matches(self.terms[index].words[0], words, start, words.word_end(start)):
                    found[index] = start
                else:
                    done = False
        for index, anchor in meaning.phrases:
            if index in found:
                continue
            first: int | None = start
            for _ in range(anchor):
                first = words.previous_word(first) if first is not None else None
            if first is not None and phrase_at(self.terms[index], words, first):
                found[index] = first
            else:
                done = False
        return done

    def _compound_hits(self, words: Words) -> Iterable[Hit]:
        # A plain term T matches a group when T starts with one of its hyphenated parts and the
        # rest of T (three letters or more) occurs inside the shared final word, after its start:
        # førtidspension ~ "Førtids- og seniorpension", but not sociale ~ "Social- og Sundhedsudvalget"
        # nor børneskole ~ "Børne- og Skoleudvalget" (the shared tail there is "udvalget").
        # Each distinct part searches the final word once, and a tail counts once however often it
        # occurs there (a search per part and a hit per occurrence made long groups quadratic).
        for parts, final, first in suspended_compounds(words):
            terms: set[int] = set()
            for tails in filter(None, map(self._tails_of, set(parts))):
                keys = {key for _, hits in tails.hits(final[1:]) for key, _, _ in hits}
                terms.update(index for key in keys for index in tails.keys[key])
            yield from (Hit(index, first, len(parts) + 2) for index in sorted(terms))

    def _tails_of(self, part: str) -> _Automaton[tuple[int, ...]] | None:
        """An automaton of the rests of the plain terms that start with ``part`` (built once)."""
        if part not in self._tails:
            low = bisect_left(self._plain_keys, part)
            high = bisect_right(self._plain_keys, part + "\uffff")
            rests: dict[str, list[int]] = {}
            for position in range(low, high):
                rest = self._plain_keys[position][len(part) :]
                if len(rest) >= _MIN_SHARED_TAIL:
                    rests.setdefault(rest, []).append(self._plain_index[position])
            self._tails[part] = _Automaton({rest: tuple(v) for rest, v in rests.items()}) if rests else None
        return self._tails[part]


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

        cases = frozenset(_case_key(case) for case in watchlist.cases)
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
            positions.update(self._by_case.get(_case_key(item.case_number), ()))
        if item.added is not None:
            positions.update(self._new_text)
        return sorted(positions)


def _evaluate(compiled: _Compiled, item: ItemText, search: _Search) -> WatchlistMatch | None:
    watchlist = compiled.watchlist
    if watchlist.kommuner and item.kommune.casefold() not in {k.casefold() for k in watchlist.kommuner}:
        return None
    full = search.segments(compiled.engine)
    if item.case_number and _case_key(item.case_number) in compiled.cases:
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
        new_bilag = [segment for segment, attachment in zip(bilag, item.attachments, strict=True) if attachment.new]
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


def _case_key(case_number: str) -> str:
    return " ".join(case_number.split())


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
