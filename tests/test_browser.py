"""The index page in a real headless browser (Debian's chromium; `.ci/run` installs it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.serve import make_server

from .helpers import run_cli, standard_agenda, write_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
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
    server = make_server(tmp_path / "state" / "feeds", port=port, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_index_page_loads_in_a_browser_lists_public_feeds_and_every_link_resolves(
    site: str, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    profile = tmp_path / "chromium-profile"
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            f"{site}index.html",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
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
