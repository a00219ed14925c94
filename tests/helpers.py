"""Small builders for tests: minutes documents, a folder source, and running the real CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlmodel import select

from bot.cli import cli
from bot.parse.parser import parse_minutes
from bot.store import Store
from bot.store.coordination import insert_ignoring
from bot.store.models import SourceState
from bot.store.recorder import Tally
from bot.store.versions import NewDocument, record_meeting


@dataclass
class Doc:
    """A minutes document in the markdown layout, built item by item."""

    kind: str = "DAGSORDEN"
    committee: str = "Økonomiudvalget"
    day: str = "02-11-2026"
    items: list[tuple[int, str, str, dict[str, str]]] = field(default_factory=list)

    def item(self, number: int, title: str, case: str, **sections: str) -> Doc:
        self.items.append((number, title, case, {k.replace("_", " "): v for k, v in sections.items()}))
        return self

    def text(self) -> str:
        lines = [f"# {self.kind} {self.committee} d. {self.day}", "", "**Mødested** Rådhuset", ""]
        for number, title, case, sections in self.items:
            lines += [f"# Punkt {number}: {title}", "", case, ""]
            for heading, body in sections.items():
                lines += [f"## {heading}", "", body, ""]
        return "\n".join(lines)


def standard_agenda() -> Doc:
    return (
        Doc()
        .item(1, "Godkendelse af dagsorden", "26/100", Indstilling="At dagsordenen godkendes.")
        .item(
            2,
            "Budgetopfølgning 3. kvartal",
            "26/200",
            Indstilling="At budgetopfølgningen tages til efterretning.",
            Økonomiske_konsekvenser="Der forventes et merforbrug på 2,4 mio. kr. i 2026.",
        )
        .item(3, "Busplan 2027", "26/300", Sagsfremstilling="Forslag til ny busplan med tre nye linjer.")
        .item(4, "Lukket: Personalesag", "26/400")
    )


def decided(doc: Doc, skip: tuple[int, ...] = ()) -> Doc:
    """The minutes of an agenda: every open item gets this committee's decision."""
    minutes = Doc(kind="REFERAT", committee=doc.committee, day=doc.day)
    for number, title, case, sections in doc.items:
        if number in skip:
            continue
        extra = {} if title.startswith("Lukket") else {f"Beslutning i {doc.committee} den {doc.day}": "Godkendt."}
        minutes.items.append((number, title, case, {**sections, **extra}))
    return minutes


# The database the configs below are written for: "" is the default SQLite file under state_dir.
# The ``database`` fixture (tests/conftest.py) sets it for one test, so a module's tests run on both.
DATABASE_URL = ""


def database_line(database_url: str | None = None) -> str:
    """The ``[bot] database_url`` line of a config (none for the default SQLite file)."""
    url = DATABASE_URL if database_url is None else database_url
    return f'database_url = "{url}"\n' if url else ""


def write_config(tmp_path: Path, folder: Path | None = None, database_url: str | None = None) -> Path:
    folder = folder or tmp_path / "minutes"
    folder.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[bot]\nstate_dir = "state"\n{database_line(database_url)}\n'
        f'[[source]]\nname = "test"\nkommune = "Testrup"\ntype = "folder"\npath = "{folder}"\n',
        encoding="utf-8",
    )
    return config


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def json_lines(config: Path, command: str) -> list[dict[str, Any]]:
    result = run_cli(config, command, "--json")
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def put(tmp_path: Path, name: str, doc: Doc | str) -> Path:
    """Publish ``doc`` as ``minutes/<name>`` (the folder source of :func:`write_config`)."""
    path = tmp_path / "minutes" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else doc.text(), encoding="utf-8")
    return path


def add_watchlists(tmp_path: Path, **watchlists: str) -> None:
    """Write ``watchlists/<slug>.toml`` files with the given texts."""
    folder = tmp_path / "watchlists"
    folder.mkdir(exist_ok=True)
    for slug, text in watchlists.items():
        (folder / f"{slug}.toml").write_text(text, encoding="utf-8")


def ingest(config: Path, expect: int = 0) -> str:
    """``referatvagt ingest``, which must exit with ``expect``; returns its summary line."""
    result = run_cli(config, "ingest")
    assert result.exit_code == expect, result.stderr
    return result.stdout.strip()


def record_documents(store: Store, batches: list[list[tuple[str, Doc]]], now: datetime) -> list[Tally]:
    """Record each batch of documents (file name, minutes) in one session, as a poll does, for a
    source "testrup" (made if missing), each published a minute after the one before from ``now``;
    each document's tally."""
    tallies: list[Tally] = []
    with store.session() as session:
        insert_ignoring(session, SourceState, [{"name": "testrup", "kommune": "Testrup", "type": "folder"}], ["name"])
    for batch in batches:
        with store.session() as session:
            source = session.exec(select(SourceState)).one()
            assert source.id is not None
            for name, doc in batch:
                published = now + timedelta(minutes=len(tallies))
                meeting = parse_minutes(doc.text(), name)
                document = NewDocument(
                    source_id=source.id,
                    key=name,
                    raw_sha256="0" * 64,
                    fetched_at=published,
                    published_at=published,
                    url=None,
                    kind=meeting.kind,
                )
                tallies.append(record_meeting(session, source, document, meeting, now, False))
    return tallies
