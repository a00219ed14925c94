"""Reading documents in worker processes (bot.run.reading): the same meetings as reading them here, in
the order handed in, and a worker that dies fails only what it had in hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.year import YearSize, write_year
from bot.errors import BotError
from bot.run import reading
from bot.run.reading import Readers, Reading, read_document
from tests.helpers import json_lines, run_cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted(
    path
    for path in (ROOT / "bot" / "samples").rglob("*")
    if path.suffix in {".md", ".txt", ".html"} and path.stem != "README"
)
# Fields that say when something happened, not what: they differ between any two runs.
WHEN = {"items": ("document.fetched_at",), "events": ("created_at",)}


def documents() -> list[tuple[str, bytes]]:
    found = [(path.name, path.read_bytes()) for path in SAMPLES]
    assert len(found) >= 4, "the bundled samples are there"
    return [*found, ("tom.txt", b""), ("binary.md", b"\x00\x01\x02 no text"), *found]


def outcome(result: Reading | BotError) -> Any:
    return repr(result.meeting) if isinstance(result, Reading) else f"{type(result).__name__}: {result}"


def read_here(name: str, content: bytes) -> Any:
    try:
        return outcome(read_document(content, name))
    except BotError as exc:
        return outcome(exc)


def test_a_pool_reads_what_this_process_reads_in_the_order_handed_in() -> None:
    docs = documents()
    with Readers[int](processes=2, in_process=2) as readers:
        results: list[tuple[int, Reading | BotError]] = []
        for number, (name, content) in enumerate(docs):
            readers.put(number, content, name)
            results += readers.ready()
        results += readers.drain()
        assert readers.read_here == 2, "the first two were read here, the rest in the pool"
    assert [tag for tag, _ in results] == list(range(len(docs)))
    assert [outcome(result) for _, result in results] == [read_here(name, content) for name, content in docs]


def test_what_is_read_ahead_is_bounded_by_count_and_by_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "AHEAD", 3)
    monkeypatch.setattr(reading, "BYTES_AHEAD", 10_000)
    name, content = documents()[0]
    with Readers[int](processes=1, in_process=0) as readers:
        in_hand = []
        for number in range(6):
            readers.put(number, content, name)
            list(readers.ready())
            in_hand.append(len(readers._queue))
        assert max(in_hand) <= 3, "at most AHEAD documents per process ahead"
        big = b"x" * 6_000
        readers.put(10, big, "a.md")
        readers.put(11, big, "b.md")
        list(readers.ready())
        assert readers._bytes <= 10_000, "and no more bytes than BYTES_AHEAD"
        list(readers.drain())
        assert readers._bytes == 0


def test_what_is_read_comes_back_with_the_items_hashed_already() -> None:
    name, content = documents()[0]
    with Readers[str](processes=1, in_process=0) as readers:
        readers.put(name, content, name)
        [(_, reading)] = list(readers.drain())
    assert isinstance(reading, Reading) and reading.meeting.items
    assert all("_content_hash" in vars(item) for item in reading.meeting.items)


def test_a_worker_that_dies_fails_the_document_in_hand_and_a_fresh_pool_reads_the_rest() -> None:
    docs = documents()
    with Readers[int](processes=1, in_process=0) as readers:
        readers.put(0, docs[0][1], docs[0][0])
        assert outcome(next(readers.drain())[1]) == read_here(*docs[0])
        pool = readers._pool
        assert pool is not None
        for pid in list(pool._processes):  # what the kernel's OOM killer would do
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        for number, (name, content) in enumerate(docs[1:4], start=1):
            readers.put(number, content, name)
        results = list(readers.drain())
    assert [tag for tag, _ in results] == [1, 2, 3]
    readings = [outcome(result) for _, result in results]
    assert readings == [read_here(name, content) for name, content in docs[1:4]] or (
        "the process reading it stopped unexpectedly" in readings[0]
        and readings[1:] == [read_here(name, content) for name, content in docs[2:4]]
    )


def write_folder_config(tmp_path: Path, processes: int) -> Path:
    config = tmp_path / f"config-{processes}.toml"
    config.write_text(
        f'[bot]\nstate_dir = "state-{processes}"\nread_processes = {processes}\n\n'
        f'[[source]]\nname = "aar"\nkommune = "Testrup"\ntype = "folder"\npath = "{tmp_path / "minutes"}"\n',
        encoding="utf-8",
    )
    return config


def rows(config: Path, command: str) -> list[dict[str, Any]]:
    found = json_lines(config, command)
    for row in found:
        for field in WHEN[command]:
            head, _, tail = field.partition(".")
            (row[head] if tail else row).pop(tail or head, None)
    return found


def test_an_ingest_with_worker_processes_stores_what_one_without_stores(tmp_path: Path) -> None:
    write_year(YearSize(1, 3, 8, items=6), tmp_path / "minutes", seed=3)
    assert len(list((tmp_path / "minutes").rglob("*.*"))) > 30, "enough documents for the pool to start"
    alone, pooled = write_folder_config(tmp_path, 0), write_folder_config(tmp_path, 2)
    results = [run_cli(config, "ingest") for config in (alone, pooled)]
    assert [result.exit_code for result in results] == [0, 0], [result.stderr for result in results]
    assert results[0].stdout == results[1].stdout
    assert rows(alone, "items") == rows(pooled, "items")
    assert rows(alone, "events") == rows(pooled, "events")


def test_kill_9_of_an_ingest_leaves_no_worker_process_behind(tmp_path: Path) -> None:
    write_year(YearSize(2, 5, 11, items=10), tmp_path / "minutes", seed=4)
    config = write_folder_config(tmp_path, 2)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bot", "--config", str(config), "ingest"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (tmp_path / "state-2" / "archive").exists() or len(list((tmp_path / "state-2").rglob("*.*"))) < 40:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the ingest did not get going"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    try:  # the pool's processes share its stdout: it closes only when the last of them ends
        process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("worker processes outlived the ingest they read for")
