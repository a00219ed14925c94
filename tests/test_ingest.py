"""Ingesting a folder into the real store, SQLite and PostgreSQL: versions, identity and change events."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import load_config
from bot.run.pipeline import open_store
from bot.store.migrations import MIGRATIONS

from .helpers import Doc, decided, ingest, json_lines, put, standard_agenda, write_config

pytestmark = pytest.mark.usefixtures("database")


def test_an_agenda_creates_one_new_event_per_item(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    assert ingest(config) == "1 document read (0 unchanged): 4 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    events = json_lines(config, "events")
    assert [(e["kind"], e["number"]) for e in events] == [("new", 1), ("new", 2), ("new", 3), ("new", 4)]
    assert all(e["backfill"] for e in events), "the first ingest of a source is a backfill"
    items = json_lines(config, "items")
    assert items[3]["title"] == "Lukket: Personalesag" and items[3]["closed"] is True
    assert items[1]["sections"]["Økonomiske konsekvenser"] == "Der forventes et merforbrug på 2,4 mio. kr. i 2026."
    assert {i["doc_kind"] for i in items} == {"dagsorden"}
    assert {i["kommune"] for i in items} == {"Testrup"}


def test_the_minutes_add_decisions_to_the_agendas_items(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    agenda = standard_agenda()
    put(tmp_path, "dagsorden.md", agenda)
    ingest(config)
    put(tmp_path, "referat.md", decided(agenda))
    assert (
        ingest(config) == "2 documents read (1 unchanged): 0 new, 3 changed, 0 removed items; 0 new matches; 0 errors"
    )
    changes = [e for e in json_lines(config, "events") if e["kind"] == "changed"]
    assert [e["number"] for e in changes] == [1, 2, 3]
    assert all(e["decision_added"] for e in changes)
    assert all(e["changed_sections"] == ["Beslutning i Økonomiudvalget den 02-11-2026"] for e in changes)
    assert changes[0]["diff"] == "Beslutning i Økonomiudvalget den 02-11-2026: {+Godkendt.+}"
    assert not any(e["backfill"] for e in changes), "later ingests are not backfill"
    items = json_lines(config, "items")
    assert [(i["version"], i["doc_kind"], i["decision"]) for i in items[:3]] == [(2, "referat", "Godkendt.")] * 3
    assert items[0]["decisions"] == [{"committee": "Økonomiudvalget", "date": "2026-11-02", "text": "Godkendt."}]
    assert items[3]["version"] == 1, "the closed item did not change"


def test_minutes_win_over_the_agenda_whatever_order_they_are_read_in(
    tmp_path: Path, another_database: Callable[[], str]
) -> None:
    together, minutes_first = tmp_path / "together", tmp_path / "minutes_first"
    agenda = standard_agenda()
    for case in (together, minutes_first):
        put(case, "a-referat.md", decided(agenda))
    put(together, "b-dagsorden.md", agenda)
    config_together = write_config(together, database_url=another_database())
    ingest(config_together)
    kinds = [e["kind"] for e in json_lines(config_together, "events")]
    assert kinds == ["new"] * 4, "the minutes, read first, hold it all; the agenda read after them adds nothing"

    config_late = write_config(minutes_first, database_url=another_database())
    ingest(config_late)
    put(minutes_first, "b-dagsorden.md", agenda)
    assert ingest(config_late).endswith("0 new, 0 changed, 0 removed items; 0 new matches; 0 errors")
    assert {i["doc_kind"] for i in json_lines(config_late, "items")} == {"referat"}
    published = ("number", "title", "decision", "sections", "content_hash")
    late = [{key: item[key] for key in published} for item in json_lines(config_late, "items")]
    assert late == [{key: item[key] for key in published} for item in json_lines(config_together, "items")]


def test_a_correction_of_one_amount_is_one_change_with_a_word_diff(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    minutes = decided(standard_agenda())
    put(tmp_path, "referat.md", minutes)
    ingest(config)
    put(tmp_path, "referat.md", minutes.text().replace("2,4 mio. kr.", "2,6 mio. kr."))
    assert ingest(config).endswith("0 new, 1 changed, 0 removed items; 0 new matches; 0 errors")
    change = json_lines(config, "events")[-1]
    assert (change["kind"], change["number"], change["decision_added"]) == ("changed", 2, False)
    assert change["changed_sections"] == ["Økonomiske konsekvenser"]
    assert change["diff"] == "Økonomiske konsekvenser: Der forventes et merforbrug på [-2,4-] {+2,6+} mio. kr. i 2026."
    assert json_lines(config, "items")[1]["version"] == 2


def test_rewrapped_text_and_emphasis_are_no_change(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    put(tmp_path, "referat.md", decided(standard_agenda()))
    ingest(config)
    rewrapped = decided(standard_agenda()).text().replace("merforbrug på 2,4", "**merforbrug**\npå   2,4")
    put(tmp_path, "referat.md", rewrapped.replace("\n\n", "\n\n\n"))
    assert ingest(config) == "1 document read (0 unchanged): 0 new, 0 changed, 0 removed items; 0 new matches; 0 errors"


def test_ingesting_twice_reports_zero_changes(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    put(tmp_path, "referat.md", decided(standard_agenda()))
    ingest(config)
    assert (
        ingest(config) == "2 documents read (2 unchanged): 0 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )


def test_an_item_missing_from_the_minutes_is_withdrawn(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    put(tmp_path, "referat.md", decided(standard_agenda(), skip=(3,)))
    assert ingest(config).endswith("0 new, 2 changed, 1 removed items; 0 new matches; 0 errors")
    removed = [e for e in json_lines(config, "events") if e["kind"] == "removed"]
    assert [(e["number"], e["title"]) for e in removed] == [(3, "Busplan 2027")]
    assert [i["removed"] for i in json_lines(config, "items")] == [False, False, True, False]


def test_a_supplementary_agenda_only_adds_items(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    extra = Doc(kind="TILLÆGSDAGSORDEN").item(
        5, "Ekstra bevilling til vintervedligehold", "26/500", Indstilling="At bevillingen gives."
    )
    put(tmp_path, "tillaeg.md", extra)
    assert ingest(config).endswith("1 new, 0 changed, 0 removed items; 0 new matches; 0 errors")
    put(tmp_path, "dagsorden.md", standard_agenda().text() + "\n")  # the agenda re-published unchanged
    assert ingest(config).endswith("0 new, 0 changed, 0 removed items; 0 new matches; 0 errors")
    assert [i["removed"] for i in json_lines(config, "items")] == [False] * 5


def test_content_equal_to_an_earlier_version_does_not_flap(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    original = decided(standard_agenda()).text()
    put(tmp_path, "referat.md", original)
    ingest(config)
    put(tmp_path, "referat.md", original.replace("2,4 mio. kr.", "2,6 mio. kr."))
    ingest(config)
    put(tmp_path, "referat.md", original)
    assert ingest(config).endswith("0 new, 0 changed, 0 removed items; 0 new matches; 0 errors")
    item = json_lines(config, "items")[1]
    assert item["version"] == 1 and "2,4 mio. kr." in item["sections"]["Økonomiske konsekvenser"]


def test_renumbered_items_keep_their_identity(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    inserted = Doc().item(1, "Godkendelse af dagsorden", "26/100", Indstilling="At dagsordenen godkendes.")
    inserted.item(2, "Ny sag om vinterberedskab", "26/999", Indstilling="At sagen drøftes.")
    for number, title, case, sections in standard_agenda().items[1:]:
        inserted.items.append((number + 1, title, case, sections))
    put(tmp_path, "dagsorden.md", inserted)
    assert ingest(config).endswith("1 new, 0 changed, 0 removed items; 0 new matches; 0 errors")
    assert [(i["number"], i["title"]) for i in json_lines(config, "items")][:3] == [
        (1, "Godkendelse af dagsorden"),
        (2, "Ny sag om vinterberedskab"),
        (3, "Budgetopfølgning 3. kvartal"),
    ]


def test_standing_items_with_one_case_number_are_told_apart_by_title(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    doc = Doc().item(1, "Godkendelse af dagsorden", "26/1", Indstilling="Godkendes.")
    doc.item(2, "Meddelelser", "26/1", Meddelelse="Ingen.").item(3, "Eventuelt", "26/1", Indstilling="Intet.")
    put(tmp_path, "dagsorden.md", doc)
    ingest(config)
    put(tmp_path, "referat.md", decided(doc))
    assert ingest(config).endswith("0 new, 3 changed, 0 removed items; 0 new matches; 0 errors")


def test_every_version_keeps_its_document_and_the_raw_bytes_are_archived(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    agenda = put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    put(tmp_path, "referat.md", decided(standard_agenda()))
    ingest(config)
    with open_store(load_config(config)) as store, store.engine.connect() as db:
        rows = db.execute(
            text(
                "SELECT d.key, d.raw_sha256, d.fetched_at FROM item_version v JOIN document d ON d.id = v.document_id"
                " WHERE v.item_id = 1 ORDER BY v.version"
            )
        ).all()
        migrations = db.execute(text("SELECT name FROM schema_migration ORDER BY name")).all()
    assert [key for key, _, _ in rows] == ["dagsorden.md", "referat.md"]
    digest = hashlib.sha256(agenda.read_bytes()).hexdigest()
    assert rows[0][1] == digest
    assert (tmp_path / "state" / "archive" / digest[:2] / digest).read_bytes() == agenda.read_bytes()
    assert migrations == [(name,) for name, _ in MIGRATIONS]
