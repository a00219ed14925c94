"""One PDF page → its lines in reading order, with what a reader sees of each: size and weight.

pdfium gives characters with boxes and fonts. Characters become runs (one font style, no wide
gap), runs become lines (shared height), and a page whose body is set in two columns is read
column by column: a band of lines with an empty vertical strip near the middle, where both
sides hold wrapped text, is a pair of columns; a table, whose cells are short, is not.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

BOLD_WEIGHT = 600
_BOLD_NAMES = ("bold", "black", "heavy", "semibold", "demibold", "demi")
_FORCE_BOLD = 1 << 18  # PDF font descriptor flag
_RUN_GAP = 0.9  # a horizontal gap wider than this many font sizes ends a run (cell, column)
_JUSTIFIED_GAP = 4.0  # after a space, a gap up to this many font sizes is still a space
_SIZE_STEP = 0.15  # a change of size by more than this share starts a run: a superscript, a heading word
_TOUCHING_HYPHEN = 0.2  # a line-end hyphen this close (in font sizes) belongs to its word
_TOUCHING = 0.1  # runs closer than this many font sizes are one word
_CELL_GAP = 1.5  # between runs of one line, a gap this many line heights wide is a tab (table cell)
_TEXT_LIKE = 0.7  # a column's line fills this share of its column: wrapped text, not a table cell
_MIN_COLUMN_LINES = 3
_COLUMN_SHARE = 0.35  # each column of two-column text is at least this share of the text width


@dataclass
class Run:
    """Characters of one style on one line, without a wide gap."""

    left: float
    right: float
    bottom: float
    top: float
    size: float
    bold: bool
    baseline: float
    text: str = ""
    last: float = 0.0  # the left edge of the last character

    def add(self, char: str, left: float, right: float, bottom: float, top: float) -> None:
        self.text += char
        self.last = left
        self.right = max(self.right, right)
        self.left, self.bottom, self.top = min(self.left, left), min(self.bottom, bottom), max(self.top, top)


@dataclass
class Line:
    runs: list[Run] = field(default_factory=list)
    edge: float | None = None  # the right edge of its column; None: of the document's text

    @property
    def top(self) -> float:
        return max(run.top for run in self.runs)

    @property
    def bottom(self) -> float:
        return min(run.bottom for run in self.runs)

    @property
    def left(self) -> float:
        return min(run.left for run in self.runs)

    @property
    def right(self) -> float:
        return max(run.right for run in self.runs)

    @property
    def height(self) -> float:
        return self.top - self.bottom

    @property
    def size(self) -> float:
        return max(run.size for run in self.runs)

    @property
    def baseline(self) -> float:
        """Where the letters stand: steadier than boxes, which follow the glyphs ("my" is low)."""
        return min(run.baseline for run in self.runs)

    @property
    def bold(self) -> bool:
        return all(run.bold for run in self.runs if run.text.strip())

    def text(self) -> str:
        pieces: list[str] = []
        previous: Run | None = None
        for run in self.runs:
            if previous is not None:
                pieces.append(_between(previous, run, self.height))
            pieces.append(run.text)
            previous = run
        return " ".join("".join(pieces).split(" ")).strip(" ")


def _between(before: Run, after: Run, height: float) -> str:
    """A tab between table cells, nothing between pieces of one word (a hyphen set as its own
    text object, a word split by kerning), else a space."""
    gap = after.left - before.right
    if gap > _CELL_GAP * height:
        return "\t"
    if before.text.endswith(" ") or after.text.startswith(" ") or gap < _TOUCHING * min(before.size, after.size):
        return ""
    return " "


@dataclass
class Page:
    number: int  # 1-based
    width: float
    height: float
    lines: list[Line]  # top to bottom; in reading order after in_reading_order
    images: int  # image objects: a page with images and no text is a scan
    ocr: str | None = None  # the text tesseract read from a scanned page


def read_page(pdf: pdfium.PdfDocument, index: int) -> Page:
    page = pdf[index]
    textpage = page.get_textpage()
    runs = list(_runs(textpage))
    images = sum(1 for obj in page.get_objects(max_depth=1) if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE)
    return Page(index + 1, page.get_width(), page.get_height(), _lines(runs), images)


# --- characters → runs ---------------------------------------------------------------------------


class _Fonts:
    """Whether a character's font is bold: by weight, by name ("Arial-BoldMT"), by flag. Cached per
    text object, since asking pdfium for a font name copies a string."""

    def __init__(self, textpage: pdfium.PdfTextPage) -> None:
        self._textpage = textpage
        self._bold: dict[int, bool] = {}
        self._name = ctypes.create_string_buffer(256)
        self._flags = ctypes.c_int()

    def bold(self, index: int) -> bool:
        handle = pdfium_c.FPDFText_GetTextObject(self._textpage.raw, index)
        key = ctypes.cast(handle, ctypes.c_void_p).value or 0
        found = self._bold.get(key)
        if found is None:
            found = self._bold[key] = self._read(index)
        return found

    def _read(self, index: int) -> bool:
        if pdfium_c.FPDFText_GetFontWeight(self._textpage.raw, index) >= BOLD_WEIGHT:
            return True
        pdfium_c.FPDFText_GetFontInfo(self._textpage.raw, index, self._name, len(self._name), self._flags)
        name = self._name.value.decode("latin-1").casefold().split("+")[-1]  # "ABCDEF+Arial-BoldMT"
        return bool(self._flags.value & _FORCE_BOLD) or any(word in name for word in _BOLD_NAMES)


def _runs(textpage: pdfium.PdfTextPage) -> Iterator[Run]:
    raw = textpage.raw
    fonts = _Fonts(textpage)
    box = pdfium_c.FS_RECTF()
    x, y = ctypes.c_double(), ctypes.c_double()
    run: Run | None = None
    for index in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(raw, index)
        char = chr(code) if code else ""
        if char in ("\r", "\n", "") or (char == " " and pdfium_c.FPDFText_IsGenerated(raw, index) and run is None):
            if char != " " and run is not None:
                yield run
                run = None
            continue
        if pdfium_c.FPDFText_IsHyphen(raw, index) or char in "\x02\ufffe":
            char = "-"
        if char == " ":
            generated = bool(pdfium_c.FPDFText_IsGenerated(raw, index))
            if run is None or run.text.endswith(" "):
                continue
            if not (generated and _hyphen_ends_line(raw, index, run)):
                run.text += " "
            continue
        pdfium_c.FPDFText_GetLooseCharBox(raw, index, box)
        size = pdfium_c.FPDFText_GetFontSize(raw, index)
        bold = fonts.bold(index)
        if run is None or not _continues(run, box, size, bold):
            if run is not None:
                yield run
            pdfium_c.FPDFText_GetCharOrigin(raw, index, x, y)
            run = Run(box.left, box.right, box.bottom, box.top, size, bold, y.value)
        run.add(char, box.left, box.right, box.bottom, box.top)
    if run is not None:
        yield run


def _hyphen_ends_line(raw: pdfium_c.FPDF_TEXTPAGE, index: int, run: Run) -> bool:
    """pdfium puts a space before a hyphenation hyphen set close but apart at a line end
    ("svar -⏎procent"); a dash after a real space ("direktøren -⏎august") keeps it."""
    following = [pdfium_c.FPDFText_GetUnicode(raw, index + step) for step in (1, 2)]
    if following[0] not in (0x2D, 0x02, 0xFFFE) or following[1] not in (0, 0x0D, 0x0A):
        return False
    box = pdfium_c.FS_RECTF()
    pdfium_c.FPDFText_GetLooseCharBox(raw, index + 1, box)
    return bool(box.left - run.right < _TOUCHING_HYPHEN * run.size)


def _continues(run: Run, box: pdfium_c.FS_RECTF, size: float, bold: bool) -> bool:
    middle = (box.top + box.bottom) / 2
    same_line = run.bottom <= middle <= run.top
    # the characters of a ligature ("ff") share one box: the next may start where the last did;
    # after a space, justified text may stretch the gap to a few spaces' width
    gap = _JUSTIFIED_GAP if run.text.endswith(" ") and run.text.strip() else _RUN_GAP
    near = box.left >= run.last - 0.5 and box.left - run.right <= gap * max(size, run.size)
    same_style = (bold == run.bold or not run.text.strip()) and abs(size - run.size) <= _SIZE_STEP * max(size, run.size)
    return same_line and near and same_style


# --- runs → lines → reading order ------------------------------------------------------------------


def _lines(runs: Iterable[Run]) -> list[Line]:
    lines: list[Line] = []
    for run in runs:
        if not run.text.strip():
            continue
        home = next((line for line in reversed(lines[-12:]) if _shares_height(line, run)), None)
        if home is None:
            lines.append(Line([run]))
        else:
            home.runs.append(run)
    for line in lines:
        line.runs.sort(key=lambda run: run.left)
    return sorted(lines, key=lambda line: -line.top)


def _shares_height(line: Line, run: Run) -> bool:
    """On the same baseline, or overlapping most of its height (a superscript, a larger word)."""
    if abs(line.baseline - run.baseline) < 0.3 * min(line.size, run.size):
        return True
    overlap = min(line.top, run.top) - max(line.bottom, run.bottom)
    return overlap > 0.5 * min(line.height, run.top - run.bottom)


def in_reading_order(lines: list[Line]) -> list[Line]:
    """Bands of two-column text read left column first; everything else top to bottom. (Run after
    running headers are gone: a header's two ends would look like the tops of two columns.)"""
    if len(lines) < 2 * _MIN_COLUMN_LINES:
        return lines
    gutter = _gutter(lines)
    if gutter is None:
        return lines
    width = max(line.right for line in lines) - min(line.left for line in lines)
    ordered: list[Line] = []
    band: list[Line] = []
    for line in [*lines, None]:
        if line is not None and not _crosses(line, gutter):
            band.append(line)
            continue
        for part, rows in _split_at_tables(band, gutter, width):
            ordered.extend(part if rows else _band_in_columns(part, gutter, width))
        band = []
        if line is not None:
            ordered.append(line)
    return ordered


def _split_at_tables(band: list[Line], gutter: float, width: float) -> list[tuple[list[Line], bool]]:
    """A band cut where a table stands between two-column text: two or more rows in a row of
    short cells on both sides of the gutter are read as rows, not as column lines. A band that
    starts with a contents list's last entries (page numbers right, a number alone under a wrapped
    title) reads them first as rows, even one: they stand above the columns."""
    flags = [_row_like(line, gutter, width) for line in band]
    lead = 0  # a contents list's last entries, a page number alone under its wrapped title included
    while lead < len(band) and _numbered(_side(band[lead], gutter, False)):
        lead += 1
    parts: list[tuple[list[Line], bool]] = [(band[:lead], True)] if lead else []
    index = lead
    while index < len(band):
        end = index
        while end < len(band) and flags[end] == flags[index]:
            end += 1
        rows = flags[index] and end - index >= 2
        if parts and parts[-1][1] == rows:
            parts[-1][0].extend(band[index:end])
        else:
            parts.append((band[index:end], rows))
        index = end
    return parts


def _row_like(line: Line, gutter: float, width: float) -> bool:
    """Short cells on both sides, or a table of contents' title with its page number."""
    left, right = (_side(line, gutter, is_left) for is_left in (True, False))
    if not (left and right):
        return False
    return _numbered(right) or all(run.right - run.left < _TEXT_LIKE * width / 2 for run in line.runs)


def _numbered(right: list[Run]) -> bool:
    """The right side is a page number alone, as in a table of contents."""
    return len(right) == 1 and right[0].text.strip().isdigit() and len(right[0].text.strip()) <= 3


def _gutter(lines: list[Line]) -> float | None:
    """The x of the emptiest vertical strip in the middle of the text, if some lines leave it empty."""
    left, right = min(line.left for line in lines), max(line.right for line in lines)
    width = right - left
    best: tuple[int, float, float] | None = None
    step = max(width / 100, 1.0)
    x = left + 0.3 * width
    while x <= left + 0.7 * width:
        crossing = sum(1 for line in lines if _crosses(line, x))
        candidate = (crossing, abs(x - (left + right) / 2), x)
        best = candidate if best is None or candidate < best else best
        x += step
    if best is None or best[0] > len(lines) - 2 * _MIN_COLUMN_LINES:
        return None
    return best[2]


def _crosses(line: Line, x: float) -> bool:
    return any(run.left < x < run.right for run in line.runs)


def _band_in_columns(band: list[Line], gutter: float, width: float) -> list[Line]:
    sides = [
        [Line([run for run in line.runs if (run.right <= gutter) == is_left]) for line in band]
        for is_left in (True, False)
    ]
    left, right = ([line for line in side if line.runs] for side in sides)
    if not (_is_column(left, width) and _is_column(right, width)):
        return band
    for side in (left, right):
        edge = max(line.right for line in side)
        for line in side:
            line.edge = edge
    return [*left, *right]


def _side(line: Line, gutter: float, is_left: bool) -> list[Run]:
    return [run for run in line.runs if (run.right <= gutter) == is_left]


def _is_column(lines: list[Line], width: float) -> bool:
    """A column is wide and holds wrapped text: a good share of its lines fill it, where table
    cells are narrow or short."""
    if len(lines) < _MIN_COLUMN_LINES:
        return False
    start, end = min(line.left for line in lines), max(line.right for line in lines)
    if end - start < _COLUMN_SHARE * width:
        return False
    full = sum(1 for line in lines if line.right - line.left >= _TEXT_LIKE * (end - start))
    return full * 3 >= len(lines)
