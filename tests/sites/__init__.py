"""Imitations of the kommuner's publishing sites (one module per system), and what the site
tests share: a folder source to run beside a site, the ingest command, and one cycle with a
client that gives up fast."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.config import load_config
from bot.fetch import FetchSettings
from bot.http_cache import store_fetcher
from bot.run.pipeline import open_store, run_cycle
from bot.run.report import RunReport

from ..helpers import run_cli, standard_agenda

# The CLI's client waits and retries for seconds; a test of a timeout or a 500 needs none of that.
FAST = FetchSettings(min_interval=0, timeout=0.4, connect_timeout=1, attempts=1)


def folder_source(tmp_path: Path) -> str:
    """A folder source with one agenda, to show that the other sources still run."""
    folder = tmp_path / "minutes"
    folder.mkdir(exist_ok=True)
    (folder / "dagsorden.md").write_text(standard_agenda().text(), encoding="utf-8")
    return f'name = "local"\nkommune = "Testrup"\ntype = "folder"\npath = "{folder}"'


def ingest(config: Path, expect: int = 0) -> str:
    """``referatvagt ingest``'s summary line, after checking its exit code."""
    result = run_cli(config, "ingest")
    assert result.exit_code == expect, result.stderr
    return result.stdout.strip()


def cycle(config: Path, settings: FetchSettings = FAST, now: datetime | None = None) -> RunReport:
    """One run of every source with a client of these settings."""
    loaded = load_config(config)
    with open_store(loaded) as store:
        fetcher = store_fetcher(store, settings)
        try:
            return run_cycle(loaded, store, fetcher=fetcher, now=now)
        finally:
            fetcher.close()
