"""The sample minutes bundled for the default run parse exactly as their manifest says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.parse.extract import extract_text
from bot.parse.parser import parse_minutes

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((Path(__file__).parent / "cases" / "samples.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("relative", sorted(MANIFEST))
def test_bundled_sample_parses_as_its_manifest_says(relative: str) -> None:
    expected = MANIFEST[relative]
    path = ROOT / relative
    meeting = parse_minutes(extract_text(path.read_bytes(), path.name).text, path.name)
    assert (meeting.kind, meeting.committee, meeting.date.isoformat()) == (
        expected["kind"],
        expected["committee"],
        expected["date"],
    )
    assert meeting.start is not None and meeting.start.strftime("%H:%M") == expected["start"]
    assert (meeting.place, list(meeting.participants)) == (expected["place"], expected["participants"])
    got = [
        {
            "number": item.number,
            "title": item.title,
            "case_number": item.case_number,
            "closed": item.closed,
            "sections": [section.heading for section in item.sections],
            "decision": item.decision,
            "decisions": [{"committee": d.committee, "date": d.date and d.date.isoformat()} for d in item.decisions],
            "attachments": [attachment.name for attachment in item.attachments],
        }
        for item in meeting.items
    ]
    assert got == expected["items"]


def test_every_bundled_sample_is_in_the_manifest() -> None:
    files = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "bot" / "samples").rglob("*") if p.parent.name != "samples"
    }
    assert files == set(MANIFEST)
