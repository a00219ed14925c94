"""Feeds for 1,000 watchlists over an ingested store, and email digests for 10,000 recipients.

Feeds: the watchlists (ten terms each, consecutive slices of one generated term list) are run
over the stored items (``sync_watchlists``: a new watchlist looks back over recent items), then
``bot.publish.feeds.publish`` writes every watchlist's and every source's RSS and Atom feed. Digests:
``bot.publish.digest_render.compose`` + ``wire_format`` for each recipient, on synthetic pending matches
built as ``bot.publish.digest._sample`` builds one (no database).
"""

from __future__ import annotations

import random
import shutil
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy import update as sa_update
from sqlmodel import col

from benchmarks.generate import _Writer, term_lists
from benchmarks.ingest import config_for
from benchmarks.year import COMMITTEES, kommune_name
from bot.config import EmailSettings
from bot.match.matcher import Matcher
from bot.match.matches import match_pending_events, sync_watchlists
from bot.match.watchlists import Watchlist
from bot.publish.digest_render import Pending, compose, wire_format
from bot.publish.entries import Row
from bot.publish.feeds import publish
from bot.run.pipeline import open_store
from bot.store.models import Document, Event, Item, ItemVersion, Match, Meeting, SourceState

TERMS_PER_WATCHLIST = 10
NOW = datetime(2026, 12, 31, 12, tzinfo=timezone.utc)


def watchlists(count: int, seed: int = 1) -> list[Watchlist]:
    raws = term_lists(count * TERMS_PER_WATCHLIST, seed)
    per = TERMS_PER_WATCHLIST
    return [
        Watchlist(slug=f"w{index:05d}", terms=tuple(raws[index * per : (index + 1) * per])) for index in range(count)
    ]


def feeds(root: Path, kommuner: list[str], count: int, seed: int = 1) -> dict[str, Any]:
    """Match ``count`` watchlists over the ingested store and publish every feed.

    On a copy (SQLite backup) of ``root/state``'s database: first the look back of ``count`` new
    watchlists (``sync_watchlists`` over every item as it is now: all are within ``backfill_days``,
    as all were ingested just now); then, with those matches deleted and every change event marked
    unmatched, the path a running bot takes when watchlists exist before the minutes arrive:
    ``match_pending_events`` with one ``Matcher`` over all the watchlists; then ``publish``.
    """
    state = root / "feeds-state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir()
    config = config_for(root, kommuner)
    ingested = open_store(config)
    ingested.backup(state / "referatvagt.db")  # the database may still be partly in its WAL file
    ingested.close()
    config = config.model_copy(update={"bot": config.bot.model_copy(update={"state_dir": state})})
    store = open_store(config)
    lists = watchlists(count, seed)
    now = datetime.now(timezone.utc)
    start = time.perf_counter()
    backfilled = sync_watchlists(store, lists, now)
    backfill_s = time.perf_counter() - start
    with store.session() as session:
        items = session.scalar(select(func.count()).select_from(Item).where(col(Item.removed).is_(False)))
        session.execute(sa_delete(Match))
        session.execute(sa_update(Event).values(matched=False))
    start = time.perf_counter()
    matches = match_pending_events(store, Matcher(lists), now)
    match_s = time.perf_counter() - start
    start = time.perf_counter()
    report = publish(config, store, lists)
    publish_s = time.perf_counter() - start
    return {
        "watchlists": count,
        "backfill_s": round(backfill_s, 3),
        "backfill_matches": backfilled,
        "backfill_items": items,
        "matches": matches,
        "match_s": round(match_s, 3),
        "publish_s": round(publish_s, 3),
        "feeds_per_s": round((count + len(kommuner)) / publish_s, 1),
        "files_written": report.written,
    }


def pending_rows(count: int, watchlist: str, seed: int = 1) -> list[Pending]:
    """``count`` synthetic pending matches of one watchlist, as ``bot.publish.digest._sample`` builds one."""
    writer = _Writer(random.Random(seed))
    rows = []
    for index in range(count):
        text = writer.paragraph()
        word = text.split()[len(text.split()) // 2]
        at = text.index(word)
        match = Match(
            watchlist=watchlist, item_id=index, version_id=index, kind="new", terms=[word.lower()],
            snippet=text[:400], highlights=[[at, at + len(word)]] if at + len(word) <= 400 else [], created_at=NOW,
        )  # fmt: skip
        title = writer.sentence()[:80]
        item = Item(uid=f"i{index}", meeting_id=index, number=index % 12 + 1, title=title)
        version = ItemVersion(
            item_id=index, version=1, document_id=index, doc_kind="referat", content_hash="", title=title,
            url=f"https://example.org/vis?id={index}", created_at=NOW,
        )  # fmt: skip
        meeting = Meeting(
            source_id=index % 5, committee=COMMITTEES[index % len(COMMITTEES)], committee_key="",
            meeting_date=date(2026, index % 12 + 1, index % 28 + 1), kind="referat",
        )  # fmt: skip
        kommune = kommune_name(index % 5)
        source = SourceState(name=kommune.lower(), kommune=kommune, type="folder")
        document = Document(source_id=0, key=f"d{index}", raw_sha256="", fetched_at=NOW, outcome="stored")
        rows.append(Pending(match, Row(item, version, meeting, source, document), None))
    return rows


def digests(root: Path, recipients: int, per_digest: int = 8, seed: int = 1) -> dict[str, Any]:
    """Compose and serialise one digest per recipient, each with ``per_digest`` matches."""
    config = config_for(root, [])
    settings = EmailSettings.model_validate({"from": "referatvagt@example.org"})
    watchlist = Watchlist(slug="digest", terms=("kontanthjælp",))
    pool = pending_rows(200, watchlist.slug, seed)
    size = 0
    start = time.perf_counter()
    for index in range(recipients):
        offset = index % (len(pool) - per_digest)
        chosen = pool[offset : offset + per_digest]
        message = compose(config, settings, f"r{index}@example.org", [watchlist], chosen, "daily:2026-12-31", NOW)
        size += len(wire_format(message))
    seconds = time.perf_counter() - start
    return {
        "recipients": recipients,
        "matches_per_digest": per_digest,
        "seconds": round(seconds, 3),
        "per_s": round(recipients / seconds, 1),
        "mb": round(size / 1e6, 1),
    }
