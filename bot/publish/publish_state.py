"""Whether the feed folder can be left as it is: no work without a reader.

Every poll publishes, but most polls change nothing. The feeds, the index, the OPML and the item
pages are a pure function of the store's rows (new rows only: events, matches and health notes
are never edited in place), the config's feed settings and sources, the watchlists and the
templates. :func:`inputs` condenses those into one hash; the publish that wrote the folder saves
it in ``<state_dir>/feeds.json`` with the number of item pages it left, and the next one with the
same hash (and the folder's main files and pages still there) writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col

from bot import __version__
from bot.config import Config
from bot.match.watchlists import Watchlist
from bot.publish.page_data import marks
from bot.publish.pages import FOLDER, TEMPLATES
from bot.store import Store, write_atomically
from bot.store.models import HealthEvent

STATE_FILE = "feeds.json"


def inputs(config: Config, store: Store, watchlists: Sequence[Watchlist]) -> str:
    """A hash of everything the published folder is made from."""
    seen = marks(store)
    with store.session() as session:
        health = session.execute(sa_select(func.max(col(HealthEvent.id)))).scalar() or 0
    digest = hashlib.sha256()
    for part in (
        __version__,
        f"{seen.event} {seen.match} {health}",
        config.model_dump_json(include={"feeds", "sources"}),
        config.bot.timezone,
        *(watchlist.model_dump_json(exclude={"text", "path"}) for watchlist in watchlists),
    ):
        digest.update(part.encode() + b"\0")
    for template in sorted(TEMPLATES.iterdir()):
        digest.update(template.read_bytes() + b"\0")
    return digest.hexdigest()


def unchanged(config: Config, store: Store, watchlists: Sequence[Watchlist], signature: str) -> bool:
    """Whether the last publish saw the same inputs and its files are still there: the main
    files by name, the item pages by count (a deleted page or folder is written again; pages
    `serve` made since only add to the count)."""
    try:
        saved = json.loads((config.bot.state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(saved, dict) or saved.get("inputs") != signature:
        return False
    folder = config.feed_folder
    names = ["index.html", "feeds.opml", "_health.xml"]
    names += [f"{watchlist.slug}.xml" for watchlist in watchlists if watchlist.deliver.feed and watchlist.public]
    names += [f"source-{source.name}.xml" for source in config.sources]
    if not all((folder / name).is_file() for name in names):
        return False
    return isinstance(saved.get("pages"), int) and page_count(config) >= saved["pages"]


def remember(config: Config, signature: str) -> None:
    """Record what this publish saw; a failure only means the next publish writes again."""
    try:
        data = {"inputs": signature, "pages": page_count(config)}
        write_atomically(config.bot.state_dir / STATE_FILE, json.dumps(data).encode())
    except OSError:
        pass


def page_count(config: Config) -> int:
    try:
        return sum(1 for name in os.listdir(config.feed_folder / FOLDER) if name.endswith(".html"))
    except OSError:
        return 0
