"""PDF minutes: a real PDF made from each published minutes file parses like the text itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.parse.extract import extract_text
from bot.parse.parser import parse_minutes

from .conftest import CORPUS
from .helpers import json_lines, run_cli, write_config
from .pdfmaker import make_pdf

NAMES = sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []


def _summary(text: str, name: str) -> list[tuple[object, ...]]:
    meeting = parse_minutes(text, name)
    return [
        (meeting.kind, meeting.committee, meeting.date, meeting.participants),
        *[
            (
                i.number,
                i.title,
                i.case_number,
                i.closed,
                [s.heading for s in i.sections],
                i.decision is None,
                len(i.attachments),
            )
            for i in meeting.items
        ],
    ]


@pytest.mark.parametrize("name", NAMES or ["(no corpus)"])
@pytest.mark.parametrize("font_size", [10, 14])
def test_a_pdf_of_real_minutes_parses_like_the_text(tmp_path: Path, name: str, font_size: int) -> None:
    if not NAMES:
        pytest.skip("../shared/corpus is not available")
    source = (CORPUS / name).read_text(encoding="utf-8")
    pdf = make_pdf(tmp_path / "minutes.pdf", source.splitlines(), font_size=font_size)
    extracted = extract_text(pdf.read_bytes(), pdf.name)
    assert extracted.format == "pdf"
    assert _summary(extracted.text, pdf.name) == _summary(source, name)


def test_pdf_minutes_in_a_folder_are_ingested(tmp_path: Path) -> None:
    if not NAMES:
        pytest.skip("../shared/corpus is not available")
    config = write_config(tmp_path)
    source = (CORPUS / NAMES[-1]).read_text(encoding="utf-8")
    make_pdf(tmp_path / "minutes" / "referat.pdf", source.splitlines())
    assert run_cli(config, "ingest").exit_code == 0
    items = json_lines(config, "items")
    assert len(items) == len(parse_minutes(source, "x").items)
    assert all(item["url"].endswith("referat.pdf") for item in items)


def _scanned_pdf(path: Path, text_lines: list[str], scanned_lines: list[str]) -> Path:
    """A PDF of one typed page and one scanned page (an image of printed text, no text layer)."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    from .pdfmaker import unicode_font

    font_path = unicode_font()
    if font_path is None:
        pytest.skip("no DejaVu font to print the scanned page with")
    image = Image.new("L", (2480, 3508), 255)  # A4 at 300 dpi
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(font_path), 48)
    for number, line in enumerate(scanned_lines):
        draw.text((200, 250 + 90 * number), line, fill=0, font=font)
    pdf = FPDF(format="A4")
    pdf.add_font("Body", fname=str(font_path))
    pdf.set_font("Body", size=11)
    pdf.add_page()
    for line in text_lines:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.image(image, x=0, y=0, w=210, h=297)
    pdf.output(str(path))
    return path


TYPED = ["Referat Økonomiudvalget d. 02-11-2026", "", "Punkt 1: Godkendelse af dagsorden"]
SCANNED = ["Punkt 2: Ny skolestruktur i Brøndby", "Beslutning", "Forslaget om skolestrukturen blev godkendt."]


def test_a_scanned_page_is_read_by_ocr_and_reported(tmp_path: Path) -> None:
    from bot.parse.pdf import ocr, read_pdf

    if ocr.available() is not None:
        pytest.skip(f"OCR not available here: {ocr.available()}")
    pdf = _scanned_pdf(tmp_path / "scan.pdf", TYPED, SCANNED)
    result = read_pdf(pdf.read_bytes(), "scan.pdf")
    assert "Godkendelse af dagsorden" in result.text
    assert "skolestruktur" in result.text and "godkendt" in result.text
    assert result.warnings == ("scan.pdf: page 2 is a scanned image; its text was read by OCR (check it)",)


def test_without_tesseract_a_scanned_page_is_named_and_the_rest_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.parse.pdf import ocr, read_pdf

    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without tesseract
    ocr.available.cache_clear()
    try:
        pdf = _scanned_pdf(tmp_path / "scan.pdf", TYPED, SCANNED)
        result = read_pdf(pdf.read_bytes(), "scan.pdf")
    finally:
        ocr.available.cache_clear()
    assert "Godkendelse af dagsorden" in result.text and "skolestruktur" not in result.text
    (warning,) = result.warnings
    assert warning.startswith("scan.pdf: page 2 is a scanned image without text and was not read: tesseract is not")
    assert "tesseract-ocr-dan" in warning
