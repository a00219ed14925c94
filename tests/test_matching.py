"""Watchlists over the real store (SQLite and PostgreSQL): matches recorded once each, backfill, and the
CLI around them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.config import load_config
from bot.match import matches
from bot.match.matcher import ItemText
from bot.match.matches import sync_watchlists
from bot.match.watchlists import Watchlist
from bot.run.pipeline import ingest_source, open_store, run_cycle
from bot.run.report import RunReport
from bot.store import Store
from bot.store.models import Event, Match, WatchlistState

from .helpers import Doc, decided, json_lines, run_cli, standard_agenda, write_config

pytestmark = pytest.mark.usefixtures("database")

T0 = datetime(2026, 11, 2, 18, 0, tzinfo=timezone.utc)


def setup(tmp_path: Path, database_url: str | None = None, **watchlists: str) -> Path:
    config = write_config(tmp_path, database_url=database_url)
    for slug, text in watchlists.items():
        watch(tmp_path, slug, text)
    return config


def watch(tmp_path: Path, slug: str, text: str) -> None:
    folder = tmp_path / "watchlists"
    folder.mkdir(exist_ok=True)
    (folder / f"{slug}.toml").write_text(text, encoding="utf-8")


def put(tmp_path: Path, name: str, doc: Doc) -> None:
    (tmp_path / "minutes" / name).write_text(doc.text(), encoding="utf-8")


def match_rows(store: Store) -> list[dict[str, Any]]:
    """Every match row but its id, ordered by watchlist and version."""
    with store.session() as session:
        found = session.exec(select(Match).order_by(col(Match.watchlist), col(Match.version_id)))
        return [match.model_dump(exclude={"id"}) for match in found]


def count(store: Store, table: type[Any], *where: Any) -> int:
    with store.session() as session:
        return session.exec(select(func.count()).select_from(table).where(*where)).one()


def cycle(config: Path, now: datetime) -> RunReport:
    loaded = load_config(config)
    with open_store(loaded) as store:
        return run_cycle(loaded, store, now)


def test_ingest_records_matches_once_with_terms_snippet_and_event(tmp_path: Path) -> None:
    config = setup(tmp_path, budget='title = "Budget"\nterms = ["budget", "=bus"]\n', bus='terms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    result = run_cli(config, "ingest")
    assert result.stdout.strip().endswith("4 new, 0 changed, 0 removed items; 2 new matches; 0 errors")
    put(tmp_path, "referat.md", decided(standard_agenda()))
    assert (
        run_cli(config, "ingest").stdout.strip().endswith("0 new, 3 changed, 0 removed items; 2 new matches; 0 errors")
    )
    assert run_cli(config, "ingest").stdout.strip().endswith("0 new matches; 0 errors")

    found = json_lines(config, "matches")
    assert [(m["watchlist"], m["number"], m["event"], m["decision_added"]) for m in found] == [
        ("budget", 2, "new", False),
        ("bus", 3, "new", False),
        ("budget", 2, "changed", True),
        ("bus", 3, "changed", True),
    ]
    first = found[0]
    assert first["terms"] == ["budget"]
    assert first["snippet"] == "At **budgetopfølgningen** tages til efterretning."
    assert first["title"] == "Budgetopfølgning 3. kvartal" and first["kommune"] == "Testrup"
    assert first["backfill"] is True, "matches from a source's first ingest are backfill (no email)"
    assert found[2]["backfill"] is False
    assert found[2]["changed_sections"] == ["Beslutning i Økonomiudvalget den 02-11-2026"]
    assert [m["watchlist"] for m in json_lines(config, "matches") if m["watchlist"] == "bus"] == ["bus", "bus"]
    only_bus = run_cli(config, "matches", "--watchlist", "bus", "--json").stdout.splitlines()
    assert len(only_bus) == 2


def test_a_new_watchlist_looks_back_backfill_days_and_then_follows_new_items(tmp_path: Path) -> None:
    config = setup(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, T0)
    watch(tmp_path, "recent", 'terms = ["busplan"]\nbackfill_days = 30\n')
    watch(tmp_path, "none", 'terms = ["busplan"]\nbackfill_days = 0\n')
    assert cycle(config, T0 + timedelta(days=10)).matches == 1
    assert [(m["watchlist"], m["backfill"]) for m in json_lines(config, "matches")] == [("recent", True)]
    put(tmp_path, "referat.md", decided(standard_agenda()))
    assert cycle(config, T0 + timedelta(days=11)).matches == 2
    later = [(m["watchlist"], m["event"], m["backfill"]) for m in json_lines(config, "matches")][1:]
    assert sorted(later) == [("none", "changed", False), ("recent", "changed", False)]


BACKFILLED = [
    Watchlist(slug="bus", terms=("busplan",), backfill_days=30),
    Watchlist(slug="recent-budget", terms=("budget",), backfill_days=10),
    Watchlist(slug="agenda", terms=("=dagsorden",), all=("godkendes",)),
    Watchlist(slug="never", terms=("busplan",), backfill_days=0),
    Watchlist(slug="closed", cases=("26/400",)),
    Watchlist(slug="decided", terms=("godkendt",), sections=("Beslutning",), backfill_days=10),
    Watchlist(slug="school", terms=("skole",), exclude=("busplan",), committees=("Børne",)),
    Watchlist(slug="recent-school", terms=("skole",), backfill_days=10),
]


def backfilled(tmp_path: Path, batches: list[list[Watchlist]], database_url: str) -> list[dict[str, Any]]:
    """Every match row (but its id) after syncing the watchlists batch by batch, 25 days after an
    agenda of two committees; one committee's minutes came 20 days after the agenda."""
    config = setup(tmp_path, database_url)
    put(tmp_path, "dagsorden.md", standard_agenda())
    schools = Doc(committee="Børne- og Skoleudvalget").item(1, "Ny skole", "26/500", Indstilling="Skole og busplan.")
    put(tmp_path, "skole.md", schools.item(2, "Skoledistrikter", "26/600", Indstilling="Nye skoledistrikter."))
    cycle(config, T0)
    put(tmp_path, "referat.md", decided(standard_agenda()))
    cycle(config, T0 + timedelta(days=20))
    with open_store(load_config(config)) as store:
        for batch in batches:
            sync_watchlists(store, batch, T0 + timedelta(days=25))
        return match_rows(store)


def test_new_watchlists_look_back_together_as_each_would_alone(
    tmp_path: Path, another_database: Callable[[], str]
) -> None:
    together = backfilled(tmp_path / "together", [BACKFILLED], another_database())
    assert together == backfilled(tmp_path / "alone", [[watchlist] for watchlist in BACKFILLED], another_database())
    assert sorted({(row["watchlist"], row["kind"], tuple(row["terms"])) for row in together}) == [
        ("agenda", "changed", ("=dagsorden", "godkendes")),
        ("bus", "changed", ("busplan",)),  # the minutes, 5 days old
        ("bus", "new", ("busplan",)),  # the school agenda, 25 days old
        ("closed", "new", ()),
        ("decided", "changed", ("godkendt",)),
        ("recent-budget", "changed", ("budget",)),
        ("school", "new", ("skole",)),
    ], "each watchlist looks back its own backfill_days: never and recent-school find nothing"


def test_a_look_back_cut_short_is_done_again_without_doubling_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, another_database: Callable[[], str]
) -> None:
    clean = backfilled(tmp_path / "clean", [BACKFILLED], another_database())
    monkeypatch.setattr(matches, "BATCH", 1)  # a transaction per item
    read = matches.item_text
    calls = iter(range(1000))

    def crash_on_the_third_item(*args: Any) -> ItemText:
        if next(calls) == 2:
            raise KeyboardInterrupt  # the process stops in the middle of the look back
        return read(*args)

    assert backfilled(tmp_path / "cut", [], another_database()) == [], "the same items, no watchlists yet"
    store = open_store(load_config(tmp_path / "cut" / "config.toml"))
    monkeypatch.setattr(matches, "item_text", crash_on_the_third_item)
    with pytest.raises(KeyboardInterrupt):
        sync_watchlists(store, BACKFILLED, T0 + timedelta(days=25))
    assert 0 < count(store, Match) < len(clean), "a part was kept"
    assert count(store, WatchlistState) == 0, "but not marked done"
    monkeypatch.setattr(matches, "item_text", read)
    with store:
        sync_watchlists(store, BACKFILLED, T0 + timedelta(days=25))
        assert match_rows(store) == clean


def test_an_edited_watchlist_is_run_again_and_an_unchanged_one_is_not(tmp_path: Path) -> None:
    config = setup(tmp_path, w='terms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    assert cycle(config, T0).matches == 1
    assert cycle(config, T0 + timedelta(hours=1)).matches == 0
    watch(tmp_path, "w", 'terms = ["busplan", "dagsorden"]\n')
    assert cycle(config, T0 + timedelta(hours=2)).matches == 1
    assert [m["number"] for m in json_lines(config, "matches")] == [3, 1]


def test_events_stored_before_a_crash_are_matched_by_the_next_run(tmp_path: Path) -> None:
    config = setup(tmp_path, w='terms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    loaded = load_config(config)
    with open_store(loaded) as store:
        ingest_source(loaded.sources[0], store, RunReport(), T0)  # stored, then "crashed" before matching
        assert count(store, Event, col(Event.matched).is_(False)) == 4
    assert cycle(config, T0 + timedelta(minutes=5)).matches == 1
    with open_store(loaded) as store:
        assert count(store, Event, col(Event.matched).is_(False)) == 0
        assert count(store, Match) == 1


def test_a_broken_watchlist_is_reported_and_the_others_still_match(tmp_path: Path) -> None:
    config = setup(tmp_path, broken='terms = ["a"]\n', good='terms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    result = run_cli(config, "ingest")
    assert result.exit_code == 3
    assert f"error: {tmp_path / 'watchlists' / 'broken.toml'}:1: terms[1]: 'a': too short" in result.stderr
    assert result.stdout.strip().endswith("1 new match; 1 error")


def test_check_validates_config_and_watchlists(tmp_path: Path) -> None:
    config = setup(tmp_path, good='terms = ["busplan"]\n')
    result = run_cli(config, "check")
    assert result.exit_code == 0
    assert "1 OK, 0 with errors" in result.stdout
    watch(tmp_path, "bad", 'terms = ["ok"]\nfeed = true\n')
    result = run_cli(config, "check")
    assert result.exit_code == 1
    assert f"{tmp_path / 'watchlists' / 'bad.toml'}:2: feed: unknown key" in result.stderr
    (tmp_path / "config.toml").write_text("[bot]\nstate = 1\n", encoding="utf-8")
    assert run_cli(config, "check").exit_code == 2


def test_try_shows_matching_items_with_snippets_and_a_count(tmp_path: Path) -> None:
    config = setup(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    run_cli(config, "ingest")
    result = run_cli(config, "try", "busplan", "=dagsorden")
    assert result.exit_code == 0
    assert "Testrup · Økonomiudvalget 02.11.2026 · Punkt 3: Busplan 2027" in result.stdout
    assert "**busplan**" in result.stdout.lower()
    assert result.stdout.strip().endswith("2 of 4 items match")
    rows = [json.loads(line) for line in run_cli(config, "try", "busplan", "--json").stdout.splitlines()]
    assert [(r["number"], r["terms"]) for r in rows] == [(3, ["busplan"])]
    assert {"snippet", "sections", "decision", "kommune"} <= set(rows[0])
    bad = run_cli(config, "try", "a")
    assert bad.exit_code == 2 and "'a': too short" in bad.stderr


def test_only_new_text_without_attachments_beside_a_watchlist_that_reads_them() -> None:
    """One watchlist reads attachments (so the item carries them), another matches only new text
    and not attachments: each is evaluated on its own, without tripping over the other's bilag."""
    from bot.match.matcher import AttachmentText, ItemText, Matcher
    from bot.match.watchlists import watchlist_from_text

    reads = watchlist_from_text('terms = ["busplan"]\nattachments = true\n', Path("reads.toml"))
    new_only = watchlist_from_text('terms = ["busplan"]\nonly_new_text = true\n', Path("new.toml"))
    item = ItemText(
        kommune="Testrup",
        committee="Teknik- og Miljøudvalget",
        case_number=None,
        title="Busplan 2027",
        sections=(("Sagsfremstilling", "Forslag til ny busplan med fire nye linjer."),),
        added=(("Sagsfremstilling", "ny busplan med fire"),),
        attachments=(AttachmentText("Bilag 1 Køreplan", None, "busplan for linje 4", new=True),),
    )
    assert [found.slug for found in Matcher([reads, new_only]).match(item)] == ["reads", "new"]
