"""An item page in a real headless browser (Debian's chromium; `.ci/run` installs it): the page a
feed entry opens, at a phone's width, with its headings, its decision block and working links."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import lxml.html
import pytest

from .helpers import decided, run_cli, standard_agenda, write_config
from .webtools import chromium, feed_server, free_port, needs_chromium

pytestmark = needs_chromium


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    config = write_config(tmp_path)
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[feeds]\nbase_url = "{base}"\n')
    watchlists = tmp_path / "watchlists"
    watchlists.mkdir()
    (watchlists / "budget.toml").write_text('title = "Budget"\nterms = ["budgetopfølgning"]\n', encoding="utf-8")
    (tmp_path / "minutes" / "dagsorden.md").write_text(standard_agenda().text(), encoding="utf-8")
    assert run_cli(config, "ingest").exit_code == 0
    minutes = decided(standard_agenda()).text().replace("2,4 mio. kr.", "2,6 mio. kr.")
    (tmp_path / "minutes" / "referat.md").write_text(minutes, encoding="utf-8")
    assert run_cli(config, "ingest").exit_code == 0
    with feed_server(tmp_path / "state" / "feeds", port):
        yield base


def test_the_item_page_a_feed_entry_opens_reads_well_on_a_phone_and_its_links_resolve(
    site: str, tmp_path: Path
) -> None:
    with urllib.request.urlopen(f"{site}budget.xml", timeout=10) as response:
        newest = feedparser.parse(response.read()).entries[0]
    page_url = newest.link
    assert page_url.startswith(f"{site}items/")

    shot = tmp_path / "item.png"
    chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=412,1400", page_url)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000, "a page was drawn"

    page = lxml.html.fromstring(chromium(tmp_path / "profile", "--dump-dom", page_url))
    assert " ".join(page.findtext(".//h1").split()) == "Punkt 2: Budgetopfølgning 3. kvartal"
    headings = [" ".join(h.text_content().split()) for h in page.iter("h2")]
    assert headings[:3] == ["Beslutning", "Indstilling", "Økonomiske konsekvenser"]
    assert {"Historik", "Feeds med punktet"} <= set(headings)
    [decision] = page.find_class("decision")
    assert "Godkendt." in decision.text_content()
    history = page.get_element_by_id("historik")
    assert [d.text_content() for d in history.iter("del")] == ["2,4"], "the change is shown as a diff"

    links = [a.get("href") for a in page.iter("a")]
    assert "../index.html" in links and "../budget.xml" in links
    for link in links:
        with urllib.request.urlopen(urljoin(page_url, link).split("#")[0], timeout=10) as response:
            assert response.status == 200, link
