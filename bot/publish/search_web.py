"""The search page and its feed, computed on request by ``referatvagt serve``.

``/search?q=…`` is a Danish page: the form, the newest items the query matches with snippets,
and for the query a ready watchlist file and the address of its feed, ``/search.xml?q=…`` (RSS,
rendered like the static feeds by :mod:`bot.publish.feeds`). The store is opened read-only, once, at the
first search. At most ``SearchLimits.searches`` searches are computed at once; one beyond that
waits ``SearchLimits.wait`` seconds for its turn, then gets ``503`` with ``Retry-After``, as a
request beyond :class:`bot.publish.serve.Limits` does. A query the language refuses is ``400`` with its
reason on the page, never a traceback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from bot import __version__
from bot.config import Config
from bot.errors import StoreError
from bot.parse.extract import clean_text
from bot.publish.entries import build_entry, highlighted
from bot.publish.feeds import NO_ENTRIES, Feed, render_rss
from bot.publish.pages import page_url
from bot.publish.search import FIELDS, Found, Results, SearchError, SearchLimits, SearchQuery, parse_query, run_search
from bot.publish.serve import RETRY_AFTER, Page, Pages
from bot.store import Store

HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
# Offered as the section filter's suggestions; any heading the README's section rules know works
SECTIONS = ("Titel", "Beslutning", "Indstilling", "Resumé", "Sagsfremstilling", "Økonomi", "Beslutningstema")
_TEMPLATES = Environment(
    loader=PackageLoader("bot", "templates"), autoescape=select_autoescape(["html", "j2"]), keep_trailing_newline=True
)


class _Busy(Exception):
    """Every search slot stayed taken for the whole wait."""


class SearchApp:
    """``/search`` and ``/search.xml`` over one store, opened read-only by ``open_store`` when first needed."""

    def __init__(self, config: Config, open_store: Callable[[], Store], limits: SearchLimits | None = None) -> None:
        self.config = config
        self.limits = limits = limits or SearchLimits()
        self._open_store = open_store
        self._store: Store | None = None
        self._opening = threading.Lock()
        self._slots = threading.BoundedSemaphore(limits.searches)

    def pages(self) -> Pages:
        return {"/search": self.page, "/search.xml": self.feed}

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def store(self) -> Store:
        with self._opening:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    @contextmanager
    def _turn(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.limits.wait):
            raise _Busy
        try:
            yield
        finally:
            self._slots.release()

    def page(self, target: str) -> Page:
        """The search page for a request target such as ``/search?q=busplan&kommune=Lindholm``."""
        context: dict[str, object] = {"params": {}, "limits": self.limits, "sections": SECTIONS}
        try:
            context["params"] = params = _params(target)
            query = parse_query(params, self.limits)
            with self._turn():
                store = self.store()
                context.update(kommuner=store.kommuner(), committees=store.committees())
                if not query.empty:
                    results = run_search(store, query, self.limits)
                    context.update(self._shown(query, results))
        except SearchError as exc:
            return self._html(400, {**context, "error": str(exc)})
        except StoreError as exc:
            return self._html(503, {**context, "unavailable": str(exc)})
        except _Busy:
            return _busy()
        return self._html(200, context)

    def feed(self, target: str) -> Page:
        """The RSS feed of a search: its newest results, computed on request."""
        try:
            query = parse_query(_params(target), self.limits)
            if query.empty:
                raise SearchError("skriv mindst ét søgeord (q)")
            with self._turn():
                results = run_search(self.store(), query, self.limits)
        except SearchError as exc:
            return _text(400, f"Søgningen kan ikke bruges: {exc}\n")
        except StoreError:
            return _text(503, "Søgningen er ikke tilgængelig lige nu: lageret kan ikke læses.\n")
        except _Busy:
            return _busy()
        feed = self._feed(query, results)
        newest = max((entry.published for entry in feed.entries), default=NO_ENTRIES)
        return Page(200, RSS, render_rss(feed, self.config), cache="max-age=300", modified=newest.timestamp())

    # --- the page -----------------------------------------------------------------------------

    def _shown(self, query: SearchQuery, results: Results) -> dict[str, object]:
        address = urlencode(query.params())
        return {
            "query": query,
            "results": [self._result(found) for found in results.found],
            "scanned": results.scanned,
            "scan_capped": results.scan_capped,
            "more": results.more,
            "toml": query.toml(),
            "feed_path": f"search.xml?{address}",
            "feed_url": f"{self.config.feeds.base_url}search.xml?{address}",
        }

    def _result(self, found: Found) -> dict[str, object]:
        row = found.row
        snippet = found.snippet
        pieces, last = [], 0
        for start, end in snippet.highlights:
            pieces += [(snippet.text[last:start], False), (snippet.text[start:end], True)]
            last = end
        pieces.append((snippet.text[last:], False))
        return {
            "title": f"Punkt {row.item.number}: {row.version.title}",
            "kommune": row.source.kommune,
            "committee": row.meeting.committee,
            "meeting_date": row.meeting.meeting_date.strftime("%d.%m.%Y"),
            "doc_kind": row.version.doc_kind,
            "case_number": row.version.case_number,
            "decision": bool(row.version.decision),
            "removed": row.item.removed,
            "link": page_url(self.config, row.item.uid),
            "snippet": [(text, hit) for text, hit in pieces if text],
            "terms": found.terms,
        }

    def _html(self, status: int, context: dict[str, object]) -> Page:
        page = _TEMPLATES.get_template("search.html.j2").render(**context, version=__version__)
        return Page(status, HTML, page.encode())

    # --- the feed -----------------------------------------------------------------------------

    def _feed(self, query: SearchQuery, results: Results) -> Feed:
        words = ", ".join((*query.terms, *query.all))
        base, address = self.config.feeds.base_url, urlencode(query.params())
        # The feed's own address holds the query, which bot.publish.feeds' file paths cannot
        links = (f"{base}search.xml?{address}", f"{base}search?{address}")
        feed = Feed("search", "search", f"referatvagt: søgning efter {words}", _described(query), False, links=links)
        for found in results.found:
            entry = build_entry(self.config, "search", None, found.row, highlighted(found.snippet), found.terms)
            feed.entries.append(entry)
        return feed


def _described(query: SearchQuery) -> str:
    parts = [f"Punkter i dagsordener og referater, der matcher: {', '.join(query.terms or query.all)}"]
    if query.terms and query.all:
        parts.append(f"og alle af: {', '.join(query.all)}")
    if query.exclude:
        parts.append(f"men ikke: {', '.join(query.exclude)}")
    for label, value in (("kommune", query.kommune), ("udvalg", query.committee), ("afsnit", query.section)):
        if value:
            parts.append(f"{label}: {value}")
    return _clean("; ".join(parts))


def _clean(text: str) -> str:
    return clean_text(text)


def _params(target: str) -> dict[str, str]:
    """The form's fields in a request target; the first value of each (others are ignored)."""
    try:
        found = parse_qs(urlsplit(target).query, keep_blank_values=True, max_num_fields=50)
    except ValueError:
        raise SearchError("for mange felter i adressen") from None
    return {name: values[0] for name, values in found.items() if name in FIELDS}


def _text(status: int, message: str) -> Page:
    return Page(status, "text/plain; charset=utf-8", message.encode())


def _busy() -> Page:
    page = _text(503, "Der søges allerede; prøv igen om lidt.\n")
    return Page(page.status, page.content_type, page.body, headers=(("Retry-After", str(RETRY_AFTER)),))
