"""Ingest throughput: the real pipeline (folder sources → parse → SQLite) over a generated year.

Cold: an empty state folder; every document is archived, parsed, stored and diffed. Warm: the
same cycle again over unchanged files, where the raw hashes skip the work. No watchlists here
(the feeds phase adds them), so the cycle's matching and feeds are nearly free.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.year import YearSize, write_year
from bot.config import BotSettings, Config, FolderSource
from bot.pipeline import open_store, run_cycle

MB = 1_000_000


def config_for(root: Path, kommuner: list[str], watchlists: Path | None = None) -> Config:
    """One folder source per kommune, state under ``root/state``."""
    sources = tuple(
        FolderSource(type="folder", name=name.lower(), kommune=name, path=root / "minutes" / name.lower())
        for name in kommuner
    )
    bot = BotSettings(state_dir=root / "state", watchlists_dir=watchlists or root / "watchlists")
    return Config(bot=bot, sources=sources)


def prepare(size: YearSize, root: Path, seed: int = 1) -> dict[str, Any]:
    """Write the year's files; what was written."""
    start = time.perf_counter()
    kommuner, total = write_year(size, root / "minutes", seed)
    files = sum(1 for path in (root / "minutes").rglob("*") if path.is_file())
    (root / "watchlists").mkdir(exist_ok=True)
    return {"kommuner": kommuner, "bytes": total, "files": files, "generate_s": time.perf_counter() - start}


def run(root: Path, kommuner: list[str], total_bytes: int) -> dict[str, Any]:
    """A cold cycle and a warm one over the files under ``root/minutes``."""
    config = config_for(root, kommuner)
    store = open_store(config)
    start = time.perf_counter()
    cold = run_cycle(config, store)
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = run_cycle(config, store)
    warm_s = time.perf_counter() - start
    items = cold.new
    return {
        "cold_s": round(cold_s, 3),
        "warm_s": round(warm_s, 3),
        "warm_over_cold": round(warm_s / cold_s, 4),
        "mb_per_s": round(total_bytes / MB / cold_s, 3),
        "items_per_s": round(items / cold_s, 1),
        "items": items,
        "changed": cold.changed,
        "removed": cold.removed,
        "documents": cold.documents,
        "warm_unchanged": warm.unchanged,
        "errors": len(cold.errors) + len(warm.errors),
        "bytes": total_bytes,
        "db_mb": round((root / "state" / "referatvagt.db").stat().st_size / MB, 1),
    }
