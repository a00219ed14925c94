"""Ingest throughput: the real pipeline (folder sources → parse → store) over a generated year.

Cold: an empty state folder and an empty database; every document is archived, parsed, stored and
diffed. Warm: the same cycle again over unchanged files, where the raw hashes skip the work. No
watchlists here (the feeds phase adds them), so the cycle's matching and feeds are nearly free.

During the cold cycle, SQLAlchemy event listeners on the store's engine count the statements sent
to the database (``before_cursor_execute``: an executemany is one) and the commits, and the
pipeline's steps are timed by wrapping the functions ``bot.run.pipeline`` calls (see ``PHASES``).
The storing process's CPU time in the cold cycle (``time.process_time``: its threads, not the reader
processes) is reported beside the wall time: it tells the storing process's own work from its
waiting (for a reader, for a core the readers hold, for the disk).
On SQLite (the default file under the state folder) and, when a server answers at
127.0.0.1:5432, on a scratch PostgreSQL database (created, then dropped).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

import bot.run.pipeline
import bot.run.poll
import bot.run.reading
from benchmarks.year import YearSize, write_year
from bot.config import BotSettings, Config, FolderSource
from bot.run.pipeline import open_store, run_cycle

MB = 1_000_000
POSTGRES_SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"  # as tests/conftest.py
# Phase name → the module and the name it calls the step by (timed inclusive, in this process: a
# document read in a worker process (bot.run.reading) is not seen, and the wait for it counts as
# "other"; a name a module no longer has is left out, its time then counts as "other" too).
PHASES = {
    "watchlists": (bot.run.pipeline, "sync_watchlists"),
    "extract": (bot.run.reading, "extract_text"),
    "parse": (bot.run.reading, "parse_minutes"),
    "store": (bot.run.poll, "_store"),
    "match": (bot.run.pipeline, "match_changes"),
    "feeds": (bot.run.pipeline, "publish"),
    "digests": (bot.run.pipeline, "email_digests"),
}


def config_for(root: Path, kommuner: list[str], watchlists: Path | None = None, database_url: str = "") -> Config:
    """One folder source per kommune, state under ``root/state`` (``root/state-pg`` on PostgreSQL)."""
    sources = tuple(
        FolderSource(type="folder", name=name.lower(), kommune=name, path=root / "minutes" / name.lower())
        for name in kommuner
    )
    state = root / ("state-pg" if database_url else "state")
    bot = BotSettings(state_dir=state, watchlists_dir=watchlists or root / "watchlists", database_url=database_url)
    return Config(bot=bot, sources=sources)


def prepare(size: YearSize, root: Path, seed: int = 1) -> dict[str, Any]:
    """Write the year's files; what was written."""
    start = time.perf_counter()
    kommuner, total = write_year(size, root / "minutes", seed)
    files = sum(1 for path in (root / "minutes").rglob("*") if path.is_file())
    (root / "watchlists").mkdir(exist_ok=True)
    return {"kommuner": kommuner, "bytes": total, "files": files, "generate_s": time.perf_counter() - start}


@dataclass
class Tally:
    """What the database was asked to do, and how long each pipeline step took."""

    statements: int = 0
    commits: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def statement(self, *_: Any) -> None:
        self.statements += 1

    def commit(self, *_: Any) -> None:
        self.commits += 1


def _timed(tally: Tally, phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            tally.seconds[phase] = tally.seconds.get(phase, 0.0) + time.perf_counter() - start

    return wrapper


@contextmanager
def tallied(engine: Engine) -> Iterator[Tally]:
    """Count statements and commits on ``engine`` and time the pipeline's steps while in the block."""
    tally = Tally()
    originals = {phase: getattr(module, name) for phase, (module, name) in PHASES.items() if hasattr(module, name)}
    event.listen(engine, "before_cursor_execute", tally.statement)
    event.listen(engine, "commit", tally.commit)
    for phase, function in originals.items():
        module, name = PHASES[phase]
        setattr(module, name, _timed(tally, phase, function))
    try:
        yield tally
    finally:
        for phase, function in originals.items():
            module, name = PHASES[phase]
            setattr(module, name, function)
        event.remove(engine, "before_cursor_execute", tally.statement)
        event.remove(engine, "commit", tally.commit)


def run(root: Path, kommuner: list[str], total_bytes: int, database_url: str = "") -> dict[str, Any]:
    """A cold cycle and a warm one over the files under ``root/minutes``."""
    config = config_for(root, kommuner, database_url=database_url)
    store = open_store(config)
    try:
        with tallied(store.engine) as tally:
            start, cpu = time.perf_counter(), time.process_time()
            cold = run_cycle(config, store)
            cold_s, cold_cpu = time.perf_counter() - start, time.process_time() - cpu
        start = time.perf_counter()
        warm = run_cycle(config, store)
        warm_s = time.perf_counter() - start
        db_mb = database_mb(store.engine, root)
    finally:
        store.close()
    items = cold.new
    per_item = 1e6 / max(items, 1)
    phases = {phase: round(seconds * per_item, 1) for phase, seconds in tally.seconds.items()}
    phases["other"] = round(cold_s * per_item - sum(phases.values()), 1)
    return {
        "database": store.engine.dialect.name,
        "cold_s": round(cold_s, 3),
        "warm_s": round(warm_s, 3),
        "warm_over_cold": round(warm_s / cold_s, 4),
        "mb_per_s": round(total_bytes / MB / cold_s, 3),
        "items_per_s": round(items / cold_s, 1),
        "us_per_item": round(cold_s * per_item, 1),
        "main_cpu_s": round(cold_cpu, 3),
        "main_cpu_over_cold": round(cold_cpu / cold_s, 4),
        "statements_per_item": round(tally.statements / max(items, 1), 2),
        "commits_per_document": round(tally.commits / max(cold.documents, 1), 2),
        "statements": tally.statements,
        "commits": tally.commits,
        "phases_us_per_item": phases,
        "items": items,
        "changed": cold.changed,
        "removed": cold.removed,
        "documents": cold.documents,
        "warm_unchanged": warm.unchanged,
        "errors": len(cold.errors) + len(warm.errors),
        "bytes": total_bytes,
        "db_mb": db_mb,
    }


def database_mb(engine: Engine, root: Path) -> float:
    """The store's size: the SQLite file, or what PostgreSQL reports for the database."""
    if engine.dialect.name == "sqlite":
        return round((root / "state" / "referatvagt.db").stat().st_size / MB, 1)
    with engine.connect() as connection:
        return round(connection.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one() / MB, 1)


def postgres_server() -> tuple[Any, str]:
    """An autocommit connection to the server's own database, or None and why not."""
    try:
        import psycopg
    except ImportError:
        return None, "psycopg is not installed"
    try:
        return psycopg.connect(POSTGRES_SERVER, autocommit=True, connect_timeout=3), ""
    except psycopg.OperationalError as exc:
        return None, str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"


def run_postgresql(root: Path, kommuner: list[str], total_bytes: int) -> dict[str, Any]:
    """:func:`run` on a scratch PostgreSQL database (dropped afterwards); ``{"skipped": why}``
    when no server answers at 127.0.0.1:5432."""
    admin, reason = postgres_server()
    if admin is None:
        return {"skipped": f"no PostgreSQL server at 127.0.0.1:5432 ({reason})"}
    name = f"referatvagt_bench_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            return run(root, kommuner, total_bytes, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
