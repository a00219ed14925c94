"""The search page in a real headless browser (Debian's chromium; `.ci/run` installs it)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.config import load_config
from bot.publish.search_web import SearchApp
from bot.run.pipeline import open_store

from .helpers import Doc, decided, run_cli, standard_agenda, write_config
from .webtools import chromium, feed_server, free_port, needs_chromium

pytestmark = needs_chromium


class _Page(HTMLParser):
    """What the browser's DOM holds: links, highlighted words, headings, the watchlist block."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.marks: list[str] = []
        self.headings: list[str] = []
        self.ids: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("a", "link") and found.get("href"):
            self.links.append(str(found["href"]))
        self._open.append(f"{tag}#{found.get('id') or ''}")

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if not self._open:
            return
        tag, _, ident = self._open[-1].partition("#")
        if tag == "mark":
            self.marks.append(data)
        if tag in ("h1", "h2", "h3") or (tag == "a" and len(self._open) > 1 and self._open[-2].startswith("h3")):
            self.headings.append(data.strip())
        if ident:
            self.ids[ident] = self.ids.get(ident, "") + data


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    config_path = write_config(tmp_path)
    with config_path.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[feeds]\nbase_url = "{base}"\n')
    technical = Doc(committee="Teknik- og Miljøudvalget", day="05-10-2026").item(
        1, "Busplan for landdistrikterne", "26/500", Sagsfremstilling="Busplanen giver flere busser til Vestby."
    )
    (tmp_path / "minutes" / "oekonomi.md").write_text(decided(standard_agenda()).text(), encoding="utf-8")
    (tmp_path / "minutes" / "teknik.md").write_text(technical.text(), encoding="utf-8")
    assert run_cli(config_path, "ingest").exit_code == 0
    config = load_config(config_path)
    app = SearchApp(config, lambda: open_store(config, read_only=True))
    try:
        with feed_server(config.bot.state_dir / "feeds", port, pages=app.pages()):
            yield base
    finally:
        app.close()


def test_the_search_page_shows_results_with_highlights_a_feed_and_a_watchlist(site: str, tmp_path: Path) -> None:
    url = f"{site}search?q=busplan&udvalg=udvalg"
    shot = tmp_path / "search.png"
    # A phone's width: the page must be readable there
    chromium(tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=412,1400", url)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    dom = chromium(tmp_path / "profile-dom", "--dump-dom", url)
    page = _Page()
    page.feed(dom)
    assert "Søg i punkterne" in page.headings
    assert page.ids["resultater"].strip() == "2 punkter"
    assert page.headings.index("Punkt 3: Busplan 2027") < page.headings.index("Punkt 1: Busplan for landdistrikterne")
    assert [mark.casefold() for mark in page.marks] == ["busplan", "busplanen"]
    assert page.ids["watchlist"].startswith("# Gem som watchlists/busplan.toml")
    assert 'terms = ["busplan"]' in page.ids["watchlist"] and 'committees = ["udvalg"]' in page.ids["watchlist"]
    assert page.ids["feed"] == f"{site}search.xml?q=busplan&udvalg=udvalg"
    assert "index.html" in page.links
    for link in page.links:  # the index, the feed, each item's page
        target = link if link.startswith("http") else site + link
        with urllib.request.urlopen(target.split("#")[0], timeout=10) as response:
            assert response.status == 200, link


def test_the_index_page_searches_through_its_form(site: str, tmp_path: Path) -> None:
    dom = chromium(tmp_path / "profile", "--dump-dom", f"{site}index.html")
    assert '<form class="search" method="get" action="search"' in dom
    with urllib.request.urlopen(f"{site}search?q=busplan", timeout=10) as response:
        assert response.status == 200 and "Busplan 2027" in response.read().decode()
