"""``python -m benchmarks.item_pages [--scale tiny|small|medium|national]``: what item pages cost ``publish``.

A generated year is ingested (``run_cycle``, no watchlists), then ``bot.publish.feeds.publish`` is timed
on that store, best of three each:
- ``warm``: nothing changed since the last publish (every cycle of a running bot looks like this);
- ``rebuild``: the item pages and their record deleted, so every page a feed links is written again (the first
  publish after an upgrade, or a new page format);
- ``missing``: 1% of the page files deleted, which are written again: the cost of a few changed items.

The same commands run on a tree without item pages give the "before" numbers: there every run is
just the feeds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.__main__ import YEARS
from benchmarks.ingest import config_for, prepare
from bot.config import Config
from bot.publish.feeds import publish
from bot.run.pipeline import open_store, run_cycle
from bot.store import Store

REPEATS = 3


def _best(action: Callable[[], None], prepare_run: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(REPEATS):
        prepare_run()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return round(min(times), 3)


def _pages(config: Config) -> Path:
    return config.bot.state_dir / "feeds" / "items"


def _forget_pages(config: Config) -> None:
    shutil.rmtree(_pages(config), ignore_errors=True)
    (config.bot.state_dir / "pages.json").unlink(missing_ok=True)


def _drop_some(config: Config) -> None:
    for index, page in enumerate(sorted(_pages(config).glob("*.html"))):
        if index % 100 == 0:
            page.unlink()


def measure(root: Path, kommuner: list[str]) -> dict[str, Any]:
    config = config_for(root, kommuner)
    store: Store = open_store(config)
    start = time.perf_counter()
    cycle = run_cycle(config, store)
    ingest_s = time.perf_counter() - start
    once = lambda: None if publish(config, store, []) else None  # noqa: E731
    result = {
        "items": cycle.new,
        "ingest_s": round(ingest_s, 3),
        "warm_s": _best(once),
        "rebuild_s": _best(once, lambda: _forget_pages(config)),
        "missing_1pct_s": _best(once, lambda: _drop_some(config)),
        "pages": sum(1 for _ in _pages(config).glob("*.html")),
    }
    store.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.item_pages", description=__doc__)
    parser.add_argument("--scale", choices=sorted(YEARS), default="small")
    args = parser.parse_args(argv)
    size = YEARS[args.scale][0]
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        root = Path(folder)
        kommuner = prepare(size, root)["kommuner"]
        print(json.dumps({"scale": args.scale, **measure(root, kommuner)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
