"""Real PDFs for tests, built with fpdf2, laid out as a word processor would.

Each text line starts a new PDF line; a line too long for the page is wrapped at spaces, a
blank line becomes vertical space (a PDF's text layer has no blank lines: the extractor
must recover paragraphs from the geometry), and new pages follow as needed. Besides plain
lines: paragraphs of bold and regular runs (a heading run followed by its text on one
line), and scanned pages (an image, no text layer). Word processor PDFs (LibreOffice, with
hyphenation, headers and footers) are made by tests/office.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

_HEADING = re.compile(r"^\s*#{1,6}\s+")

Run = tuple[str, bool]  # a piece of a paragraph's text, and whether it is set in bold

# A Unicode TrueType font takes “quotes”, – dashes and ligatures; the PDF core fonts
# know only latin-1 (which still covers æøå).
_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


def unicode_font() -> Path | None:
    """The TrueType font make_pdf uses, or None when it falls back to a latin-1 core font."""
    return next((path for path in _FONTS if path.is_file()), None)


def make_pdf(path: Path, lines: list[str], font_size: int = 10) -> Path:
    """Write `lines` as a PDF at `path`, one paragraph per line; returns `path`.

    Markdown is printed as a word processor would show it: a heading (``# …``) or a fully
    bold line (``**…**``) in a bold font without the markup, other ``**`` removed.
    """
    pdf, family = _new_pdf()
    _write_lines(pdf, family, lines, font_size)
    pdf.output(str(path))
    return path


def make_runs_pdf(path: Path, paragraphs: list[list[Run]], font_size: int = 10, width: float = 0) -> Path:
    """Paragraphs of (text, bold) runs, as a word processor sets a bold heading run followed by
    its text on the same line ("**Beslutning:** Godkendt."); returns `path`.

    Each paragraph wraps at spaces within `width` mm (0: the page's width); vertical space
    separates paragraphs.
    """
    pdf, family = _new_pdf()
    if width:
        pdf.set_right_margin(pdf.w - pdf.l_margin - width)
    for runs in paragraphs:
        for text, bold in runs:
            pdf.set_font(family, "B" if bold else "", font_size)
            pdf.write(font_size / 2, text)
        pdf.ln(font_size / 2)
        pdf.ln(font_size / 2)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path, lines: list[str], scanned: list[str], font_size: int = 10) -> Path:
    """A PDF of `lines` as text (as make_pdf does; no lines: no text pages) followed by one
    scanned page: an image of the `scanned` lines without a text layer; returns `path`."""
    pdf, family = _new_pdf()
    if lines:
        _write_lines(pdf, family, lines, font_size)
        pdf.add_page()
    pdf.image(scan_image(scanned), x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(path))
    return path


def scan_image(lines: list[str], dpi: int = 200) -> Image.Image:
    """An A4 page as a scanner delivers it: black 12 pt text on white at `dpi`, one line each."""
    width, height = round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)
    image = Image.new("L", (width, height), 255)
    size = round(12 / 72 * dpi)
    font_path = unicode_font()
    font = ImageFont.truetype(str(font_path), size) if font_path else ImageFont.load_default(size)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((dpi, dpi + number * size * 1.8), line, fill=0, font=font)
    return image


def _new_pdf() -> tuple[FPDF, str]:
    """An A4 document on its first page, and the font family to write with."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    font = unicode_font()
    family = "Body" if font is not None else "helvetica"
    if font is not None:
        pdf.add_font(family, fname=str(font))
        pdf.add_font(family, style="B", fname=str(font.with_name("DejaVuSans-Bold.ttf")))
    pdf.add_page()
    return pdf, family


def _write_lines(pdf: FPDF, family: str, lines: list[str], font_size: int) -> None:
    for line in lines:
        if not line.strip():
            pdf.ln(font_size / 2)
            continue
        bold = bool(_HEADING.match(line)) or (line.strip().startswith("**") and line.strip().endswith("**"))
        text = _HEADING.sub("", line).replace("**", "")
        pdf.set_font(family, "B" if bold else "", font_size)
        # fonts have no glyph for a tab; a space keeps the words apart
        pdf.multi_cell(0, font_size / 2, text.replace("\t", " "), new_x="LMARGIN", new_y="NEXT")
