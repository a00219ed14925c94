"""Item pages: one static HTML page per stored item, ``items/<uid>.html`` in the feed folder.

A page shows everything the store knows of one agenda item: where and when it was handled,
its sections, this meeting's decision set apart, earlier committees' decisions, its
attachments, its version history with the diffs, a link to the item on the kommune's own site
and the public feeds that matched it. Feed entries link here. Links inside a page are relative,
so the folder can be served from anywhere.

Pages are written with the feeds for the items someone is sent to: every item a feed entry links
(:func:`write_item_pages` is told which), every matched item (digests and notifications link
them) and every item whose page was written before (a feed reader keeps old entries, so a page
once linked is kept up to date). Any other item's page is made when asked for
(:class:`PagesOnRequest`, in ``referatvagt serve``): a national year is ~160,000 items, most of
which no reader ever opens. Of those pages, a publish renders only the ones that can have changed
since the last: items with a newer event or match, items matched by a feed whose title or address
changed, items of a source whose feed changed, and linked items whose page file is missing. What
the last publish saw is kept in ``<state_dir>/pages.json`` (outside the served folder); a new
page format (the template or :data:`PAGE_FORMAT`) or a rebuilt store renders every page again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Config
from bot.errors import BotError, PublishError, os_reason
from bot.publish.page_data import Marks, PageData, all_items, item_id_of, items_touched, marked, marks, pages_of
from bot.publish.page_view import FeedLink, page_context, web_link
from bot.publish.serve import CONTENT_TYPES, Page
from bot.store import Store, write_atomically

PAGE_FORMAT = 2  # raise when what a page shows changes outside the template: every page is rendered again
FOLDER = "items"
TEMPLATES = Path(__file__).parents[1] / "templates"  # bot/templates, as the Jinja loaders read it
STATE_FILE = "pages.json"
_TEMPLATES = Environment(loader=PackageLoader("bot", "templates"), autoescape=select_autoescape(["html", "j2"]))
_PAGE_PATH = re.compile(rf"/{FOLDER}/([0-9a-f]{{24}})\.html")  # as bot.store.recorder.item_uid makes them
log = logging.getLogger("referatvagt")
Write = Callable[[Path, bytes], bool]  # writes one file if its bytes changed (the feeds' atomic writer)


def page_url(config: Config, uid: str) -> str:
    """Where an item's page is published."""
    return f"{config.feeds.base_url}{FOLDER}/{uid}.html"


@dataclass(frozen=True)
class _State:
    fingerprint: str
    marks: Marks
    feeds: dict[str, str]  # feed slug → signature of how pages link it


def write_item_pages(config: Config, store: Store, feeds: Sequence[FeedLink], linked: set[int], write: Write) -> int:
    """Render the pages that may have changed (see the module docstring); returns how many were
    written. ``linked``: the items the feeds' entries link."""
    folder = config.feed_folder
    now = _State(_fingerprint(), marks(store), {feed.slug: _signature(feed) for feed in feeds})
    before = _load(config.bot.state_dir / STATE_FILE)
    uids, present = all_items(store), _names(folder / FOLDER)
    linked = linked | marked(store)
    kept = linked | {item_id for item_id, uid in uids.items() if f"{uid}.html" in present}
    if before is None or before.fingerprint != now.fingerprint or _rebuilt(before.marks, now.marks):
        wanted = kept
    else:
        changed = {
            slug for slug in now.feeds.keys() | before.feeds.keys() if now.feeds.get(slug) != before.feeds.get(slug)
        }
        watchlists = {slug for slug in changed if not slug.startswith("source-")}
        sources = {slug.removeprefix("source-") for slug in changed if slug.startswith("source-")}
        wanted = items_touched(store, before.marks, watchlists, sources) & kept
        wanted |= {item_id for item_id in linked if f"{uids.get(item_id)}.html" not in present}
    written = _render(config, store, feeds, sorted(wanted), write)
    _save(config.bot.state_dir / STATE_FILE, now)
    return written


def _render(config: Config, store: Store, feeds: Sequence[FeedLink], item_ids: list[int], write: Write) -> int:
    links = {feed.slug: feed for feed in feeds}
    folder, written = config.feed_folder, 0
    template, items = _TEMPLATES.get_template("item.html.j2"), config.feed_folder / FOLDER
    for chunk, read in pages_of(store, item_ids):
        for page in chunk:
            original = _original_pdf(store, page, folder, write)
            html = template.render(page_context(config, page, read, links, original))
            written += write(items / f"{page.item.uid}.html", html.encode())
    return written


class PagesOnRequest:
    """The pages of items no feed has linked, made when asked for (``referatvagt serve``): a
    request for ``/items/<uid>.html`` that no file answers renders the item's page from the store
    and writes it into the feed folder, where it is then a page like any other (each publish keeps
    it up to date). Called with a request path; says whether it wrote the page, or, when the folder
    cannot be written, gives the page to send (with a warning in the log)."""

    def __init__(
        self, config: Config, store: Callable[[], Store], feeds: Callable[[], Sequence[FeedLink]], write: Write
    ) -> None:
        self.config, self.store, self.feeds, self.write = config, store, feeds, write
        self._one_at_a_time = threading.Lock()  # two requests for one page write it once

    def __call__(self, path: str) -> Page | bool:
        found = _PAGE_PATH.fullmatch(path)
        if found is None:
            return False
        target = self.config.feed_folder / FOLDER / f"{found[1]}.html"
        with self._one_at_a_time:
            if target.is_file():
                return True
            try:
                return self._make(path, found[1], target)
            except (BotError, SQLAlchemyError) as exc:
                log.warning("the page %s could not be made: %s", path, exc)
                return False

    def _make(self, path: str, uid: str, target: Path) -> Page | bool:
        store = self.store()
        item_id = item_id_of(store, uid)
        if item_id is None:
            return False
        try:
            return _render(self.config, store, self.feeds(), [item_id], self.write) > 0
        except PublishError as exc:  # the folder cannot be written: the page is sent all the same
            log.warning("the page %s is sent without being kept: %s", path, exc)
            made: dict[Path, bytes] = {}
            _render(self.config, store, self.feeds(), [item_id], lambda to, data: made.setdefault(to, data) is data)
            return Page(200, CONTENT_TYPES[".html"], made[target])


def _fingerprint() -> str:
    """What every page depends on: the template and the page format."""
    template = TEMPLATES / "item.html.j2"
    return hashlib.sha256(f"{PAGE_FORMAT}\n".encode() + template.read_bytes()).hexdigest()


def _signature(feed: FeedLink) -> str:
    return hashlib.sha256(f"{feed.path}\n{feed.title}".encode()).hexdigest()[:16]


def _rebuilt(before: Marks, now: Marks) -> bool:
    """Ids going backwards mean another store (rebuilt or restored): trust nothing seen before."""
    return now.event < before.event or now.match < before.match


def _names(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except FileNotFoundError:
        return set()


def _original_pdf(store: Store, page: PageData, folder: Path, write: Callable[[Path, bytes], bool]) -> str | None:
    """A PDF the kommune's site does not link (a folder source's file) is published beside the
    pages as it is, so the page can link the original; its address relative to the page."""
    document = page.document
    if web_link(page.version.url) or PurePosixPath(document.key).suffix.lower() != ".pdf":
        return None
    name = f"documents/{document.raw_sha256}.pdf"
    target, archived = folder / name, store.archive_path(document.raw_sha256)
    if not target.exists():
        if not archived.exists():
            return None
        write(target, archived.read_bytes())
    return f"../{name}"


def _load(path: Path) -> _State | None:
    """The record of the last publish; None (render every page) when missing or unreadable."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return _State(str(data["fingerprint"]), Marks(int(data["event"]), int(data["match"])), dict(data["feeds"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save(path: Path, state: _State) -> None:
    data = {
        "fingerprint": state.fingerprint,
        "event": state.marks.event,
        "match": state.marks.match,
        "feeds": state.feeds,
    }
    try:
        write_atomically(path, json.dumps(data, sort_keys=True).encode())
    except OSError as exc:
        raise PublishError(f"cannot write {path} ({os_reason(exc)}): check the state folder's permissions") from exc
