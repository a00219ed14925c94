r"""The naive baseline: one compiled regular expression per term, emulating the rules of :mod:`bot.match.query`.

    prefix    (?<![^\W_])term                             case-insensitive
    infix     term                                         case-insensitive
    whole     (?<![^\W_])term(?![^\W_])                   case-insensitive (an acronym: case-sensitive)
    acronym   (?<![^\W_])TERM(?=[a-zæøå]*(?![^\W_]))      case-sensitive
    phrase    the words in order, each but the last running to the end of its word (every word of a
              phrase is a prefix or an acronym), joined by the engine's gap ``[\s*_#~`>|]+`` (a hyphen
              allowed where the term had one)

Every regex is compiled with ``re.IGNORECASE``; acronyms are scoped case-sensitive with ``(?-i:...)``.
What the regexes do not do: suspended compounds ("Førtids- og seniorpension" for førtidspension),
NFC normalisation and soft hyphens. The generated text has no soft hyphens and is NFC already.
"""

from __future__ import annotations

import re

from bot.match.query import Term, Word, is_acronym

_START = r"(?<![^\W_])"
_END = r"(?![^\W_])"
_GAP = r"[\s*_#~`>|\u00ad]"
_LOWER = "[a-zæøå]*"


def _word(word: Word, last: bool) -> str:
    text = re.escape(word.text)
    if word.kind == "prefix":
        return text if last else rf"{text}[^\W_]*"
    if word.kind == "infix":
        return text
    if word.kind == "whole":
        return f"(?-i:{text}){_END}" if is_acronym(word.text) else f"{text}{_END}"
    return f"(?-i:{text}(?={_LOWER}{_END}))" if last else f"(?-i:{text}{_LOWER})"


def pattern(term: Term) -> str:
    """The regular expression for one term, to compile with ``re.IGNORECASE`` (acronyms are scoped
    case-sensitive with ``(?-i:...)``)."""
    out = "" if term.words[0].kind == "infix" else _START
    last = len(term.words) - 1
    for index, word in enumerate(term.words):
        if index:
            gap = f"{_GAP}*-{_GAP}*|{_GAP}+" if term.hyphens[index - 1] else f"{_GAP}+"
            out += f"(?:{gap})"
        out += _word(word, index == last)
    return out


def compile_terms(terms: list[Term]) -> list[re.Pattern[str]]:
    return [re.compile(pattern(term), re.IGNORECASE) for term in terms]


def matched_terms(regexes: list[re.Pattern[str]], text: str) -> set[int]:
    """The terms found in ``text``; every occurrence of every term is found, as the engine does."""
    found: set[int] = set()
    for index, regex in enumerate(regexes):
        for _ in regex.finditer(text):
            found.add(index)
    return found
