"""PDF → the markdown-ish text the minutes parser reads, laid out as a reader sees the page.

Minutes PDFs come from word processors: running headers and footers on every page, Danish
automatic hyphenation, bold headings, sometimes two columns, sometimes scanned pages. pdfium
(pypdfium2: fast, permissively licensed, with per-character fonts and boxes) gives the
characters; :mod:`bot.parse.pdf.layout` rebuilds lines in reading order, :mod:`bot.parse.pdf.margins` drops
running headers and footers, :mod:`bot.parse.pdf.assemble` restores paragraphs and headings, and
:func:`repair_pdf_text` undoes hyphenation and ligatures. Scanned pages go to tesseract
(:mod:`bot.parse.pdf.ocr`) when it is installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pypdfium2 as pdfium

from bot.errors import ExtractError
from bot.parse.pdf import ocr
from bot.parse.pdf.assemble import pages_text
from bot.parse.pdf.layout import Page, in_reading_order, read_page
from bot.parse.pdf.margins import strip_running_lines
from bot.parse.pdf.repair import repair_pdf_text

__all__ = ["PdfText", "read_pdf", "repair_pdf_text"]


@dataclass(frozen=True)
class PdfText:
    """The text of a PDF, how many pages it has, and what could not be read (per page)."""

    text: str
    pages: int
    warnings: tuple[str, ...] = ()


def read_pdf(raw: bytes, name: str, max_pages: int | None = None) -> PdfText:
    """Read a PDF (at most ``max_pages`` pages); raises ExtractError when nothing is readable."""
    # pdfium reads a PDF cut short without complaint: a truncated download would silently lose items
    if b"%%EOF" not in raw[-1024:]:
        raise ExtractError(f"{name}: damaged or truncated PDF (no %%EOF end marker)")
    try:
        with pdfium.PdfDocument(raw) as pdf:  # closing it closes its pages and text pages too
            count = len(pdf)
            pages = [read_page(pdf, index) for index in range(min(count, max_pages or count))]
            warnings = _read_scans(pdf, pages)
    except pdfium.PdfiumError as exc:
        found = re.search(r"PDFium: ([^)]*)", str(exc))  # "Failed to load document (PDFium: Data format error)."
        reason = (found.group(1) if found else str(exc)).strip().lower()
        problem = "encrypted PDF needing a password" if "password" in reason else f"damaged or truncated PDF ({reason})"
        raise ExtractError(f"{name}: {problem}") from exc
    if max_pages is not None and count > max_pages:
        warnings.append(f"only the first {max_pages} of {count} pages were read (page cap)")
    for page in strip_running_lines(pages):
        page.lines = in_reading_order(page.lines)
    text = repair_pdf_text(pages_text(pages))
    if not text.strip():
        raise ExtractError("; ".join([f"{name}: PDF has no text layer (scanned image?)", *warnings]))
    return PdfText(text, count, tuple(f"{name}: {warning}" for warning in warnings))


def _read_scans(pdf: pdfium.PdfDocument, pages: list[Page]) -> list[str]:
    """OCR the pages that are only an image; a note per scanned page saying how it was read."""
    scanned = [page for page in pages if not page.lines and page.images]
    warnings: list[str] = []
    for page in scanned:
        try:
            page.ocr = ocr.read_page(pdf, page.number - 1)
        except ocr.OcrUnavailable as exc:
            warnings.append(f"page {page.number} is a scanned image without text and was not read: {exc}")
            continue
        except OSError as exc:
            warnings.append(f"page {page.number} is a scanned image; OCR failed: {exc}")
            continue
        if page.ocr.strip():
            warnings.append(f"page {page.number} is a scanned image; its text was read by OCR (check it)")
        else:
            warnings.append(f"page {page.number} is a scanned image; OCR found no text on it")
    return warnings
