"""Typesetting damage in PDF text: hyphenation, soft hyphens, ligatures, pdfium's hyphen marks.

A word broken at a line end is joined again, but a real hyphen stays: the document itself is
the first witness (the word spelled whole or with its hyphen elsewhere in it), then Danish
typography ("Social- og Sundhedsudvalget" keeps its suspended compound; "EU-borgere" and
"COVID-19" keep theirs).
"""

from __future__ import annotations

import re
import unicodedata

WRAP = "\x1f"  # a line break inside a heading that assemble joined into one line
_SOFT_HYPHEN = re.compile(r"\u00ad[ \t]*(?:[\n\x1f](?=\S))?")  # invisible break point: always rejoin
_LINE_END_HYPHEN = re.compile(r"(\w+)-([\n\x1f])[ \t]*(?=(\w+))")
_LIGATURE = re.compile("[\ufb00-\ufb06]")  # ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ
# Word's list bullets in the Symbol and Wingdings fonts arrive as private-use characters
_SYMBOL_BULLETS = str.maketrans(
    {"\uf0b7": "•", "\uf0a7": "▪", "\uf02d": "–", "\uf0d8": "•", "\uf076": "•", "\uf0fc": "•"}
)
_WORD = re.compile(r"\w+(?:-\w+)*")
_SUSPENDED = ("og", "eller", "samt", "til")  # "Beskæftigelses- og Integrationsudvalget"
# a range of days or months ("mandag-torsdag", "januar-marts") keeps its hyphen
_RANGE_ENDS = frozenset(
    "mandag tirsdag onsdag torsdag fredag lørdag søndag januar februar marts april maj juni juli "
    "august september oktober november december".split()
)


def repair_pdf_text(text: str) -> str:
    """Undo PDF layout damage: hyphenation, ligatures, pdfium's hyphen marker, trailing blanks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # In whole-page text pdfium swallows the break after a line-end hyphen and leaves U+FFFE;
    # restore both so one rule decides between hyphenation and suspended compounds.
    text = re.sub("\ufffe\n?", "-\n", text)
    text = _SOFT_HYPHEN.sub("", text)
    # NFKC on ligatures only: on all text it also turns m² into m2 and "2½ år" into "21⁄2 år"
    text = _LIGATURE.sub(lambda match: unicodedata.normalize("NFKC", match.group()), text)
    text = text.translate(_SYMBOL_BULLETS)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    words = {word.casefold() for word in _WORD.findall(text)}
    text = _LINE_END_HYPHEN.sub(lambda match: _join_hyphenated(match, words), text)
    return text.replace(WRAP, " ")


def _join_hyphenated(match: re.Match[str], words: set[str]) -> str:
    """A word broken at a line end: a typesetter's hyphen goes, a real one ("EU-borgere") stays."""
    before, word = match.group(1), match.group(3)
    kept, joined = f"{before}-{word}".casefold(), f"{before}{word}".casefold()
    if word in _SUSPENDED:
        return before + "- "
    if joined in words and kept not in words:
        return before  # the document spells it whole elsewhere ("CallCenter")
    if before.casefold() in _RANGE_ENDS and word.casefold() in _RANGE_ENDS:
        return before + "-"
    if kept in words or word[0].isdigit() and (before[-1].isupper() or before[-1].isdigit()):
        return before + "-"  # spelled with its hyphen elsewhere, or "COVID-19"
    if not word[0].islower():
        # inside a paragraph a capital goes on the word ("Nord-Amerika"); after a real line break
        # it starts a new sentence, list item or heading
        return before + "-" if match.group(2) == WRAP else match.group(0)
    if before.isupper() or before.isdigit():
        return before + "-"  # "EU-borgere", "2-årig"
    return before
