"""Running headers and footers: lines at a page's top or bottom edge that repeat across pages.

"Hvidovre Kommune  Side 6 af 14" and "Referat – Social- og Arbejdsmarkedsudvalget – 06-01-2025"
are not part of any item. A line is running when, with its numbers blanked out, the same text
stands in the same margin zone on enough pages; a bare page number ("6", "Side 6 af 14",
"6/14") in a margin zone is one on any page.
"""

from __future__ import annotations

import re
from collections import Counter

from bot.pdf.layout import Line, Page
from bot.sections import is_section_heading

_ZONE = 0.14  # the top and bottom share of the page height where running lines live
_EDGE_LINES = 3  # at most this many lines from each edge
_SHARE = 0.4  # a text repeating in the same zone on this share of pages is running
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^(?:side\s*)?(\d{1,4})(?:\s*(?:af|/|of)\s*(\d{1,4}))?$", re.IGNORECASE)


def strip_running_lines(pages: list[Page]) -> list[Page]:
    """The pages without their running headers and footers."""
    counts: Counter[tuple[str, str]] = Counter()
    body: Counter[str] = Counter()  # the same words in the body: content, not a running line
    for page in pages:
        edges = _edge_lines(page)
        counts.update({(zone, _key(line)) for zone, line in edges})
        at_edge = {id(line) for _, line in edges}
        body.update(_key(line) for line in page.lines if id(line) not in at_edge)
    needed = max(2, _SHARE * len(pages))
    for page in pages:
        running = {
            id(line)
            for zone, line in _edge_lines(page)
            if _is_running(line, counts[(zone, key := _key(line))] >= max(needed, 2 * body[key]))
        }
        page.lines = [line for line in page.lines if id(line) not in running]
    return pages


def _is_running(line: Line, repeated: bool) -> bool:
    text = " ".join(line.text().split())
    number = _PAGE_NUMBER.match(text)
    if number:  # "6", "Side 6 af 14", "6/14"; not a case number such as "24/2412"
        return number.group(2) is None or int(number.group(1)) <= int(number.group(2))
    # a running line has words; a heading that happens to open two short pages is still a heading
    return repeated and any(char.isalpha() for char in text) and not is_section_heading(text.strip("*: "))


def _edge_lines(page: Page) -> list[tuple[str, Line]]:
    by_height = sorted(page.lines, key=lambda line: -line.top)
    top = [line for line in by_height[:_EDGE_LINES] if line.bottom >= (1 - _ZONE) * page.height]
    bottom = [line for line in by_height[-_EDGE_LINES:] if line.top <= _ZONE * page.height]
    return [("top", line) for line in top] + [
        ("bottom", line) for line in bottom if all(line is not other for other in top)
    ]


def _key(line: Line) -> str:
    return _DIGITS.sub("#", " ".join(line.text().split())).casefold()
