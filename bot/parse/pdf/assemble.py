"""Pages of lines → the markdown-ish text the minutes parser reads.

A PDF has no blank lines and no markup: paragraphs are vertical space and headings are bold or
larger type. Both are put back: a blank line where the gap above a line is clearly wider than the
document's usual line spacing, and ``**…**`` around a heading line. A heading the typesetter
wrapped becomes one line again, and a heading run at the start of a line ("**Beslutning**
Godkendt.") gets its own line. Paragraphs that flow on to the next column or page are kept whole.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

from bot.parse.parser import item_number
from bot.parse.pdf.layout import Line, Page, Run
from bot.parse.pdf.repair import WRAP
from bot.parse.sections import MAX_HEADING, is_section_heading

_PARAGRAPH_GAP = 0.3  # extra vertical space, in font sizes, that marks a new paragraph
_LARGER = 1.15  # a line set this much larger than the body text is a heading
_LIST_ITEM = re.compile(r"^(?:[-*•·▪–]\s|\d{1,3}[.)]\s)")
# a heading line ending like this goes on: a preposition, article or conjunction, a hyphen, a comma
_UNFINISHED = re.compile(r"(?:\s(?:i|på|af|for|til|om|med|fra|og|eller|den|det|de|d\.)|[-,–])$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.:!?;)\]”\"]\s*$")


@dataclass(frozen=True)
class _Style:
    body_size: float
    edge: float  # the right edge of the text on the widest page: where a full line ends
    usual_pitch: float  # the usual distance between baselines in a paragraph, in font sizes


def pages_text(pages: list[Page]) -> str:
    """The text of all pages; OCR'd pages are taken as read."""
    style = _style(pages)
    out: list[str] = []
    previous: Line | None = None
    for page in pages:
        jump = True  # from the previous page's last line to this page's first
        for line in page.lines:
            assert style is not None  # there are lines
            for part in _split_heading_run(line, style):
                previous = _add(out, previous, part, style, jump)
                jump = False
        if page.ocr:
            out.extend(["", *(_ocr_line(line) for line in page.ocr.split("\n")), ""])
            previous = None
    return "\n".join(out)


def _ocr_line(line: str) -> str:
    """OCR knows no bold: an item or section heading on a scanned page is marked as on the others."""
    text = line.strip()
    heading = text and len(text) <= MAX_HEADING and (item_number(text) is not None or is_section_heading(text))
    return f"**{text}**" if heading else line


def _add(out: list[str], previous: Line | None, line: Line, style: _Style, jump: bool) -> Line:
    """Append a line's text to ``out``: on the heading it continues, or after a paragraph break."""
    text = _marked(line, style)
    if previous is None or not out:
        out.append(text)
        return line
    jump = jump or line.baseline > previous.baseline + 0.5 * line.size  # a new page or column
    if _continues_heading(previous, line, out[-1], text, style) and (jump or not _gap(previous, line, style)):
        out[-1] = f"**{out[-1][2:-2]}{WRAP}{text[2:-2]}**"
        return line
    if not _flows_on(out[-1], text) if jump else _gap(previous, line, style):
        out.append("")
    elif not jump and _ended_early(previous, line, style):
        pass  # a line break the author typed: the next line starts a line of its own
    elif _joins(out[-1], text):
        out[-1] = f"{out[-1]}{WRAP}{text}"  # a wrapped line: one paragraph, one line
        return line
    out.append(text)
    return line


def _ended_early(above: Line, below: Line, style: _Style) -> bool:
    """The line above stopped short although the next word would have fitted: a paragraph ended
    (or a plain heading stood alone) even without extra space."""
    first = below.runs[0]
    word = first.text.split(" ", 1)[0]
    width = (first.right - first.left) * len(word) / max(len(first.text), 1)
    edge = style.edge if above.edge is None else above.edge
    return edge - above.right > width + 0.5 * below.size


def _joins(above: str, below: str) -> bool:
    """Wrapped lines of one paragraph become one line; table rows and list items stay lines."""
    plain = not (above.startswith("**") or below.startswith("**") or "\t" in above or "\t" in below)
    return plain and above != "" and not _LIST_ITEM.match(below)


def _style(pages: list[Page]) -> _Style | None:
    lines = [line for page in pages for line in page.lines]
    if not lines:
        return None
    sizes: Counter[float] = Counter()
    for line in lines:
        for run in line.runs:
            sizes[round(run.size, 1)] += len(run.text)
    body_size = sizes.most_common(1)[0][0]
    ratios = [
        round((above.baseline - below.baseline) / max(below.size, 1.0), 2)
        for above, below in zip(lines, lines[1:], strict=False)
        if above.baseline > below.baseline and abs(below.size - body_size) < 0.5 and not below.bold
    ]
    usual = statistics.median_low(sorted(ratios)[: max(1, len(ratios) // 2)]) if ratios else 0.0
    # Margins are symmetric: a document of short lines still has its right margin where the
    # left one mirrors it.
    widest = max(pages, key=lambda page: page.width)
    edge = max([widest.width - min(line.left for line in lines), *(line.right for line in lines if line.edge is None)])
    return _Style(body_size=body_size, usual_pitch=usual, edge=edge)


def _split_heading_run(line: Line, style: _Style) -> list[Line]:
    """``**Beslutning** Godkendt.`` set on one line: the heading and its text are two lines."""
    first = line.runs[0]
    if len(line.runs) < 2 or not _is_heading_run(first, style) or line.bold:
        return [line]
    heading = first.text.strip().rstrip(":")
    if not (is_section_heading(heading) or item_number(heading) is not None):
        return [line]
    return [Line([first]), Line(line.runs[1:])]


def _is_heading_run(run: Run | Line, style: _Style) -> bool:
    """Set as a heading is set: in bold, or clearly larger than the body text."""
    return run.bold or run.size >= _LARGER * style.body_size


def _marked(line: Line, style: _Style) -> str:
    text = line.text()
    heading = _is_heading_run(line, style)
    return f"**{text}**" if heading and text and len(text) <= MAX_HEADING and "\t" not in text else text


def _gap(above: Line, below: Line, style: _Style) -> bool:
    """Whether the space between two lines is a paragraph break."""
    return (above.baseline - below.baseline) / max(below.size, 1.0) > style.usual_pitch + _PARAGRAPH_GAP


def _flows_on(last: str, first: str) -> bool:
    """Whether a paragraph cut by a page or column break goes on: no sentence end, lower case next."""
    if not last or not first or last.startswith("**") or first.startswith("**"):
        return False
    return last.endswith("-") or (
        not _SENTENCE_END.search(last) and (first[0].islower() or bool(_UNFINISHED.search(last)))
    )


def _continues_heading(above: Line, below: Line, above_text: str, below_text: str, style: _Style) -> bool:
    """A heading wrapped onto a second line: both marked, same size, and the second not a heading
    of its own (an item title directly followed by "Sagsfremstilling" is two headings)."""
    if not (above_text.startswith("**") and below_text.startswith("**")):
        return False
    first, second = above_text[2:-2], below_text[2:-2]
    if abs(above.size - below.size) > 0.5 or len(first) + len(second) > MAX_HEADING:
        return False
    if _UNFINISHED.search(first) or second[:1].islower() or second[:1].isdigit():
        return True  # "Beslutning i Byrådet den" / "06-01-2025"
    if _ended_early(above, below, style):
        return False
    return not (is_section_heading(second) or item_number(second) is not None)
