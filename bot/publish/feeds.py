"""RSS 2.0 and Atom 1.0 feeds (feedgen), the index page and the OPML file.

One feed per watchlist with ``[deliver] feed = true`` (its matches) and one per source (all
new and changed items); entries (:mod:`bot.publish.entries`) link to the items' own pages, which
:mod:`bot.publish.pages` writes with each publish. Feeds must be stable: an entry's GUID is built from the item's uid,
its version and the feed, never from content or time; the build date is the newest entry's
date, so an unchanged feed is byte-identical and is not rewritten (stable ETags). Files are
written atomically. Minutes are untrusted: all their text is escaped, and characters XML
forbids are removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from feedgen.feed import FeedGenerator
from markupsafe import Markup, escape
from sqlmodel import select

from bot import __version__
from bot.config import Config
from bot.errors import PublishError, os_reason
from bot.match.watchlists import Watchlist
from bot.parse.extract import clean_text
from bot.publish.entries import FEED_TEMPLATES, Entry, Row, Seen, build_entry, found_in_attachment, highlighted
from bot.publish.health import health_notes
from bot.publish.page_view import FeedLink
from bot.publish.pages import write_item_pages
from bot.publish.publish_state import inputs, remember, unchanged
from bot.publish.views import snippet_of
from bot.store import Store, write_atomically
from bot.store.coordination import exclusive
from bot.store.models import ItemVersion, WatchlistState

TTL_MINUTES = 30
NO_ENTRIES = datetime(2026, 1, 1, tzinfo=timezone.utc)  # a fixed build date keeps an empty feed stable


@dataclass
class Feed:
    slug: str
    path: str  # under the feed folder, without extension: "kontanthjaelp", "private/<token>/x"
    title: str
    description: str
    public: bool
    terms: tuple[str, ...] = ()
    entries: list[Entry] = field(default_factory=list)
    items: set[int] = field(default_factory=set)  # the ids of the items its entries link
    links: tuple[str, str] | None = None  # its own address and its page for people, when not a file here


@dataclass
class FeedReport:
    written: int = 0
    unchanged: int = 0
    pages: int = 0  # item pages written (only those that may have changed are rendered)


def publish(config: Config, store: Store, watchlists: Sequence[Watchlist]) -> FeedReport:
    """Regenerate every feed, the index page and the OPML; write only files that changed.

    Workers sharing one feed folder publish one at a time (each file is written atomically,
    so a reader never sees half a file either). When nothing they show has changed since the
    last publish, nothing is rendered (:mod:`bot.publish.publish_state`)."""
    with exclusive(store.engine, "publish"):
        signature = inputs(config, store, watchlists)
        if unchanged(config, store, watchlists, signature):
            return FeedReport()  # nothing a feed or page shows has changed since the last publish
        report = _publish(config, store, watchlists)
        remember(config, signature)
        return report


def _publish(config: Config, store: Store, watchlists: Sequence[Watchlist]) -> FeedReport:
    folder = config.feed_folder
    feeds = [_watchlist_feed(config, store, w) for w in watchlists if w.deliver.feed]
    feeds += [_source_feed(config, store, source.name, source.kommune) for source in config.sources]
    report = FeedReport()
    _remove_stale(folder, store, {feed.path for feed in feeds})
    for feed in feeds:
        for suffix, data in ((".xml", render_rss(feed, config)), (".atom", render_atom(feed, config))):
            _count(report, write_if_changed(folder / f"{feed.path}{suffix}", data))
    listed = [feed for feed in feeds if feed.public]
    _count(report, write_if_changed(folder / "index.html", render_index(listed, config).encode()))
    opml = [feed for feed in listed if not feed.slug.startswith("source-")]
    _count(report, write_if_changed(folder / "feeds.opml", render_opml(opml, config).encode()))
    _count(report, write_if_changed(folder / "_health.xml", render_rss(_health_feed(config, store), config)))
    linked = {item for feed in feeds for item in feed.items}
    report.pages = write_item_pages(config, store, feed_links(config, watchlists), linked, write_if_changed)
    return report


def feed_links(config: Config, watchlists: Sequence[Watchlist]) -> list[FeedLink]:
    """The public feeds, as item pages link them: the watchlists' (with a feed), then the sources'."""
    public = [FeedLink(w.slug, w.slug, w.name) for w in watchlists if w.deliver.feed and w.public]
    return public + [FeedLink(f"source-{s.name}", f"source-{s.name}", f"alt fra {s.kommune}") for s in config.sources]


def _remove_stale(folder: Path, store: Store, in_use: set[str]) -> None:
    """A watchlist deleted, made private or public, or without a feed leaves no feed file at an
    address it no longer uses: nothing is served or found there any more."""
    with store.session() as session:
        states = [(state.slug, state.token) for state in session.exec(select(WatchlistState))]
    for slug, token in states:
        for path in (slug, f"private/{token}/{slug}"):
            if path in in_use:
                continue
            for suffix in (".xml", ".atom"):
                try:
                    (folder / f"{path}{suffix}").unlink(missing_ok=True)
                except OSError as exc:
                    raise _cannot_write(folder, exc) from exc


def _health_feed(config: Config, store: Store) -> Feed:
    """Sources failing ``alert_after_failures`` times in a row, and their recoveries (RSS only;
    not listed on the index page or in the OPML: it is for whoever runs the bot)."""
    feed = Feed("_health", "_health", "referatvagt: kilder der fejler", "Kilder der fejler gentagne gange", False)
    urls = {source.name: str(getattr(source, "url", "") or "") for source in config.sources}
    for note in health_notes(store, config.bot.alert_after_failures, config.feeds.max_entries):
        text = clean_text(note.text)
        link = urls.get(note.source) or config.feeds.base_url
        entry = Entry(
            note.guid, clean_text(note.title), link, note.at, (clean_text(note.kommune),), text, str(escape(text))
        )
        feed.entries.append(entry)
    return feed


def _count(report: FeedReport, written: bool) -> None:
    if written:
        report.written += 1
    else:
        report.unchanged += 1


def feed_path(watchlist: Watchlist, token: str | None) -> str:
    """Where a watchlist's feed lives: its slug, or an unguessable folder when it is private."""
    return watchlist.slug if watchlist.public or token is None else f"private/{token}/{watchlist.slug}"


def _watchlist_feed(config: Config, store: Store, watchlist: Watchlist) -> Feed:
    state = store.watchlist_state(watchlist.slug)
    terms = (*watchlist.terms, *watchlist.all, *(f"sag {case}" for case in watchlist.cases))
    feed = Feed(
        slug=watchlist.slug,
        path=feed_path(watchlist, state.token if state else None),
        title=f"referatvagt: {watchlist.name}",
        description=f"Punkter i dagsordener og referater, der matcher: {', '.join(terms)}",
        public=watchlist.public,
        terms=terms,
    )
    rows = store.feed_rows(watchlist.slug, config.feeds.max_entries)
    events = store.events_by_id(match.event_id for match, *_ in rows if match.event_id is not None)
    for match, item, version, meeting, source, document in rows:
        row = Row(item, version, meeting, source, document)
        snippet = snippet_of(match)
        event = events.get(match.event_id) if match.event_id is not None else None
        seen = Seen(match.kind, match.decision_added, event)
        found_in = found_in_attachment(match.attachment, match.attachment_url)
        feed.entries.append(
            build_entry(config, feed.slug, seen, row, highlighted(snippet), tuple(match.terms), found_in)
        )
        feed.items.add(item.id or 0)  # stored rows have ids
    return feed


def _source_feed(config: Config, store: Store, name: str, kommune: str) -> Feed:
    slug = f"source-{name}"
    feed = Feed(slug, slug, f"referatvagt: alt fra {kommune}", f"Alle nye og ændrede punkter fra {kommune}", True)
    for event, item, version, meeting, source, document in store.source_feed_rows(name, config.feeds.max_entries):
        row = Row(item, version, meeting, source, document)
        opening = Markup(escape(_first_words(version)))
        seen = Seen(event.kind, event.decision_added, event)
        feed.entries.append(build_entry(config, slug, seen, row, opening, ()))
        feed.items.add(item.id or 0)  # stored rows have ids
    return feed


def _first_words(version: ItemVersion, count: int = 40) -> str:
    text = " ".join(text for _, text in version.sections[:2]) or version.title
    words = clean_text(text).split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")


# --- rendering ----------------------------------------------------------------------------------


def _generator(feed: Feed, config: Config, suffix: str) -> FeedGenerator:
    base = config.feeds.base_url
    generator = FeedGenerator()
    generator.id(f"urn:referatvagt:feed:{feed.slug}")
    generator.title(clean_text(feed.title))
    generator.subtitle(clean_text(feed.description))
    own, page = feed.links or (f"{base}{feed.path}{suffix}", f"{base}index.html#{feed.slug}" if feed.public else base)
    # The RSS channel <link> is the last link added: self first, the page for people last.
    generator.link(href=own, rel="self")
    generator.link(href=page, rel="alternate")
    generator.language("da")
    generator.generator("referatvagt", __version__)
    newest = max((entry.published for entry in feed.entries), default=NO_ENTRIES)
    generator.lastBuildDate(newest)
    generator.updated(newest)
    generator.ttl(TTL_MINUTES)
    # Newest document first; entries of one date stay in stored order (newest match first)
    for entry in sorted(feed.entries, key=lambda entry: entry.published, reverse=True):
        item = generator.add_entry(order="append")
        item.id(entry.guid)
        item.guid(entry.guid, permalink=False)
        item.title(entry.title)
        item.link(href=entry.link)
        item.published(entry.published)
        item.updated(entry.published)
        for category in dict.fromkeys(entry.categories):
            item.category(term=category)
        item.description(entry.summary or entry.title)
        item.content(entry.html, type="html")
    return generator


def render_rss(feed: Feed, config: Config) -> bytes:
    return bytes(_generator(feed, config, ".xml").rss_str(pretty=True))


def render_atom(feed: Feed, config: Config) -> bytes:
    return bytes(_generator(feed, config, ".atom").atom_str(pretty=True))


def _listing(feeds: Sequence[Feed], config: Config) -> list[dict[str, Any]]:
    base = config.feeds.base_url
    return [
        {
            "slug": feed.slug,
            "title": feed.title.removeprefix("referatvagt: "),
            "terms": feed.terms,
            "rss": f"{base}{feed.path}.xml",
            "atom": f"{base}{feed.path}.atom",
            "html": f"{base}index.html#{feed.slug}",
            "count": len(feed.entries),
            "updated": feed.entries[0].published.astimezone(config.bot.zone).strftime("%d.%m.%Y %H:%M")
            if feed.entries
            else None,
            "latest": feed.entries[:5],
        }
        for feed in feeds
    ]


def render_index(feeds: Sequence[Feed], config: Config) -> str:
    return FEED_TEMPLATES.get_template("index.html.j2").render(feeds=_listing(feeds, config), version=__version__)


def render_opml(feeds: Sequence[Feed], config: Config) -> str:
    return FEED_TEMPLATES.get_template("feeds.opml.j2").render(feeds=_listing(feeds, config))


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically replace ``path`` with ``data`` unless it already holds exactly that."""
    try:
        return _write_if_changed(path, data)
    except OSError as exc:
        # The folder to fix: the file's own, or the nearest one that exists if it could not be made.
        raise _cannot_write(next(folder for folder in path.parents if folder.is_dir()), exc) from exc


def _cannot_write(folder: Path, exc: OSError) -> PublishError:
    # Items and matches are stored before the feeds are written: the next run writes them all.
    return PublishError(
        f"cannot write the feed folder {folder} ({os_reason(exc)}): check its owner, permissions "
        "and free space; the feeds are written again on the next run"
    )


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, data, mode=0o644)  # readable by any web server serving the folder
    return True
