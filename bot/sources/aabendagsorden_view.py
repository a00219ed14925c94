"""The HTML view of one Åben Dagsorden meeting (``/fragments/meeting/{id}/view``) → its items.

Items start at the elements of class ``agenda-item-title`` ("Punkt 3 Budget 2027"); an item's
text is everything up to the next title, whether each item sits in a wrapper of its own or all
follow each other in one list: the titles are replaced by marks, the page goes through
:func:`bot.parse.extract.html_to_text` once and the text is cut at the marks. Sections are the
headings in that text (``<h4>Resumé</h4>``), read by :func:`bot.parse.parser.build_item` like every
other source's; a ``Sagsnr.`` line under the title is the case number. Download buttons
(``data-id``/``data-name``) and ``/files/`` links are given to the item whose title precedes them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import time
from urllib.parse import quote, urljoin

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from bot.errors import ExtractError, ParseError
from bot.parse.extract import clean_text, html_to_text
from bot.parse.minutes import Attachment, DocKind, ParsedItem, ParsedMeeting, collapse
from bot.parse.parser import build_item
from bot.parse.sections import time_in
from bot.sources.site import SiteMeeting, title_of

FILE_PATH = "/meeting/files/{}/{}"
_PUNKT = re.compile(r"^(?:Punkt|Pkt\.?)\s*(\d{1,9})(?!\d)\s*[.:\-–]?\s*(.*)$", re.IGNORECASE)
_CASE_LINE = re.compile(r"^\s*(?:Sagsnr|Sags\s*nr|Sagsnummer|J\.?\s*nr)\.?\s*:?\s*(\S.*?)\s*$", re.IGNORECASE)
_PLACE_LINE = re.compile(r"^\s*(?:Mødested|Sted)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_MARK = "AABENDAGSORDEN-PUNKT-{}"
_MARK_LINE = re.compile(r"^#+ AABENDAGSORDEN-PUNKT-(\d+)\s*$", re.MULTILINE)
_TITLES = CSSSelector(".agenda-item-title")


def html_root(content: bytes) -> lxml.html.HtmlElement:
    """A page or fragment as a tree, read as UTF-8: a fragment has no ``<meta charset>`` to go by."""
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        return lxml.html.document_fromstring(content.decode("utf-8", "replace").encode(), parser=parser)
    except (etree.ParserError, ValueError):  # nothing but whitespace: a page without items
        return lxml.html.document_fromstring(b"<html></html>")


def parse_view(content: bytes, meeting: SiteMeeting, base: str, name: str) -> ParsedMeeting:
    """``/fragments/meeting/{id}/view`` → the meeting with its items (none when no title is found)."""
    root = html_root(content)
    titles = _TITLES(root)
    heads = [collapse(clean_text(title.text_content())) for title in titles]
    anchors = _anchors(titles)
    files = _attachments(root, titles, base)
    for index, title in enumerate(titles):  # the text is split at these marks below
        mark = etree.Element("h1")
        mark.text, mark.tail = _MARK.format(index), title.tail
        parent = title.getparent()
        if parent is not None:
            parent.replace(title, mark)
    try:
        text = html_to_text(lxml.html.tostring(root, encoding="unicode"))
    except ExtractError as exc:
        raise ParseError(f"{name}: {exc}") from None
    parts = _MARK_LINE.split(text)
    header, bodies = parts[0], dict(zip((int(n) for n in parts[1::2]), parts[2::2], strict=False))
    day = meeting.start.date()
    items = [_item(heads[i], bodies.get(i, ""), i, anchors[i], files[i], meeting, base) for i in range(len(titles))]
    place = _PLACE_LINE.search(header)
    start = meeting.start.time() if meeting.start.time() != time(0) else time_in(header)
    return ParsedMeeting(
        kind=_kind(items, header),
        committee=meeting.committee,
        date=day,
        start=start,
        place=collapse(place[1]) if place else None,
        items=tuple(items),
        url=meeting.url,
    )


def _item(
    head: str, body: str, index: int, anchor: str | None, files: list[Attachment], meeting: SiteMeeting, base: str
) -> ParsedItem:
    found = _PUNKT.match(head)
    # Without "Punkt N" the position stands in: identity needs a number, and the order is the site's.
    number, title = (int(found[1]), found[2]) if found else (index + 1, head)
    lines = body.split("\n")
    case = None
    for position, line in enumerate(lines[:6]):  # the case number stands right under the title
        if matched := _CASE_LINE.match(line):
            case, lines = matched[1], lines[:position] + lines[position + 1 :]
            break
    digits = re.search(r"\d+$", anchor or "")
    item = build_item(
        number,
        title_of(title),
        case,
        "\n".join(lines),
        meeting.committee,
        meeting.start.date(),
        portal_id=digits[0] if digits else anchor,
        url=meeting.url + (f"#{anchor}" if anchor else ""),
    )
    return replace(item, attachments=tuple(files)) if files else item


def _kind(items: list[ParsedItem], header: str) -> DocKind:
    if any(item.decision is not None for item in items):
        return "referat"
    starts = (re.sub(r"^[#*\s]+", "", line).casefold() for line in header.split("\n"))
    return "referat" if any(line.startswith("referat") for line in starts) else "dagsorden"


def _anchors(titles: list[etree._Element]) -> list[str | None]:
    """Each title's own id, else that of the nearest element around it that holds no other title."""
    holds: Counter[etree._Element] = Counter(anc for title in titles for anc in title.iterancestors())
    anchors: list[str | None] = []
    for title in titles:
        found = title.get("id")
        for ancestor in title.iterancestors():
            if found or holds[ancestor] > 1:
                break
            found = ancestor.get("id")
        anchors.append(found.strip() if found and found.strip() else None)
    return anchors


def _attachments(root: etree._Element, titles: list[etree._Element], base: str) -> list[list[Attachment]]:
    """Download buttons and file links, each given to the item whose title comes before it."""
    files: list[list[Attachment]] = [[] for _ in titles]
    wanted = set(titles)
    current = -1
    for element in root.iter():
        if element in wanted:
            current += 1
            continue
        found = _attachment(element, base) if current >= 0 else None
        if found is not None and found not in files[current]:
            files[current].append(found)
    return files


def _attachment(element: etree._Element, base: str) -> Attachment | None:
    if element.tag == "button":
        file_id, file_name = (element.get(name, "").strip() for name in ("data-id", "data-name"))
        if file_id and file_name:
            url = base + FILE_PATH.format(quote(file_id, safe=""), quote(file_name, safe=""))
            return Attachment(_label(element) or collapse(file_name), url)
    href = (element.get("href") or "").strip() if element.tag == "a" else ""
    if "/files/" in href:
        return Attachment(_label(element) or href.rsplit("/", 1)[-1], urljoin(base + "/", href))
    return None


def _label(element: etree._Element) -> str:
    return collapse(clean_text("".join(element.itertext())))
