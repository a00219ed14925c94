"""Real PDFs for tests, built with fpdf2: one text line per PDF line, new pages as needed.

What pdfium reads back matches the lines, except that blank lines leave no trace in a
PDF's text layer, and a line too long for the page runs off its right edge (pdfium
still reads it, which keeps one source line = one extracted line).
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

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


def make_pdf(path: Path, lines: list[str]) -> Path:
    """Write `lines` as a PDF at `path`, one line per PDF text line; returns `path`."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    font = unicode_font()
    if font is not None:
        pdf.add_font("Body", fname=str(font))
        pdf.set_font("Body", size=10)
    else:
        pdf.set_font("helvetica", size=10)
    pdf.add_page()
    for line in lines:
        # fonts have no glyph for a tab; a space keeps the words apart
        pdf.cell(0, 5, line.replace("\t", " "), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path
