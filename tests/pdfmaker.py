"""Real PDFs for tests, built with fpdf2, laid out as a word processor would.

Each text line starts a new PDF line; a line too long for the page is wrapped at spaces, a
blank line becomes vertical space (a PDF's text layer has no blank lines: the extractor
must recover paragraphs from the geometry), and new pages follow as needed.
"""

from __future__ import annotations

import re
from pathlib import Path

from fpdf import FPDF

_HEADING = re.compile(r"^\s*#{1,6}\s+")

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
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    font = unicode_font()
    family = "Body" if font is not None else "helvetica"
    if font is not None:
        pdf.add_font(family, fname=str(font))
        pdf.add_font(family, style="B", fname=str(font.with_name("DejaVuSans-Bold.ttf")))
    pdf.add_page()
    for line in lines:
        if not line.strip():
            pdf.ln(font_size / 2)
            continue
        bold = bool(_HEADING.match(line)) or (line.strip().startswith("**") and line.strip().endswith("**"))
        text = _HEADING.sub("", line).replace("**", "")
        pdf.set_font(family, "B" if bold else "", font_size)
        # fonts have no glyph for a tab; a space keeps the words apart
        pdf.multi_cell(0, font_size / 2, text.replace("\t", " "), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path
