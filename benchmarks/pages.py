"""``python -m benchmarks.pages``: a Ringkøbing-Skjern meeting page that carries megabytes of
inline base64 images (real pages reach 4 MB) against the same page without them.

The rksk adapter cuts ``data:`` URIs out of the raw bytes before lxml parses the page, so reading
the big page should cost little more than reading the bare one: the ratio says how much. The page
is the test suite's imitation (``tests/sites/rksk.py``). Best of three runs of parse + items.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

from bot.sources.html_items import page_root
from bot.sources.rksk import parse_meeting
from bot.sources.site import ZONE, SiteMeeting
from tests.sites.rksk import meeting_page, standard_site

REPEATS = 3
IMAGE_BYTES = 4_000_000


def page(image: int) -> bytes:
    committee = standard_site(image=image).committees[0]  # Økonomiudvalget, 22.09.2026
    return meeting_page(committee, committee.meetings[0]).encode()


def seconds(content: bytes) -> float:
    listed = SiteMeeting("5002", "Økonomiudvalget", datetime(2026, 9, 22, tzinfo=ZONE), "dagsorden", "page")
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        parse_meeting(page_root(content, "page"), listed)
        best = min(best, time.perf_counter() - start)
    return best


def run(image: int = IMAGE_BYTES) -> dict[str, float | int]:
    """Seconds for the bare page and the page with ``image`` bytes of inline PNG, and their ratio."""
    bare, heavy = page(0), page(image)
    bare_s, heavy_s = seconds(bare), seconds(heavy)
    return {
        "bare_bytes": len(bare),
        "heavy_bytes": len(heavy),
        "bare_seconds": round(bare_s, 5),
        "heavy_seconds": round(heavy_s, 5),
        "ratio": round(heavy_s / bare_s, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
