"""``type = "http-index"``: a web page that links to minutes documents (PDF or HTML).

For portals without an adapter. The page is fetched, the links are found with a regular
expression (``link_pattern``, searched in each link as written and as an absolute URL, both
without their ``#fragment``) or a
CSS selector (``link_selector``), and each target is fetched with a conditional GET. The
pipeline extracts and parses the bytes like a folder source's files; a document that did not
change since the last run (304, or the same bytes) is counted as unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urldefrag, urljoin

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from bot.errors import FetchError
from bot.fetch import Fetcher
from bot.source_config import HttpIndexSource as HttpIndexConfig
from bot.sources.base import HttpSource, RawDocument

MAX_LINKS = 500  # a pattern that matches every link on a big page is a mistake, not a backfill
_MAX_HREF = 2000  # longer hrefs are not document links (and keep user regexes cheap)


def find_links(page: bytes, page_url: str, pattern: str | None = None, selector: str | None = None) -> list[str]:
    """Absolute http(s) URLs of the wanted links, in page order, each once, without #fragments."""
    try:
        root = lxml.html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        return []
    base = page_url
    for element in root.iter("base"):
        if element.get("href"):
            base = urljoin(page_url, element.get("href", "").strip())
            break
    if selector is not None:
        hrefs = [_href(element) for element in CSSSelector(selector)(root)]
    else:
        regex = re.compile(pattern or "")
        hrefs = [element.get("href") for element in root.iter("a")]
        hrefs = [h for h in hrefs if h and len(h) <= _MAX_HREF and _matches(regex, h.strip(), urljoin(base, h.strip()))]
    links: dict[str, None] = {}
    for href in hrefs:
        if not href or len(href) > _MAX_HREF:
            continue
        url = urldefrag(urljoin(base, href.strip()))[0]
        if url.startswith(("http://", "https://")):
            links.setdefault(url, None)
    return list(links)


def _href(element: etree._Element) -> str | None:
    """A selected element's link: its own href, else the first link inside it."""
    own = element.get("href")
    if own:
        return str(own)
    inner = element.find(".//a[@href]")
    return str(inner.get("href")) if inner is not None else None


def _matches(regex: re.Pattern[str], href: str, absolute: str) -> bool:
    """The pattern is searched in the link as written and as an absolute URL, without #fragment."""
    return bool(regex.search(urldefrag(href)[0]) or regex.search(urldefrag(absolute)[0]))


class HttpIndex(HttpSource):
    """A listing page and the minutes documents (PDF or HTML) its links point to."""

    type = "http-index"
    config: HttpIndexConfig

    def fetch_with(self, fetcher: Fetcher) -> Iterator[RawDocument | FetchError]:
        config = self.config
        fetcher.pace(config.url, config.min_interval)
        page = fetcher.get(config.url, conditional=True, keep_body=True)
        links = find_links(page.content, page.final_url, config.link_pattern, config.link_selector)
        self.listed = len(links)
        if len(links) > MAX_LINKS:
            yield FetchError(
                f"{config.url}: {len(links)} links match; only the first {MAX_LINKS} are read "
                "(make link_pattern or link_selector stricter)"
            )
            links = links[:MAX_LINKS]
        for link in links:
            try:
                response = fetcher.get(link, conditional=True)
            except FetchError as exc:
                yield exc
                continue
            yield RawDocument(
                key=link,
                name=link,
                content=response.content,
                fetched_at=response.fetched_at,
                url=link,
                published_at=response.last_modified,
            )
