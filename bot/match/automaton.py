"""The matching engine: every term of every watchlist in one Aho-Corasick automaton.

The automaton (ahocorasick-rs, native code) runs once over a text's case-folded characters with
every character outside a word blanked (:attr:`bot.match.query.Words.scan`), with a blank in front of
every key that must start a word, so one pass finds every candidate whatever the number of
terms and no Python code runs per word; the word, phrase and case rules of :mod:`bot.match.query` are
then checked on the few hits that need it, by a loop over the hits that runs in C where pip built
``_scan.c`` (:func:`scan_hits_python` is the same loop in Python). Suspended compounds
("Førtids- og seniorpension") are found by a regex and looked up in a sorted list of the plain terms.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, NamedTuple, TypeVar

from ahocorasick_rs import AhoCorasick, BytesAhoCorasick

from bot.match.query import (
    Hit,
    Term,
    Words,
    acronym_marked,
    is_acronym,
    phrase_at,
    suspended_compounds,
    word_matches,
)

_MIN_SHARED_TAIL = 3
_CHUNK = 1 << 16  # characters searched at once: "*aa" in a 10 MB "aaaa…" held 1.5 GB of hits


class _Key(NamedTuple):
    """What a hit of one automaton key means."""

    infix: bool  # the key may start inside a word (else it starts with the blank before one)
    proven: tuple[int, ...]  # one-word prefix and infix terms: the hit proves them
    checked: tuple[int, ...]  # whole words and acronyms: the word needs a check
    phrases: tuple[tuple[int, int], ...]  # (term, position of the key word in it)


@dataclass
class _Meanings:
    """A key's terms while the engine is built (frozen into a :class:`_Key`)."""

    proven: list[int] = field(default_factory=list)
    checked: list[int] = field(default_factory=list)
    phrases: list[tuple[int, int]] = field(default_factory=list)


M = TypeVar("M")


def _latin1(keys: list[str]) -> list[bytes] | None:
    """The keys in Latin-1, if they all are; one encode in C (a key is words and blanks, never "\\0")."""
    try:
        return "\0".join(keys).encode("latin-1").split(b"\0")
    except UnicodeEncodeError:
        return None


class _Automaton(Generic[M]):
    """Keys and what each means, searched in chunks: a chunk's hits are held, never a text's."""

    def __init__(self, keys: dict[str, M], latin1: bool = False) -> None:
        self.keys = tuple(keys.values())
        # With ``latin1``, a Latin-1 text is searched as bytes, one per character: the same offsets
        # and the same hits, without the UTF-8 copy and offset mapping a str search makes (a tenth
        # of the engine's time). The str automaton is then built only once a text needs it.
        encoded = _latin1(list(keys)) if latin1 and keys else None
        self._bytes = BytesAhoCorasick(encoded) if encoded is not None else None
        self._patterns = list(keys)
        self._text: AhoCorasick | None = None if self._bytes is not None or not keys else AhoCorasick(self._patterns)
        # Consecutive chunks overlap by a key's length less one: every occurrence lies whole in one.
        self._overlap = max(map(len, keys), default=1) - 1

    def hits(self, text: str, data: bytes | None = None) -> Iterator[tuple[int, list[tuple[int, int, int]]]]:
        """Per chunk of ``text`` (or of ``data``, the same text in Latin-1): its offset, and (key,
        start, end) of every occurrence of every key in it, relative to the offset, in order of
        their ends. An occurrence in the overlap of two chunks is reported by both."""
        if data is not None and self._bytes is not None:
            for offset in range(0, len(data), _CHUNK):
                part = data[offset : offset + _CHUNK + self._overlap]
                yield offset, self._bytes.find_matches_as_indexes(part, overlapping=True)
        elif self._patterns:
            if self._text is None:
                self._text = AhoCorasick(self._patterns)
            for offset in range(0, len(text), _CHUNK):
                chunk = text[offset : offset + _CHUNK + self._overlap]
                yield offset, self._text.find_matches_as_indexes(chunk, overlapping=True)

    def found(self, text: str) -> set[int]:
        """The keys that occur in ``text``; one call without a generator for a short text (a word)."""
        if self._text is not None and len(text) <= _CHUNK:
            return {key for key, _, _ in self._text.find_matches_as_indexes(text, overlapping=True)}
        return {key for _, hits in self.hits(text) for key, _, _ in hits}


def scan_hits_python(
    hits: list[tuple[int, int, int]],
    offset: int,
    keys: Sequence[_Key],
    settled: set[int],
    found: dict[int, int],
    scan: str,
    check: Callable[[int, int], bool],
) -> None:
    """Record what a chunk's hits (key, start, end; starts relative to ``offset``) prove in ``found``
    (term: where the word of its first hit starts) and hand each hit that needs a word check to
    ``check(key, start)``, until it says the key's terms are all found; such keys join ``settled``,
    whose hits change nothing. What ``bot.match._scan`` does in C where it was built, step for step."""
    seen: set[int] = set()  # keys hit before in this chunk: only a key's first hit proves terms
    for key, start, _ in hits:
        if key in settled:
            continue
        start += offset
        if key not in seen:
            seen.add(key)
            infix, proven, checked, phrases = keys[key]
            if proven:
                at = scan.rfind(" ", 0, start) + 1 if infix else start + 1
                for index in proven:
                    found.setdefault(index, at)
            if not (checked or phrases):
                settled.add(key)
                continue
        if check(key, start):
            settled.add(key)


try:  # built from source by pip where a C compiler is found (pyproject.toml); else the same in Python
    from bot.match._scan import scan_hits
except ImportError:  # no C compiler at install time
    scan_hits = scan_hits_python


def _add_acronym(table: dict[str, _Meanings], index: int, term: Term, anchor: int) -> None:
    """The keys of a term whose word ``anchor`` is an acronym. Acronyms are searched in their own
    case (" KL" never fires at "klima") with every other letter spelt "a" (:attr:`Words.acronym_scan`):
    " KL " is the word alone, which proves it, and " KLa" the word with an ending ("KLs"), which a
    check proves; neither key of "ME" fires at "MED", where a check would fail at every occurrence."""
    word = term.words[anchor]
    marked = f" {acronym_marked(word.text)}"
    alone = table.setdefault(f"{marked} ", _Meanings())
    if len(term.words) > 1:
        alone.phrases.append((index, anchor))
        table.setdefault(f"{marked}a", _Meanings()).phrases.append((index, anchor))
        return
    # An acronym with a letter of no case ("Kא") is spelt the same as others ("Kב"): checked.
    (alone.proven if marked == f" {word.text}" else alone.checked).append(index)
    if word.kind == "acronym":
        table.setdefault(f"{marked}a", _Meanings()).checked.append(index)


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
            if is_acronym(word.text):
                _add_acronym(keys[1], index, term, anchor)
                continue
            key = word.text if word.kind == "infix" else f" {word.text}"
            if len(term.words) > 1:
                keys[0].setdefault(key, _Meanings()).phrases.append((index, anchor))
            elif word.kind in ("prefix", "infix"):
                keys[0].setdefault(key, _Meanings()).proven.append(index)
            else:  # a blank ends every word of the scanned text, so " bil " proves the whole word
                keys[0].setdefault(f"{key} ", _Meanings()).proven.append(index)
        self._folded, self._cased = (
            _Automaton(
                {
                    key: _Key(not key.startswith(" "), tuple(m.proven), tuple(m.checked), tuple(m.phrases))
                    for key, m in table.items()
                },
                latin1=True,
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
        self._scan(self._folded, words.scan, words.scan_bytes, words, found)
        if self._cased.keys:
            self._scan(self._cased, words.acronym_scan, words.acronym_scan_bytes, words, found)
        covered: dict[int, int] = {}  # a suspended-compound hit covers the whole group
        for hit in self._compound_hits(words) if self._plain_keys else ():
            if hit.term not in found or hit.at < found[hit.term]:
                found[hit.term], covered[hit.term] = hit.at, hit.length
        lengths = self._lengths
        # tuple.__new__ skips the NamedTuple's Python-level constructor: a search at 10,000 terms
        # makes ~25 Hits per text, and the constructor was a sixth of its time.
        return [
            tuple.__new__(Hit, (term, at, covered.get(term) or lengths[term]))
            for at, term in sorted(zip(found.values(), found, strict=True))
        ]

    def _scan(
        self, automaton: _Automaton[_Key], text: str, data: bytes | None, words: Words, found: dict[int, int]
    ) -> None:
        settled: set[int] = set()  # keys whose terms are all found: their later hits change nothing
        # A partial, not a closure: the loop calls it for every hit that needs a check.
        check = partial(self._check, automaton.keys, words, found)
        for offset, hits in automaton.hits(text, data):
            scan_hits(hits, offset, automaton.keys, settled, found, words.scan, check)

    def _check(self, keys: Sequence[_Key], words: Words, found: dict[int, int], key: int, hit: int) -> bool:
        """Record the terms of a checked or phrase key that match at the word of its hit at ``hit``;
        whether all of them are found now."""
        infix, _, checked, phrases = keys[key]
        start = words.word_start(hit) if infix else hit + 1
        done = True
        for index in checked:
            # An acronym may already be found standing alone (" KL "), perhaps later in the text.
            if found.get(index, start + 1) > start:
                if word_matches(self.terms[index].words[0], words, start, words.word_end(start)):
                    found[index] = start
                else:
                    done = False
        for index, anchor in phrases:
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
                for key in tails.found(final[1:]):
                    terms.update(tails.keys[key])
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
