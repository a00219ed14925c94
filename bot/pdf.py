"""PDF → text with its lines and paragraphs, repaired for the minutes parser.

A PDF's text layer has no blank lines: paragraphs are only vertical space. The parser needs
them (a plain-layout heading is a short line after a blank line), so lines are rebuilt from
pdfium's text rectangles and a blank line is put where the gap between two lines is clearly
larger than the page's usual line spacing. Then the typesetting damage is repaired:
hyphenation, soft hyphens, ligatures.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from bot.errors import ExtractError

_SOFT_HYPHEN = re.compile(r"\u00ad[ \t]*(?:\n(?=\S))?")  # invisible break point: always rejoin
_LINE_END_HYPHEN = re.compile(r"(\w)-\n[ \t]*(?=(\w+))")
_LIGATURE = re.compile("[\ufb00-\ufb06]")  # ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ
# pdfium marks a hyphen it found at a line end: U+FFFE in whole-page text, STX in bounded text
_HYPHEN_MARK = re.compile("[\ufffe\x02]")
_COLUMN_GAP = 1.5  # a horizontal gap of more than this many line heights separates table cells
_PARAGRAPH_GAP = 0.5  # extra vertical space, in line heights, that marks a new paragraph
_BOLD = 600  # font weight from which text is bold


@dataclass
class _Line:
    top: float
    bottom: float
    parts: list[tuple[float, float, str]]  # left, right, text
    bold: bool = True

    @property
    def height(self) -> float:
        return self.top - self.bottom

    def text(self) -> str:
        pieces: list[str] = []
        previous_right: float | None = None
        for left, right, text in sorted(self.parts):
            if previous_right is not None:
                pieces.append("\t" if left - previous_right > _COLUMN_GAP * self.height else " ")
            pieces.append(text.strip())
            previous_right = right
        line = "".join(pieces)
        # A fully bold line is a heading, as in the HTML and markdown layouts.
        return f"**{line}**" if self.bold and line else line


def pdf_text(raw: bytes, name: str) -> str:
    """The repaired text of every page, pages separated by a blank line."""
    # pdfium reads a PDF cut short without complaint: a truncated download would silently lose items
    if b"%%EOF" not in raw[-1024:]:
        raise ExtractError(f"{name}: damaged or truncated PDF (no %%EOF end marker)")
    try:
        with pdfium.PdfDocument(raw) as pdf:  # closing it closes its pages and text pages too
            pages = [_page_text(page) for page in pdf]
    except pdfium.PdfiumError as exc:
        found = re.search(r"PDFium: ([^)]*)", str(exc))  # "Failed to load document (PDFium: Data format error)."
        reason = (found.group(1) if found else str(exc)).strip().lower()
        problem = "encrypted PDF needing a password" if "password" in reason else f"damaged or truncated PDF ({reason})"
        raise ExtractError(f"{name}: {problem}") from exc
    text = repair_pdf_text("\n\n".join(page for page in pages if page.strip()))
    if not text.strip():
        raise ExtractError(f"{name}: PDF has no text layer (scanned image?)")
    return text


def _page_text(page: pdfium.PdfPage) -> str:
    textpage = page.get_textpage()
    lines: list[_Line] = []
    for index in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(index)
        text = textpage.get_text_bounded(left, bottom, right, top)
        if text.strip():
            bold = _is_bold(textpage, left, bottom, right, top)
            _place(lines, left, bottom, right, top, _HYPHEN_MARK.sub("-", text), bold)
    if not lines:
        return str(textpage.get_text_range())  # rotated or odd layouts: take pdfium's own order
    return _with_paragraphs(sorted(lines, key=lambda line: -line.top))


def _is_bold(textpage: pdfium.PdfTextPage, left: float, bottom: float, right: float, top: float) -> bool:
    """Whether the first and last characters of a text rectangle are set in a bold font."""
    middle, tolerance = (top + bottom) / 2, (top - bottom) / 2
    for x in (left + 0.5, right - 0.5):
        index = textpage.get_index(x, middle, tolerance, tolerance)
        if index is None or pdfium_c.FPDFText_GetFontWeight(textpage.raw, index) < _BOLD:
            return False
    return True


def _place(lines: list[_Line], left: float, bottom: float, right: float, top: float, text: str, bold: bool) -> None:
    """Add a text rectangle to the line it shares most of its height with, or start a line."""
    for line in lines:
        overlap = min(line.top, top) - max(line.bottom, bottom)
        if overlap > 0.5 * min(line.height, top - bottom):
            line.parts.append((left, right, text))
            line.top, line.bottom, line.bold = max(line.top, top), min(line.bottom, bottom), line.bold and bold
            return
    lines.append(_Line(top, bottom, [(left, right, text)], bold))


def _with_paragraphs(lines: list[_Line]) -> str:
    height = statistics.median(line.height for line in lines)
    gaps = [above.bottom - below.top for above, below in zip(lines, lines[1:], strict=False)]
    usual = min((gap for gap in gaps if gap > -height), default=0.0) if gaps else 0.0
    out = [lines[0].text()]
    for gap, line in zip(gaps, lines[1:], strict=True):
        if gap > usual + _PARAGRAPH_GAP * height:
            out.append("")
        out.append(line.text())
    return "\n".join(out)


def repair_pdf_text(text: str) -> str:
    """Undo PDF layout damage: hyphenation, ligatures, pdfium's hyphen marker, trailing blanks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # In whole-page text pdfium swallows the break after a line-end hyphen and leaves U+FFFE;
    # restore both so one rule decides between hyphenation and suspended compounds.
    text = re.sub("\ufffe\n?", "-\n", text)
    text = _SOFT_HYPHEN.sub("", text)
    # NFKC on ligatures only: on all text it also turns m² into m2 and "2½ år" into "21⁄2 år"
    text = _LIGATURE.sub(lambda match: unicodedata.normalize("NFKC", match.group()), text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _LINE_END_HYPHEN.sub(_join_hyphenated, text)


def _join_hyphenated(match: re.Match[str]) -> str:
    before, word = match.group(1), match.group(2)
    if not word[0].islower():
        return match.group(0)  # next line starts a sentence, name or number: not a split word
    if word in ("og", "eller", "samt"):
        return before + "- "  # "Beskæftigelses- og Integrationsudvalget"
    if before.isupper() or before.isdigit():
        return before + "-"  # "EU-borgere", "2-årig": the hyphen belongs to the word
    return before  # "beskæf-" + "tigelse"
