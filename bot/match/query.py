"""The watchlist query language: terms, and the words of a text they are matched against.

A *word* is a run of letters and digits; everything else separates words. Terms:

    kontanthjælp        a word that starts with it (kontanthjælpen, kontanthjælpssystem)
    kontanthjælp*       the same: a trailing '*' (every search engine's prefix) changes nothing
    *ledighed           anywhere inside a word (bruttoledigheden)
    =bil                the whole word only (bil, not bilag)
    IGU, KL             an acronym: case-sensitive, only lower-case letters may follow (KLs, KL's)
    "nyt system"        a phrase: the words in order with only whitespace or markup between

Matching is on case-folded text; acronyms are checked against the original case.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from typing import Literal, NamedTuple

TermKind = Literal["prefix", "infix", "whole", "acronym"]

_WORD = re.compile(r"[^\W_]+")
_MIN_PREFIX = 2  # a one-letter prefix would match a large share of all words
# Between the words of a phrase only whitespace and markup may stand (line breaks included).
_MARKUP_GAP = r"[\s*_#~`>|\u00ad]*"
_GAP = re.compile(rf"^{_MARKUP_GAP}$")
_HYPHEN_GAP = re.compile(rf"^{_MARKUP_GAP}-{_MARKUP_GAP}$")


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

    @cached_property
    def shape(self) -> re.Pattern[str]:
        """What the term's words look like in :attr:`Words.scan`, blanks between them: every match
        of the term is one of this regex (not the reverse: the gaps and an acronym's case are not
        in it). One C call rejects most places a phrase's anchor word occurs (a few in 1,000 match)."""
        return re.compile(" +".join(_shape(word) for word in self.words))


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
    body = _without_trailing_star(raw, text[len(marker) :], marker)
    tokens = list(_WORD.finditer(body))
    if not tokens:
        raise TermError(f"{raw!r}: no letters or digits to match; write a word, e.g. 'kontanthjælp'")
    if any(ch in body for ch in "*="):
        raise TermError(f"{raw!r}: '*' and '=' go once, in front of a single word (e.g. '*ledighed', '=bil')")
    if marker and len(tokens) > 1:
        phrase = " ".join(token.group() for token in tokens)
        raise TermError(f"{raw!r}: '*' and '=' go once, in front of a single word; a phrase is written '\"{phrase}\"'")
    if _junk(body, tokens):
        plain = " ".join(token.group() for token in tokens)
        raise TermError(
            f"{raw!r}: only letters, digits, spaces and hyphens can be matched; write {plain!r} "
            "(or each word as a term of its own)"
        )
    words = tuple(_word(token.group(), marker, fold_aa) for token in tokens)
    if len(words) == 1 and words[0].kind == "prefix" and len(words[0].text) < _MIN_PREFIX:
        raise TermError(f"{raw!r}: too short to match as a prefix; write '={body}' for the whole word")
    hyphens = tuple("-" in body[a.end() : b.start()] for a, b in zip(tokens, tokens[1:], strict=False))
    return Term(raw=raw, words=words, hyphens=hyphens)


def _without_trailing_star(raw: str, body: str, marker: str) -> str:
    """``word*`` is what ``word`` already means (a word start), so the '*' is dropped; on a
    whole word (``=bil*``) it contradicts the '=' and is refused."""
    if not body.endswith("*") or body.endswith("**"):
        return body
    stripped = body[:-1]
    if marker == "=":
        raise TermError(f"{raw!r}: '=' means the whole word and '*' more after it; write '={stripped}' or '{stripped}'")
    return stripped


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
    cased = _spell_aa(token) if fold_aa else token  # as :attr:`Words.cased` spells the text
    if marker == "=":  # an acronym stays case-sensitive: '=KL' is KL, never kl
        return Word(cased if is_acronym(token) else fold(token, fold_aa), "whole")
    if is_acronym(token):
        return Word(cased, "acronym")
    return Word(fold(token, fold_aa), "prefix")


def _shape(word: Word) -> str:
    text = re.escape(fold(word.text))
    if word.kind == "infix":
        return f"[^ ]*{text}[^ ]*"
    return f"{text} " if word.kind == "whole" else f"{text}[^ ]*"


def fold(text: str, fold_aa: bool = False) -> str:
    """Case-folded as terms and texts are compared; "İ" becomes "i" (Python's lower case of it is
    "i" and a combining dot, which would split the word)."""
    folded = text.replace("\u0130", "i").lower()
    return folded.replace("å", "aa") if fold_aa else folded


# --- the text a term is matched against ------------------------------------------------------

# Every character that is not part of a word becomes a blank: ASCII through a byte table (in C,
# the bulk of it), the rest ("–", "’", no-break space) through a regex that rarely fires.
_ASCII_BLANKS = bytes(c if c >= 0x80 or chr(c).isalnum() else 0x20 for c in range(256))
_OTHER_BLANKS = re.compile(r"[^\x00-\x7f\w]")
_NONBLANK = re.compile(r"[^ ]")


def blanked(text: str) -> str:
    """``text`` with every character outside a word replaced by a blank: same length, same offsets."""
    ascii_done = text.encode("utf-8", "surrogatepass").translate(_ASCII_BLANKS).decode("utf-8", "surrogatepass")
    return _OTHER_BLANKS.sub(" ", ascii_done)


# A letter that is not upper case: what may follow an acronym in its word ("KLs").
_NOT_UPPER = re.compile(r"[^\W\d_A-Z]")


def _acronym_mark(char: str) -> str:
    return "a" if char.isalpha() and not char.isupper() else char


def acronym_marked(text: str) -> str:
    """``text`` with every letter that is not upper case spelt "a": same length, same offsets.
    Acronyms are searched in this spelling (:attr:`Words.acronym_scan`), so the key " KLa" finds
    "KLs" and "KLen" and nothing at "KLX" or "MED" for "ME"."""
    return _NOT_UPPER.sub(lambda found: _acronym_mark(found.group()), text)


# Nearly every text is Latin-1 but for a few dashes and quotes: it is blanked, and folded too, by
# one byte table each (a C loop over bytes: six times the path above on the benchmark corpus).
# Both tables are made by :func:`blanked` and :func:`fold` themselves, a character at a time: both
# act on a Latin-1 character alone (no Latin-1 letter changes length or depends on its neighbours
# in ``lower``). Any other character is encoded as "?", which both tables blank, as :func:`blanked`
# blanks every character outside a word; a text with a word character beyond Latin-1 (Greek,
# "İ") takes the path above.
_LATIN1_BLANKS = "".join(blanked(chr(c)) for c in range(256)).encode("latin-1")
_LATIN1_FOLDED = "".join(fold(blanked(chr(c))) for c in range(256)).encode("latin-1")
_LATIN1_ACRONYMS = "".join(acronym_marked(blanked(chr(c))) for c in range(256)).encode("latin-1")
_WORD_BEYOND_LATIN1 = re.compile(r"[^\W\x00-\xff]")


def _latin1(text: str) -> bytes | None:
    """``text`` as Latin-1 with every other character as "?", or None if one of those is in a word."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return None if _WORD_BEYOND_LATIN1.search(text) else text.encode("latin-1", "replace")


class Words:
    """A text as terms are matched against it.

    Matching works on character offsets in :attr:`scan`: the case-folded text between two blanks,
    with every character outside a word blanked, so a key " kontanthjælp" finds a word start
    and a blank ends every word. :attr:`cased` and :attr:`cased_scan` are the same text at the
    same offsets, for the gaps of phrases and the case of acronyms. Where a word stands in the
    original text (:meth:`text_spans`) is found only for the few words a snippet shows.
    """

    def __init__(self, text: str, fold_aa: bool = False) -> None:
        self.text = unicodedata.normalize("NFC", text).replace("\u00ad", "")
        self.fold_aa = fold_aa

    @cached_property
    def cased(self) -> str:
        """The text in its own case between two blanks (å spelt aa with ``fold_aa``)."""
        return f" {_spell_aa(self.text) if self.fold_aa else self.text} "

    @cached_property
    def _latin1(self) -> bytes | None:
        return _latin1(self.cased)

    def _through(self, table: bytes) -> bytes | None:
        """The text in Latin-1 through a byte table (a byte per character), if it is Latin-1."""
        latin1 = self._latin1
        return None if latin1 is None else latin1.translate(table)

    @cached_property
    def cased_scan_bytes(self) -> bytes | None:
        """:attr:`cased_scan` in Latin-1 (a byte per character, at the same offsets), if it is."""
        return self._through(_LATIN1_BLANKS)

    @cached_property
    def scan_bytes(self) -> bytes | None:
        """:attr:`scan` in Latin-1 (a byte per character, at the same offsets), if it is."""
        return self._through(_LATIN1_FOLDED)

    @cached_property
    def cased_scan(self) -> str:
        """:attr:`cased` with every character outside a word blanked (acronyms are checked here)."""
        data = self.cased_scan_bytes
        return blanked(self.cased) if data is None else data.decode("latin-1")

    @cached_property
    def acronym_scan_bytes(self) -> bytes | None:
        """:attr:`acronym_scan` in Latin-1 (a byte per character, at the same offsets), if it is."""
        return self._through(_LATIN1_ACRONYMS)

    @cached_property
    def acronym_scan(self) -> str:
        """:attr:`cased_scan` with every letter that is not upper case spelt "a" (:func:`acronym_marked`)."""
        data = self.acronym_scan_bytes
        return acronym_marked(self.cased_scan) if data is None else data.decode("latin-1")

    @cached_property
    def scan(self) -> str:
        """:attr:`cased_scan` case-folded, at the same offsets (see :func:`fold`)."""
        data = self.scan_bytes
        return fold(self.cased_scan) if data is None else data.decode("latin-1")

    @cached_property
    def _spelt_aa(self) -> array[int]:
        """Where the "aa" of each "å" of the text starts in :attr:`cased`, less one, in order."""
        places = re.finditer("[åÅ]", self.text) if self.fold_aa else ()
        return array("q", (found.start() + before for before, found in enumerate(places)))

    def __bool__(self) -> bool:
        return not self.scan.isspace()

    def to_text(self, start: int) -> int:
        """Where the word that starts at ``start`` in :attr:`scan` starts in :attr:`text`: one
        character to the left, and one more for each "å" before it that ``fold_aa`` spells "aa"."""
        return start - 1 - bisect_left(self._spelt_aa, start - 1)

    def text_spans(self, start: int, count: int) -> list[tuple[int, int]]:
        """Where ``count`` words from the word at ``start`` in :attr:`scan` stand in :attr:`text`
        (fewer at the end of the text); the folded forms of a word may differ in length."""
        return [found.span() for found in islice(_WORD.finditer(self.text, self.to_text(start)), count)]

    def word_end(self, start: int) -> int:
        return self.scan.index(" ", start)

    def word_start(self, inside: int) -> int:
        """Where the word around offset ``inside`` starts."""
        return self.scan.rfind(" ", 0, inside) + 1

    def next_word(self, end: int) -> int | None:
        found = _NONBLANK.search(self.scan, end)
        return found.start() if found else None

    def previous_word(self, start: int) -> int | None:
        # Back through the gap in doubling slices: C speed, and no further than the gap reaches.
        end, size = start, 64
        while end > 0:
            low = max(0, end - size)
            if kept := len(self.scan[low:end].rstrip(" ")):
                return self.word_start(low + kept)
            end, size = low, size * 2
        return None


def _spell_aa(text: str) -> str:
    return text.replace("å", "aa").replace("Å", "AA")


class Hit(NamedTuple):
    term: int  # index into the engine's terms
    at: int  # where the first matched word starts in :attr:`Words.scan`
    length: int  # number of words covered


def found_text(words: Words, hit: Hit) -> str:
    """The words a hit covers, as they stand in the text."""
    spans = words.text_spans(hit.at, hit.length)
    return words.text[spans[0][0] : spans[-1][1]]


def word_matches(word: Word, words: Words, start: int, end: int) -> bool:
    """Whether one word of a term matches the word of the text at ``start:end`` (in :attr:`Words.scan`)."""
    if word.kind == "prefix":
        return words.scan.startswith(word.text, start)
    if word.kind == "infix":
        return words.scan.find(word.text, start, end) >= 0
    if word.kind == "whole":
        text = words.cased_scan if is_acronym(word.text) else words.scan
        return end - start == len(word.text) and text.startswith(word.text, start)
    rest = words.cased_scan[start + len(word.text) : end]
    return words.cased_scan.startswith(word.text, start) and (not rest or (rest.isalpha() and rest.islower()))


def phrase_at(term: Term, words: Words, start: int) -> bool:
    """Whether the whole term matches the text from the word at ``start`` (in :attr:`Words.scan`) on."""
    if not term.shape.match(words.scan, start):
        return False
    end = start
    for offset, word in enumerate(term.words):
        if offset:
            following = words.next_word(end)
            if following is None or not _gap_allowed(words.cased[end:following], term.hyphens[offset - 1]):
                return False
            start = following
        end = words.word_end(start)
        if not word_matches(word, words, start, end):
            return False
    return True


def occurrences(term: Term, words: Words, start: int, end: int) -> Iterator[int]:
    """Where the term matches the text, as the start of its first word in :attr:`Words.scan`, for
    first words that start in ``start:end`` (``start`` a word start): found with ``str.find``."""
    first = term.words[0]
    text = words.cased_scan if is_acronym(first.text) else words.scan
    infix = first.kind == "infix"
    needle = first.text if infix else f" {first.text}"
    # The finds stop where the last wanted occurrence can end: at the end of the word around
    # ``end - 1`` for an infix needle, else with a needle whose word starts at ``end - 1``.
    limit = words.word_end(end - 1) if infix else end - 2 + len(needle)
    at = text.find(needle, start if infix else start - 1, limit)
    while at >= 0:
        word = words.word_start(at) if infix else at + 1
        if phrase_at(term, words, word):
            yield word
        # The next search starts after this word: finding each occurrence inside one long word
        # ("aaaa…" and "*aa") and rescanning the word for each made snippets quadratic.
        at = text.find(needle, words.word_end(word) if infix else at + 1, limit)


def _gap_allowed(gap: str, hyphen: bool) -> bool:
    return bool(_GAP.match(gap) or (hyphen and _HYPHEN_GAP.match(gap)))


# --- suspended compounds: "Førtids- og seniorpension" ------------------------------------------

CONJUNCTIONS = frozenset({"og", "eller", "samt"})
# The conjunction after a hyphenated part: "… Miljø- og Teknikudvalget". Searched first, as it
# starts with a literal hyphen (fast), then the parts are collected backwards word by word.
_CONJUNCTION = re.compile(r"-,?\s+(?:og|eller|samt)\s+(?=[^\W_])", re.IGNORECASE)


def suspended_compounds(words: Words) -> list[tuple[tuple[str, ...], str, int]]:
    """Each group of hyphenated parts sharing the tail of the word after og/eller/samt:
    ``(parts, final word, where the first part starts in`` :attr:`Words.scan` ``)``, all case-folded."""
    groups = []
    scan = words.scan
    for found in _CONJUNCTION.finditer(words.cased):
        hyphen: int | None = found.start()
        parts = []
        while hyphen is not None and scan[hyphen - 1] != " ":  # else the hyphen does not end a word
            first = words.word_start(hyphen)
            parts.append(scan[first:hyphen])
            hyphen = _part_before(words.cased, first)
        if parts:
            final = scan[found.end() : words.word_end(found.end())]
            groups.append((tuple(reversed(parts)), final, first))
    return groups


def _part_before(cased: str, start: int) -> int | None:
    """Where the hyphen of a part ending just before the word at ``start`` stands ("Miljø-, Plan- og"):
    only whitespace, after a comma or not, between them. Index arithmetic, not a regex over a slice:
    a text of committee names has a group every few hundred characters."""
    end = start
    while end > 0 and cased[end - 1].isspace():
        end -= 1
    if end in (0, start):
        return None
    if cased[end - 1] == ",":
        end -= 1
    return end - 1 if cased[end - 1] == "-" else None
