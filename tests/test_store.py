"""The store: named migrations, SQLite settings, timezone-aware times — on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert, inspect, text
from sqlmodel import col, select

from bot.store import Store
from bot.store import migrations as migrations_module
from bot.store.engine import BulkInsert, make_engine
from bot.store.migrations import MIGRATIONS, migrate
from bot.store.models import Document, Meeting, SourceState

pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def url(tmp_path: Path, database: str) -> str:
    """The test's database as a URL: the scratch PostgreSQL database, or a new SQLite file."""
    return database or f"sqlite:///{tmp_path / 'db.sqlite'}"


def test_a_new_database_is_created_at_the_newest_schema_and_stamped(tmp_path: Path, url: str) -> None:
    store = Store(url, tmp_path / "archive")
    tables = set(inspect(store.engine).get_table_names())
    assert {"source", "document", "meeting", "item", "item_version", "event", "schema_migration"} <= tables
    with store.engine.connect() as connection:
        stamped = [row[0] for row in connection.execute(text("SELECT name FROM schema_migration ORDER BY name"))]
        assert stamped == [name for name, _ in MIGRATIONS]
    assert migrate(store.engine) == [], "migrating twice does nothing"
    store.close()


@pytest.mark.sqlite_only
def test_sqlite_runs_with_foreign_keys_and_a_write_ahead_log(tmp_path: Path, url: str) -> None:
    """SQLite only: PRAGMAs are SQLite's (PostgreSQL always enforces foreign keys and has its own log)."""
    store = Store(url, tmp_path / "archive")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        # checkpointed in large steps (bot/store/engine.py says why), the log then cut back
        assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 40_000
        assert connection.execute(text("PRAGMA journal_size_limit")).scalar() == 64 * 2**20
    store.close()


def test_an_existing_database_runs_only_the_steps_it_has_not_recorded(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store(url, tmp_path / "archive").close()

    def add_note(connection: Connection) -> None:
        connection.execute(text("ALTER TABLE source ADD COLUMN note VARCHAR"))

    monkeypatch.setattr(migrations_module, "MIGRATIONS", (*MIGRATIONS, ("0002_source_note", add_note)))
    engine = make_engine(url)
    assert migrate(engine) == ["0002_source_note"]
    assert "note" in {column["name"] for column in inspect(engine).get_columns("source")}
    assert migrate(engine) == []
    engine.dispose()


def test_times_are_stored_and_read_back_timezone_aware(tmp_path: Path, url: str) -> None:
    store = Store(url, tmp_path / "archive")
    moment = datetime(2026, 11, 2, 16, 0, tzinfo=timezone.utc)
    with store.session() as session:
        session.add(SourceState(name="x", kommune="X", type="folder", last_success_at=moment))
    with store.session() as session:
        stored = session.exec(select(SourceState)).one()
        assert stored.last_success_at == moment and stored.last_success_at.tzinfo is not None
    with pytest.raises(Exception, match="naive datetime"):
        with store.session() as session:
            session.add(SourceState(name="y", kommune="Y", type="folder", last_success_at=datetime(2026, 1, 1)))
    store.close()


def test_json_is_stored_as_utf_8_and_rows_with_escapes_from_older_versions_read_the_same(
    tmp_path: Path, url: str
) -> None:
    store = Store(url, tmp_path / "archive")
    names = ["Åse Ærø (A)", 'Bo "Bøf" Lund']
    with store.session() as session:
        source = SourceState(name="x", kommune="X", type="folder")
        session.add(source)
        session.flush()
        session.add(
            Meeting(
                source_id=source.id,
                committee="Ø",
                committee_key="ø",
                meeting_date=date(2026, 12, 7),
                kind="referat",
                participants=names,
            )
        )
    read = "SELECT CAST(participants AS TEXT) FROM meeting"
    with store.engine.begin() as connection:
        assert json.loads(stored := connection.execute(text(read)).scalar_one()) == names
        assert "Åse Ærø" in stored
        connection.execute(text("UPDATE meeting SET participants = :old"), {"old": json.dumps(names)})
        assert "\\u00c5se" in connection.execute(text(read)).scalar_one()
    with store.session() as session:
        assert session.exec(select(Meeting)).one().participants == names
    store.close()


def test_rows_inserted_through_the_driver_are_stored_as_sqlalchemy_stores_them(tmp_path: Path, url: str) -> None:
    """BulkInsert binds each value by its column's type: JSON, dates, timezone-aware times, NULL."""
    store = Store(url, tmp_path / "archive")
    with store.session() as session:
        session.add(SourceState(name="x", kommune="X", type="folder"))
    tables = {"meeting": Meeting.__table__, "document": Document.__table__}  # type: ignore[attr-defined]
    meetings = [
        {
            "source_id": 1,
            "committee": "Økonomiudvalget",
            "committee_key": "økonomiudvalget",
            "start_time": None,
            "place": "Rådhuset",
            "participants": ['Åse "Bøf" Ærø (A)'],
            "kind": "referat",
            "url": None,
        },
        {
            "source_id": 1,
            "committee": "Kultur",
            "committee_key": "kultur",
            "start_time": "16:00",
            "place": None,
            "participants": [],
            "kind": "dagsorden",
            "url": "https://x.dk/1",
        },
    ]
    moment = datetime(2026, 12, 7, 6, 0, 1, 250, tzinfo=timezone.utc)
    documents = [
        {
            "source_id": 1,
            "key": key,
            "raw_sha256": "ab" * 32,
            "fetched_at": moment,
            "published_at": published,
            "url": None,
            "kind": "referat",
            "meeting_id": None,
            "outcome": "stored",
            "error": None,
        }
        for key, published in (("a.md", None), ("b.md", moment.replace(microsecond=0)))
    ]
    with store.engine.begin() as connection:  # each row twice: through the driver, then through SQLAlchemy
        BulkInsert(tables["meeting"])(connection, [{**row, "meeting_date": date(2026, 12, 1)} for row in meetings])
        connection.execute(insert(tables["meeting"]), [{**row, "meeting_date": date(2026, 12, 2)} for row in meetings])
        BulkInsert(tables["document"])(connection, documents)
        connection.execute(insert(tables["document"]), documents)
        BulkInsert(tables["document"])(connection, [])  # nothing to insert: no statement
    columns = {"meeting": ("participants", "start_time", "place", "url"), "document": ("fetched_at", "published_at")}
    with store.engine.connect() as connection:
        for table, names in columns.items():
            cast = ", ".join(f"CAST({name} AS TEXT)" for name in names)
            stored = [tuple(row) for row in connection.execute(text(f"SELECT {cast} FROM {table} ORDER BY id"))]
            assert stored[:2] == stored[2:], f"{table}: the same text through the driver as through SQLAlchemy"
    with store.session() as session:
        read = session.exec(select(Meeting).order_by(col(Meeting.id))).all()
        assert [m.participants for m in read] == [['Åse "Bøf" Ærø (A)'], [], ['Åse "Bøf" Ærø (A)'], []]
        times = session.exec(select(Document.fetched_at, Document.published_at).order_by(col(Document.id))).all()
        assert times == [(moment, None), (moment, moment.replace(microsecond=0))] * 2
    source = {"name": "y", "kommune": "Y", "type": "folder"}  # ``failures`` has a default SQLAlchemy fills in
    with pytest.raises(ValueError, match=r"every column inserted, also \['failures'\]"):
        with store.engine.begin() as connection:
            BulkInsert(SourceState.__table__)(connection, [source])  # type: ignore[attr-defined]
    store.close()


def test_the_archive_keeps_exact_bytes_under_their_hash(tmp_path: Path, url: str) -> None:
    store = Store(url, tmp_path / "archive")
    digest = store.archive(b"Referat\n")
    assert digest == hashlib.sha256(b"Referat\n").hexdigest()
    assert store.archive_path(digest).read_bytes() == b"Referat\n"
    assert store.archive(b"Referat\n") == digest
    store.close()


@pytest.mark.parametrize(
    ("table", "index", "step"),
    [
        ("item", "ix_item_case_number", "0007_case_index"),
        ("document", "ix_document_meeting_id", "0008_document_meeting_index"),
    ],
)
def test_an_older_store_gets_a_new_index_in_place(tmp_path: Path, url: str, table: str, index: str, step: str) -> None:
    Store(url, tmp_path / "archive").close()
    store = Store(url, tmp_path / "archive")
    with store.engine.begin() as connection:  # the schema as the step before left it
        connection.execute(text(f"DROP INDEX {index}"))
        connection.execute(text(f"DELETE FROM schema_migration WHERE name = '{step}'"))
    store.close()
    store = Store(url, tmp_path / "archive")
    assert index in {found["name"] for found in inspect(store.engine).get_indexes(table)}
    store.close()


def test_an_older_store_loses_the_version_indexes_no_query_used(tmp_path: Path, url: str) -> None:
    Store(url, tmp_path / "archive").close()
    store = Store(url, tmp_path / "archive")
    unused = ("ix_item_version_item_id", "ix_item_version_content_hash")
    with store.engine.begin() as connection:  # the schema as the step before left it
        connection.execute(text("CREATE INDEX ix_item_version_item_id ON item_version (item_id)"))
        connection.execute(text("CREATE INDEX ix_item_version_content_hash ON item_version (content_hash)"))
        connection.execute(text("DELETE FROM schema_migration WHERE name = '0009_no_unused_version_indexes'"))
    store.close()
    store = Store(url, tmp_path / "archive")
    indexes = {found["name"] for found in inspect(store.engine).get_indexes("item_version")}
    assert not indexes & set(unused)
    unique = [found["column_names"] for found in inspect(store.engine).get_unique_constraints("item_version")]
    assert ["item_id", "version"] in unique, "its index finds an item's versions"
    store.close()
