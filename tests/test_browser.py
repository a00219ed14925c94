"""The index page in a real headless browser (Debian's chromium; `.ci/run` installs it)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .helpers import run_cli, standard_agenda, write_config
from .webtools import chromium, feed_server, free_port, needs_chromium


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag in ("a", "link") and href:
            self.links.append(href)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    config = write_config(tmp_path)
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[feeds]\nbase_url = "{base}"\n')
    watchlists = tmp_path / "watchlists"
    watchlists.mkdir()
    (watchlists / "busser.toml").write_text('title = "Busser og veje"\nterms = ["busplan"]\n', encoding="utf-8")
    (watchlists / "hemmelig.toml").write_text('title = "Hemmelig"\nterms = ["budget"]\npublic = false\n', "utf-8")
    (tmp_path / "minutes" / "dagsorden.md").write_text(standard_agenda().text(), encoding="utf-8")
    assert run_cli(config, "ingest").exit_code == 0
    with feed_server(tmp_path / "state" / "feeds", port):
        yield base


@needs_chromium
def test_the_index_page_loads_in_a_browser_lists_public_feeds_and_every_link_resolves(
    site: str, tmp_path: Path
) -> None:
    dom = chromium(tmp_path / "chromium-profile", "--dump-dom", f"{site}index.html")
    page = _Links()
    page.feed(dom)
    text = " ".join(page.text)
    assert "Busser og veje" in text and "busplan" in text
    assert "Hemmelig" not in text and "hemmelig" not in dom, "private feeds are not listed"
    assert "Punkt 3: Busplan 2027" in text, "the newest entries are shown"
    assert page.links, "the page has links"
    for link in page.links:
        url = link if link.startswith("http") else site + link
        with urllib.request.urlopen(url.split("#")[0], timeout=10) as response:
            assert response.status == 200, link
