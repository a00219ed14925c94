"""PDF minutes: a real PDF made from each published minutes file parses like the text itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.extract import extract_text
from bot.parse import parse_minutes

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
