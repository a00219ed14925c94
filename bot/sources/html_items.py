"""Agenda items written as HTML on a kommune's own pages: what the Hedensted and
Ringkøbing-Skjern adapters share.

A page is decoded as UTF-8 whatever its headers say (Ringkøbing-Skjern sends no charset) and
inline ``data:`` URIs are cut out of the bytes before parsing: a page carrying 4 MB of base64
images then parses like a page of 100 KB, and no image can end up in an item's text. An item
is a run of elements (a heading's siblings, or a card): its text goes through
:func:`bot.parse.extract.html_to_text` and :func:`bot.parse.parser.build_item`, so sections and decisions are
recognised as for every other source. Section headings written as bold lines
(``<p><strong>Sagsfremstilling</strong></p>``) become headings first; the links after a
``Bilag`` heading are the item's attachments; a ``Sagsnr.`` line before the first section is its
case number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, time
from urllib.parse import quote, urljoin, urlsplit

import lxml.html
from lxml import etree

from bot.errors import ExtractError, ParseError
from bot.fetch import Fetcher, Response
from bot.parse.extract import clean_text, html_to_text
from bot.parse.minutes import Attachment, DocKind, ParsedItem, collapse
from bot.parse.parser import build_item
from bot.parse.sections import is_section_heading, time_in

# data: URIs as attribute values (img src) and in inline styles' url(); text that merely says
# "data:" is left alone. Base64 holds no quotes or parentheses, so each class stops at its end.
_DATA_ATTRIBUTE = re.compile(rb"""(=\s*)(["'])\s*data:[^"']*\2""", re.I)
_DATA_URL = re.compile(rb"""url\(\s*["']?\s*data:[^)"']*["']?\s*\)""", re.I)
_CASE_PARAGRAPH = re.compile(r"^sags?\s*(?:nr|nummer)\.?\s*:?\s*([0-9][\w./-]*)$", re.I)
_CASE_LINE = re.compile(r"^\**\s*Sags(?:nr|nummer|\s+nr)\.?\s*:?\s*(?P<case>[0-9][\w./-]*\w)\s*\**$", re.I)
_PLACE = re.compile(r"\b(?:Mødested|Sted)\b\s*:?\s*(?P<place>[^\n]{2,120})", re.I)
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_INLINE_BOLD = ("strong", "b")


def drop_data_uris(content: bytes) -> bytes:
    """The page without its inline images' bytes (a regular expression: linear and cheap)."""
    return _DATA_URL.sub(b"url()", _DATA_ATTRIBUTE.sub(rb'\1""', content))


def page_root(content: bytes, url: str) -> lxml.html.HtmlElement:
    """A page as a tree, read as UTF-8 whatever the Content-Type says, inline data dropped."""
    text = drop_data_uris(content).decode("utf-8", errors="replace")
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        return lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError):
        raise ParseError(f"{url}: an empty page, not HTML") from None


def get_page(fetcher: Fetcher, url: str, listing: bool = False) -> tuple[Response, lxml.html.HtmlElement]:
    """GET and parse a page; a listing is fetched conditionally and its body kept for a 304."""
    response = fetcher.get(url, conditional=True, keep_body=listing)
    return response, page_root(response.content, url)


def text_of(element: lxml.html.HtmlElement) -> str:
    return collapse(clean_text(element.text_content()))


def site_path(href: str) -> str:
    """A link's path and query, whatever host it names: requests go to the configured root."""
    parts = urlsplit(href.strip())
    return parts.path + (f"?{parts.query}" if parts.query else "")


def kind_of(*texts: str) -> DocKind | None:
    """Agenda, supplement or minutes, from the first text that says which."""
    for text in texts:
        folded = text.casefold()
        if "tillæg" in folded or "tillaeg" in folded:
            return "tillægsdagsorden"
        if "referat" in folded or "beslutningsprotokol" in folded:
            return "referat"
        if "dagsorden" in folded:
            return "dagsorden"
    return None


def start_and_place(text: str) -> tuple[time | None, str | None]:
    """The meeting's time (``kl. 15:00``) and place (``Mødested: …``) from a page's header text."""
    place = _PLACE.search(text)
    return time_in(text), collapse(place.group("place")) if place else None


def header_text(root: lxml.html.HtmlElement, first: lxml.html.HtmlElement | None) -> str:
    """The page's text before its first item (where the time and place are), a line per text node."""
    body = root.find("body")
    lines = []
    for element in (body if body is not None else root).iter():
        if element is first:
            break
        if isinstance(element.tag, str) and element.tag not in ("script", "style", "template"):
            lines += [text.strip() for text in (element.text, element.tail) if text and text.strip()]
    return "\n".join(lines)


def item_from(
    elements: Iterable[lxml.html.HtmlElement],
    number: int | None,
    title: str,
    committee: str,
    day: date,
    page_url: str,
    portal_id: str | None = None,
    url: str | None = None,
) -> ParsedItem:
    """One item from the elements that hold its text (each with its tail)."""
    parts = list(elements)
    for element in parts:
        _promote_bold_headings(element)
    html = "".join(lxml.html.tostring(element, encoding="unicode") for element in parts)
    attachments = _attachments(parts, page_url)
    try:
        body = html_to_text(html)
    except ExtractError as exc:
        raise ParseError(f"{page_url}: item {number}: {exc}") from None
    case, body = _case_number(body)
    item = build_item(number, title, case, body, committee, day, portal_id=portal_id, url=url)
    return replace(item, attachments=attachments) if attachments and not item.closed else item


def _promote_bold_headings(root: lxml.html.HtmlElement) -> None:
    """``<strong>Indstilling</strong>`` on a line of its own is a section heading: make it one.

    Only bold text that starts its block and ends its line, and names a known section, so a
    bold word in a sentence stays text."""
    for bold in list(root.iter(*_INLINE_BOLD)):
        parent = bold.getparent()
        if parent is None:
            continue
        before = bold.getprevious()
        starts = not (parent.text or "").strip() if before is None else before.tag == "br" and not _tail(before)
        after = bold.getnext()
        ends = not _tail(bold) and (after is None or after.tag == "br")
        if starts and ends and is_section_heading(text_of(bold)):
            bold.tag = "h3"
            bold.attrib.clear()


def _tail(element: lxml.html.HtmlElement) -> str:
    return (element.tail or "").strip()


def _attachments(parts: list[lxml.html.HtmlElement], page_url: str) -> tuple[Attachment, ...]:
    """The links after a ``Bilag`` heading, each with its name and absolute address."""
    found: list[Attachment] = []
    heading = ""
    for element in (element for part in parts for element in part.iter()):
        if not isinstance(element.tag, str):
            continue
        if element.tag in _HEADINGS:
            heading = text_of(element).casefold()
        elif element.tag == "a" and heading.startswith("bilag") and element.get("href", "").strip():
            name = text_of(element)
            if name:
                found.append(Attachment(name, absolute(page_url, element.get("href", ""))))
    return tuple(dict.fromkeys(found))


def absolute(page_url: str, href: str) -> str:
    """A link as an address that can be used as is: eDoc writes file paths with backslashes and
    spaces (``\\Edoc\\Økonomiudvalget\\…\\Bilag 1.pdf``)."""
    return quote(urljoin(page_url, href.strip().replace("\\", "/")), safe=":/?&=#%@+,;~!$'()*[]")


def _case_number(body: str) -> tuple[str | None, str]:
    """A ``Sagsnr.: …`` line before the item's first section: the case number, out of the text."""
    lines = body.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("#"):
            break
        match = _CASE_LINE.match(line.strip())
        if match:
            return match.group("case"), "\n".join(lines[:index] + lines[index + 1 :])
    return None, body


def take_case_number(parts: list[lxml.html.HtmlElement]) -> str | None:
    """A paragraph ``Sagsnr.: 26/01234`` is the case number; it is taken out of ``parts``."""
    for index, part in enumerate(parts):
        # the part and its children only: the line sits at the top of the item's text
        for element in (part, *part.iterchildren("p", "div", "span")):
            found = _CASE_PARAGRAPH.match(text_of(element)) if element.tag in ("p", "div", "span") else None
            if found:
                if element is part:
                    del parts[index]
                else:
                    element.drop_tree()  # keeps its tail
                return found.group(1)
    return None
