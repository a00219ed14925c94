"""Several documents recorded in one transaction (issue 17): the store ends up as it does when
each document has a transaction of its own, and a crash part way leaves nothing of the batch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.store import Store, recorder

from .helpers import Doc, decided, record_documents, standard_agenda

pytestmark = pytest.mark.usefixtures("database")

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)
TABLES = ("meeting", "document", "item", "item_version", "event")


def _documents() -> list[tuple[str, Doc]]:
    """An agenda, its minutes (one item changed, one left out: withdrawn), and a re-read agenda
    (superseded by the minutes)."""
    agenda = standard_agenda()
    minutes = decided(agenda, skip=(3,))
    minutes.items[1][3]["Økonomiske konsekvenser"] = "Der forventes et merforbrug på 2,9 mio. kr. i 2026."
    return [("dagsorden.md", agenda), ("referat.md", minutes), ("dagsorden-igen.md", agenda)]


def _store(tmp_path: Path, url: str, name: str) -> Store:
    return Store(url or f"sqlite:///{tmp_path / name}.db", tmp_path / name)


def _rows(store: Store) -> dict[str, list[Any]]:
    with store.engine.connect() as connection:
        return {table: list(connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))) for table in TABLES}


def _crash(*_: object) -> None:
    raise RuntimeError("killed after the new versions were written, before the events")


def test_documents_of_one_meeting_in_one_session_store_what_separate_sessions_do(
    tmp_path: Path, another_database: Callable[[], str]
) -> None:
    one_by_one, together = _store(tmp_path, another_database(), "a"), _store(tmp_path, another_database(), "b")
    documents = _documents()
    apart = record_documents(one_by_one, [[document] for document in documents], NOW)
    assert record_documents(together, [documents], NOW) == apart
    assert [(t.new, t.changed, t.removed) for t in apart] == [(4, 0, 0), (0, 2, 1), (0, 0, 0)]
    rows = _rows(together)
    assert rows == _rows(one_by_one)
    assert [row.outcome for row in rows["document"]] == ["stored", "stored", "superseded"]
    assert [row.kind for row in rows["event"]] == ["new"] * 4 + ["changed"] * 2 + ["removed"]
    assert [(row.current_version, row.removed) for row in rows["item"]] == [(2, False)] * 2 + [(1, True), (1, False)]


def test_a_crash_while_recording_a_batch_leaves_none_of_it(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path, database, "crash")
    documents = _documents()
    record_documents(store, [documents[:1]], NOW)
    before = _rows(store)

    monkeypatch.setattr(recorder.Recorder, "_event", _crash)
    with pytest.raises(RuntimeError, match="killed"):
        record_documents(store, [documents[1:]], NOW)
    assert _rows(store) == before


def test_new_rows_get_their_own_ids_after_a_rolled_back_batch_and_across_meetings(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ids of a document's new items and versions are those the database gave them (on SQLite,
    the range up to ``last_insert_rowid()``), also after a batch was rolled back and with two
    meetings' documents in one batch: every event is of a version of its own item."""
    store = _store(tmp_path, database, "ids")
    agenda = standard_agenda()
    other = standard_agenda()
    other.committee, other.day = "Teknik- og Miljøudvalget", "03-11-2026"
    record_documents(store, [[("a.md", agenda)]], NOW)
    with monkeypatch.context() as patched:
        patched.setattr(recorder.Recorder, "_event", _crash)
        with pytest.raises(RuntimeError, match="killed"):
            record_documents(store, [[("b.md", other)]], NOW)
    minutes = decided(agenda)
    minutes.items[2][3]["Sagsfremstilling"] = "Forslag til ny busplan med fire nye linjer."
    record_documents(store, [[("b.md", other), ("a-referat.md", minutes), ("b-referat.md", decided(other))]], NOW)
    with store.engine.connect() as connection:
        events = connection.execute(
            text(
                "SELECT e.kind, e.item_id, v.item_id, v.title, i.title, m.committee FROM event e "
                "JOIN item_version v ON v.id = e.version_id JOIN item i ON i.id = e.item_id "
                "JOIN meeting m ON m.id = i.meeting_id ORDER BY e.id"
            )
        ).all()
    assert len(events) == 4 + 4 + 3 + 3
    assert all(row[1] == row[2] and row[3] == row[4] for row in events), events
    assert [row[5] for row in events] == ["Økonomiudvalget"] * 4 + ["Teknik- og Miljøudvalget"] * 4 + [
        "Økonomiudvalget"
    ] * 3 + ["Teknik- og Miljøudvalget"] * 3
