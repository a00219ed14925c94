"""Validators and kept bodies of conditional GET, in the store: the cache of a run's fetcher."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timezone
from pathlib import Path

from bot.fetch import Cached, Fetcher, FetchSettings
from bot.store import Store, archived, write_atomically
from bot.store.coordination import insert_ignoring
from bot.store.models import HttpCache


class StoreCache:
    """Validators per URL in the ``http_cache`` table. A 304 needs the body it confirms: it is
    read from the raw archive (documents the pipeline archived) or from ``folder``, where
    ``keep_body`` keeps the newest body of a URL (listings, which are not archived)."""

    def __init__(self, store: Store, folder: Path) -> None:
        self.store = store
        self.folder = folder

    def load(self, url: str) -> Cached | None:
        with self.store.session() as session:
            row = session.get(HttpCache, url)
        if row is None:
            return None
        return Cached(row.etag, row.last_modified, row.sha256, self._body(row.sha256))

    def save(self, url: str, etag: str | None, last_modified: str | None, content: bytes, keep_body: bool) -> None:
        digest = hashlib.sha256(content).hexdigest()
        if keep_body:
            self._keep(digest, content)
        with self.store.session() as session:
            row = session.get(HttpCache, url, with_for_update=True)
            if row is None:  # another worker may insert it at the same time: then its row stays
                row = HttpCache(url=url, etag=etag, last_modified=last_modified, sha256=digest)
                row.checked_at = datetime.now(timezone.utc)
                insert_ignoring(session, HttpCache, [row.model_dump()], ["url"])
                return
            if row.sha256 != digest and keep_body:
                archived(self.folder, row.sha256).unlink(missing_ok=True)
            row.etag, row.last_modified, row.sha256 = etag, last_modified, digest
            row.checked_at = datetime.now(timezone.utc)
            session.add(row)

    def _body(self, digest: str) -> bytes | None:
        for path in (self.store.archive_path(digest), archived(self.folder, digest)):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if hashlib.sha256(data).hexdigest() == digest:
                return data
        return None

    def _keep(self, digest: str, content: bytes) -> None:
        target = archived(self.folder, digest)
        if target.exists():
            return
        write_atomically(target, content)


def store_fetcher(store: Store, settings: FetchSettings | None = None, stop: threading.Event | None = None) -> Fetcher:
    """The fetcher of a run: validators in the store, kept bodies beside the archive."""
    return Fetcher(settings, cache=StoreCache(store, store.archive_dir.parent / "http-cache"), stop=stop)
