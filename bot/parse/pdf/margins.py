"""Running headers and footers: lines at a page's top or bottom edge that repeat across pages.

"Hvidovre Kommune  Side 6 af 14" and "Referat – Social- og Arbejdsmarkedsudvalget – 06-01-2025"
are not part of any item. A line is running when, with its numbers blanked out, the same text
stands in the same margin zone on enough pages; a bare page number ("6", "Side 6 af 14",
"6/14") in a margin zone is one on any page.
"""

from __future__ import annotations

import re
from collections import Counter

from bot.parse.pdf.layout import Line, Page
from bot.parse.sections import is_section_heading

_ZONE = 0.14  # the top and bottom share of the page height where running lines live
_EDGE_LINES = 3  # at most this many lines from each edge
_SHARE = 0.4  # a text repeating in the same zone on this share of pages is running
_PAGE_OFFSET = 2  # printed page numbers may be off by a cover page or two
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^(?:side\s*)?(\d{1,4})(?:\s*(?:af|/|of)\s*(\d{1,4}))?$", re.IGNORECASE)


def strip_running_lines(pages: list[Page]) -> list[Page]:
    """The pages without their running headers and footers."""
    counts: Counter[tuple[str, str]] = Counter()
    body: Counter[str] = Counter()  # the same words in the body: content, not a running line
    edges = [[(zone, line, _key(line)) for zone, line in _edge_lines(page)] for page in pages]
    for page, page_edges in zip(pages, edges, strict=True):
        counts.update({(zone, key) for zone, _, key in page_edges})
        at_edge = {id(line) for _, line, _ in page_edges}
        body.update(_key(line) for line in page.lines if id(line) not in at_edge)
    needed = max(2, _SHARE * len(pages))
    for page, page_edges in zip(pages, edges, strict=True):
        running = {
            id(line)
            for zone, line, key in page_edges
            if _is_page_number(line, page.number, len(pages))
            or _is_running(line, counts[(zone, key)] >= max(needed, body[key] + 1))
        }
        page.lines = [line for line in page.lines if id(line) not in running]
    return pages


def _is_page_number(line: Line, page: int, pages: int) -> bool:
    """ "6", "Side 6 af 14", "6/14" near this page's number; not a case number such as "26/100"."""
    number = _PAGE_NUMBER.match(" ".join(line.text().split()))
    if number is None or abs(int(number.group(1)) - page) > _PAGE_OFFSET:
        return False
    return number.group(2) is None or int(number.group(1)) <= int(number.group(2)) <= pages + _PAGE_OFFSET


def _is_running(line: Line, repeated: bool) -> bool:
    """A running line has words; a heading that happens to open two short pages is still a heading."""
    text = " ".join(line.text().split())
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
