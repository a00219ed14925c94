"""No work without a reader (issue 17, point 3): no match pass when no watchlist exists, and no
feed or page rendered when nothing they show has changed — with the same output as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.config import load_config
from bot.run.pipeline import open_store, run_cycle
from bot.store.models import Event

from .helpers import add_watchlists, decided, json_lines, put, standard_agenda, write_config

pytestmark = pytest.mark.usefixtures("database")


def cycle(config: Path) -> object:
    loaded = load_config(config)
    with open_store(loaded) as store:
        return run_cycle(loaded, store)


def feed_files(tmp_path: Path) -> dict[str, bytes]:
    folder = tmp_path / "state" / "feeds"
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_without_watchlists_changes_are_marked_seen_and_a_new_watchlist_looks_back(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config)
    with open_store(load_config(config)) as store, store.session() as session:
        assert session.exec(select(Event.id).where(col(Event.matched).is_(False))).all() == []
    add_watchlists(tmp_path, bus='terms = ["busplan"]\n')
    cycle(config)
    assert [match["title"] for match in json_lines(config, "matches")] == ["Busplan 2027"]


def test_a_publish_with_nothing_new_renders_nothing_and_anything_new_renders_again(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    add_watchlists(tmp_path, bus='terms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config)
    first = feed_files(tmp_path)
    quiet = cycle(config)
    assert (quiet.feeds.written, quiet.feeds.pages) == (0, 0), "nothing changed: nothing rendered"  # type: ignore[attr-defined]
    assert feed_files(tmp_path) == first
    put(tmp_path, "referat.md", decided(standard_agenda()))
    assert cycle(config).feeds.pages > 0, "a new document: its pages"  # type: ignore[attr-defined]
    (tmp_path / "state" / "feeds" / "index.html").unlink()
    assert cycle(config).feeds.written > 0 and (tmp_path / "state" / "feeds" / "index.html").is_file()  # type: ignore[attr-defined]
    page = next((tmp_path / "state" / "feeds" / "items").iterdir())
    page.unlink()
    cycle(config)
    assert page.is_file(), "a deleted page is written again"
    text = config.read_text(encoding="utf-8")
    config.write_text(text + '\n[feeds]\nbase_url = "https://example.org/vagt/"\n', encoding="utf-8")
    cycle(config)
    assert b"https://example.org/vagt/bus.xml" in (tmp_path / "state" / "feeds" / "bus.xml").read_bytes()
