"""The watchlist query language: terms, and the words of a text they are matched against.

A *word* is a run of letters and digits; everything else separates words. Terms:

    kontanthjælp        a word that starts with it (kontanthjælpen, kontanthjælpssystem)
    *ledighed           anywhere inside a word (bruttoledigheden)
    =bil                the whole word only (bil, not bilag)
    IGU, KL             an acronym: case-sensitive, only lower-case letters may follow (KLs, KL's)
    "nyt system"        a phrase: the words in order with only whitespace or markup between

Matching is on case-folded text; acronyms are checked against the original case.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from typing import Literal

TermKind = Literal["prefix", "infix", "whole", "acronym"]

_WORD = re.compile(r"[^\W_]+")
_MIN_PREFIX = 2  # a one-letter prefix would match a large share of all words
# Between the words of a phrase only whitespace and markup may stand (line breaks included).
_MARKUP_GAP = r"[\s*_#~`>|\u00ad]*"
_GAP = re.compile(rf"^{_MARKUP_GAP}$")
_HYPHEN_GAP = re.compile(rf"^{_MARKUP_GAP}-{_MARKUP_GAP}$")
AA_FOLD = str.maketrans({"å": "aa"})


class TermError(ValueError):
    """A term that cannot be matched as written."""


@dataclass(frozen=True)
class Word:
    """One word of a term: how it must match one word of the text."""

    text: str  # case-folded, except for acronyms
    kind: TermKind


@dataclass(frozen=True)
class Term:
    raw: str  # as the user wrote it
    words: tuple[Word, ...]
    hyphens: tuple[bool, ...] = ()  # per gap between words: the term had a hyphen there

    @property
    def key(self) -> str:
        """The first word as the automaton searches it (case-folded, also for acronyms)."""
        return self.words[0].text.lower()

    @property
    def is_plain_word(self) -> bool:
        return len(self.words) == 1 and self.words[0].kind == "prefix"


def parse_term(raw: str, fold_aa: bool = False) -> Term:
    """Parse one term as written in a watchlist; raises :class:`TermError` with the reason."""
    text = unicodedata.normalize("NFC", raw).strip()
    if not text:
        raise TermError("empty term")
    quoted = len(text) >= 2 and text[0] == text[-1] == '"'
    if text.count('"') and not quoted:
        raise TermError(f"{raw!r}: a phrase must be quoted as a whole, e.g. '\"nyt kontanthjælpssystem\"'")
    if quoted:
        text = text[1:-1].strip()
    marker = text[0] if text[:1] in ("*", "=") else ""
    body = text[len(marker) :]
    tokens = list(_WORD.finditer(body))
    if not tokens:
        raise TermError(f"{raw!r}: no letters or digits to match")
    if any(ch in body for ch in "*=") or (marker and len(tokens) > 1):
        raise TermError(f"{raw!r}: '*' and '=' go once, in front of a single word (e.g. '*ledighed', '=bil')")
    if _junk(body, tokens):
        raise TermError(f"{raw!r}: only letters, digits, spaces and hyphens can be matched")
    words = tuple(_word(token.group(), marker, fold_aa) for token in tokens)
    if len(words) == 1 and words[0].kind == "prefix" and len(words[0].text) < _MIN_PREFIX:
        raise TermError(f"{raw!r}: too short to match as a prefix; write '={body}' for the whole word")
    hyphens = tuple("-" in body[a.end() : b.start()] for a, b in zip(tokens, tokens[1:], strict=False))
    return Term(raw=raw, words=words, hyphens=hyphens)


def _junk(body: str, tokens: list[re.Match[str]]) -> bool:
    gaps = [body[: tokens[0].start()], body[tokens[-1].end() :]]
    gaps += [body[a.end() : b.start()] for a, b in zip(tokens, tokens[1:], strict=False)]
    return any(gap.strip(" -'’") for gap in gaps)


def is_acronym(token: str) -> bool:
    """Two or more capital letters: IGU, KL, FGU."""
    return len(token) >= 2 and token.isalpha() and token.isupper()


def _word(token: str, marker: str, fold_aa: bool) -> Word:
    if marker == "*":
        return Word(fold(token, fold_aa), "infix")
    if marker == "=":  # an acronym stays case-sensitive: '=KL' is KL, never kl
        return Word(token if is_acronym(token) else fold(token, fold_aa), "whole")
    if is_acronym(token):
        return Word(token, "acronym")
    return Word(fold(token, fold_aa), "prefix")


def fold(text: str, fold_aa: bool = False) -> str:
    folded = text.lower()
    return folded.translate(AA_FOLD) if fold_aa else folded


# --- the words of a text ---------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """A text's words with their positions, the form every term is matched against."""

    text: str
    original: tuple[str, ...]
    folded: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def original_text(self, index: int) -> str:
        """Word ``index`` exactly as it stands in the text (the folded forms may differ in length)."""
        start, end = self.spans[index]
        return self.text[start:end]

    def gap(self, index: int) -> str:
        """The characters between word ``index`` and the next."""
        return self.text[self.spans[index][1] : self.spans[index + 1][0]]


def words_of(text: str, fold_aa: bool = False) -> Words:
    text = unicodedata.normalize("NFC", text).replace("\u00ad", "")
    matches = list(_WORD.finditer(text))
    original = tuple(m.group() for m in matches)
    return Words(
        text=text,
        original=original,
        folded=tuple(fold(word, fold_aa) for word in original),
        spans=tuple(m.span() for m in matches),
    )


def word_matches(word: Word, original: str, folded: str) -> bool:
    """Whether one word of a term matches one word of the text."""
    if word.kind == "prefix":
        return folded.startswith(word.text)
    if word.kind == "whole":
        return original == word.text if is_acronym(word.text) else folded == word.text
    if word.kind == "infix":
        return word.text in folded
    rest = original[len(word.text) :]
    return original.startswith(word.text) and (not rest or (rest.isalpha() and rest.islower()))


def phrase_matches(term: Term, words: Words, start: int) -> bool:
    """Whether the whole term matches the text's words from word ``start`` on."""
    if start + len(term.words) > len(words.folded):
        return False
    for offset, word in enumerate(term.words):
        index = start + offset
        if not word_matches(word, words.original[index], words.folded[index]):
            return False
        if offset and not _gap_allowed(words.gap(index - 1), term.hyphens[offset - 1]):
            return False
    return True


def _gap_allowed(gap: str, hyphen: bool) -> bool:
    return bool(_GAP.match(gap) or (hyphen and _HYPHEN_GAP.match(gap)))


# --- suspended compounds: "Førtids- og seniorpension" ------------------------------------------

CONJUNCTIONS = frozenset({"og", "eller", "samt"})
# The conjunction after a hyphenated part: "… Miljø- og Teknikudvalget". Searched first, as it
# starts with a literal hyphen (fast), then the parts are collected backwards word by word.
_CONJUNCTION = re.compile(r"-,?\s+(?:og|eller|samt)\s+(?=[^\W_])", re.IGNORECASE)
_PART_GAP = re.compile(r"^-,?\s+$")


def suspended_compounds(words: Words) -> list[tuple[tuple[str, ...], str, int]]:
    """Each group of hyphenated parts sharing the tail of the word after og/eller/samt:
    ``(parts, final word, index of the first part)``, all case-folded."""
    groups = []
    ends: list[int] | None = None
    for found in _CONJUNCTION.finditer(words.text):
        if ends is None:
            ends = [end for _, end in words.spans]
        last = bisect_left(ends, found.start())
        if last >= len(ends) or ends[last] != found.start() or last + 2 >= len(ends):
            continue  # the hyphen does not end a word
        first = last
        while first > 0 and _PART_GAP.match(words.gap(first - 1)):
            first -= 1
        final = last + 2  # past the conjunction
        groups.append((words.folded[first : last + 1], words.folded[final], first))
    return groups
