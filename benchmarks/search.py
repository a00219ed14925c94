"""The cost of one search on the search page: ``python -m benchmarks.search STATE_DIR``.

STATE_DIR is a state folder with a store, e.g. a national year ingested by the ingest phase
(``benchmarks.ingest``). Each query is timed through the page itself (:class:`SearchApp.page`:
parse, the SQL filters, reading and matching the newest items, rendering), best of three; the
worst case is a term found nowhere, which reads the most items a search may read.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from bot.config import BotSettings, Config
from bot.publish.search import SearchLimits, parse_query, run_search
from bot.publish.search_web import SearchApp
from bot.run.pipeline import open_store

QUERIES = (
    {"q": "skole"},  # a common word: the results cap ends the search early
    {"q": "kystbeskyttelsesplanlægning"},  # found nowhere: every item the cap allows is read
    {"q": '"grøn omstilling" *ledighed IGU =bil'},  # every kind of term, rare
    {"q": "kystbeskyttelsesplanlægning", "udvalg": "Teknik"},  # a committee filter narrows the items read
    {"q": "kystbeskyttelsesplanlægning", "fra": "2026-06-01", "til": "2026-06-30"},
)


def main(state: Path) -> None:
    config = Config(bot=BotSettings(state_dir=state))
    limits = SearchLimits()
    app = SearchApp(config, lambda: open_store(config, read_only=True), limits)
    store = app.store()
    print(f"{len(store.kommuner())} kommuner, {len(store.committees())} committees; limits {limits}")
    for params in QUERIES:
        target = f"/search?{urlencode(params)}"
        times = []
        for _ in range(3):
            start = time.perf_counter()
            page = app.page(target)
            times.append(time.perf_counter() - start)
        results = run_search(store, parse_query(params, limits), limits)
        print(
            f"{min(times):6.3f} s  {page.status}  {len(page.body) / 1000:6.1f} KB  read {results.scanned:>6} items,"
            f" {len(results.found)} results{' (capped)' if results.scan_capped else ''}  {params}"
        )
    app.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
