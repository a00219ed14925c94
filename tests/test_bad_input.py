"""Bad input is reported by file name with the reason; everything else is still ingested,
and nothing already stored is lost or changed. An interrupted ingest leaves the store consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from bot.config import load_config
from bot.errors import StoreError
from bot.run.pipeline import open_store
from bot.store.models import SourceState

from .helpers import Doc, decided, json_lines, run_cli, standard_agenda, write_config
from .pdfmaker import make_pdf

BAD_FILES: dict[str, tuple[bytes, str]] = {
    "empty.md": (b"", "empty file"),
    "blank.txt": (b"  \n\n ", "empty file"),
    "image.pdf": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary file"),
    "strange.txt": (bytes([0x81, 0x8D, 0x90, 0x9D]) * 200 + b"Punkt 1: x", "unknown text encoding"),
    "no-items.md": (
        "# Referat Økonomiudvalget d. 02-11-2026\n\nMødet blev aflyst.\n".encode(),
        "no agenda items found",
    ),
    "long-line.txt": (b"Referat " + b"x" * 5_000_000, "no agenda items found"),
}


SOURCE = "source 'test' (Testrup): "  # every error and warning names its source


def test_each_bad_file_is_named_with_its_reason_and_the_rest_is_ingested(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    folder = tmp_path / "minutes"
    (folder / "good.md").write_text(standard_agenda().text(), encoding="utf-8")
    for name, (content, _) in BAD_FILES.items():
        (folder / name).write_bytes(content)
    good_pdf = make_pdf(tmp_path / "full.pdf", standard_agenda().text().splitlines())
    (folder / "truncated.pdf").write_bytes(good_pdf.read_bytes()[: good_pdf.stat().st_size // 2])

    result = run_cli(config, "ingest")

    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    expected = {
        **{name: reason for name, (_, reason) in BAD_FILES.items()},
        "truncated.pdf": "damaged or truncated PDF",
    }
    assert len(errors) == len(expected)
    for name, reason in expected.items():
        assert any(line.startswith(f"error: {SOURCE}{folder / name}: {reason}") for line in errors), (name, errors)
    assert (
        result.stdout.strip()
        == f"{len(expected) + 1} documents read (0 unchanged): 4 new, 0 changed, 0 removed items; 0 new matches; {len(expected)} errors"
    )
    assert len(json_lines(config, "items")) == 4


def test_a_broken_new_version_loses_nothing_already_stored(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    path = tmp_path / "minutes" / "referat.md"
    path.write_text(decided(standard_agenda()).text(), encoding="utf-8")
    assert run_cli(config, "ingest").exit_code == 0
    before = json_lines(config, "items")
    path.write_bytes(b"\x00\x01\x02 garbage")
    assert run_cli(config, "ingest").exit_code == 1
    assert json_lines(config, "items") == before
    assert len(json_lines(config, "events")) == 4


def test_a_missing_folder_is_reported_and_other_sources_still_run(tmp_path: Path) -> None:
    folder = tmp_path / "minutes"
    folder.mkdir()
    (folder / "a.md").write_text(standard_agenda().text(), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[source]]\nname = "gone"\nkommune = "X"\ntype = "folder"\npath = "{tmp_path / "nope"}"\n\n'
        f'[[source]]\nname = "here"\nkommune = "Y"\ntype = "folder"\npath = "{folder}"\n',
        encoding="utf-8",
    )
    result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert f"error: source 'gone' (X): folder {tmp_path / 'nope'} does not exist" in result.stderr
    assert len(json_lines(config, "items")) == 4
    with open_store(load_config(config)) as store, store.session() as session:
        sources = session.exec(select(SourceState).order_by(col(SourceState.name))).all()
    assert [(s.name, s.failures, s.last_error is not None) for s in sources] == [("gone", 1, True), ("here", 0, False)]


def test_a_config_mistake_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[bot]\nstate_dri = "x"\n', encoding="utf-8")
    result = run_cli(config, "ingest")
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == f"Error: {config}:2: bot.state_dri: unknown key (check the spelling; see config.example.toml)"
    )


# Items, events, and (item, kind) pairs stored more than once
COUNTS = text(
    "SELECT (SELECT count(*) FROM item), (SELECT count(*) FROM event),"
    " (SELECT count(*) FROM (SELECT item_id, kind FROM event GROUP BY item_id, kind HAVING count(*) > 1) AS twice)"
)


def _counts(config: Path) -> tuple[int, int, int] | None:
    """What the store holds, read as a read-only command would; None while it has no schema yet."""
    try:
        store = open_store(load_config(config), read_only=True)
    except StoreError:
        return None  # no store yet, or the ingest is still creating its tables
    with store, store.engine.connect() as connection:
        items, events, doubled = connection.execute(COUNTS).one()
    return items, events, doubled


@pytest.mark.parametrize("stop_after_events", [1, 200, 700])
def test_an_ingest_killed_midway_completes_on_the_next_run_without_duplicates(
    tmp_path: Path, stop_after_events: int
) -> None:
    config = write_config(tmp_path)
    folder = tmp_path / "minutes"
    for day in range(1, 29):
        for month in (1, 2, 3, 4, 5, 6):
            doc = Doc(committee="Teknikudvalget", day=f"{day:02d}-{month:02d}-2026")
            for number in range(1, 9):
                doc.item(
                    number,
                    f"Sag nummer {number} den {day}/{month}",
                    f"26/{month}{day:02d}{number}",
                    Indstilling="At sagen godkendes.",
                )
            (folder / f"{month}-{day:02d}.md").write_text(doc.text(), encoding="utf-8")
    total_items = 28 * 6 * 8
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while process.poll() is None:
            counts = _counts(config)
            if counts is not None and counts[1] >= stop_after_events:
                break
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed = _counts(config)
    assert killed is not None and killed[2] == 0, "the killed ingest left no item with an event twice"

    result = run_cli(config, "ingest")
    assert result.exit_code == 0, result.stderr
    assert _counts(config) == (total_items, total_items, 0)
    assert (
        run_cli(config, "ingest").stdout.strip().endswith("0 new, 0 changed, 0 removed items; 0 new matches; 0 errors")
    )
