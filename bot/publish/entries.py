"""What one feed entry says about a stored item version: its title (what happened, where, which
item), date, link, snippet and the attachments that changed. Feeds (:mod:`bot.publish.feeds`), the
search page's feed, email digests and notifications all tell an item this way. Minutes are
untrusted: every text is cleaned of characters XML forbids and escaped by the templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from bot.config import Config
from bot.match.snippet import Snippet
from bot.outcomes import classify
from bot.parse.extract import clean_text
from bot.publish.page_view import own_page, web_link
from bot.publish.pages import page_url
from bot.publish.published import Published, published
from bot.store.models import Document, Event, Item, ItemVersion, Meeting, SourceState

MAX_TITLE = 300
# The feeds' templates (entries, the index page, the OPML file), escaping HTML and XML
FEED_TEMPLATES = Environment(
    loader=PackageLoader("bot", "templates"), autoescape=select_autoescape(["html", "j2"]), keep_trailing_newline=True
)


@dataclass(frozen=True)
class Entry:
    guid: str
    title: str
    link: str
    published: datetime
    categories: tuple[str, ...]
    summary: str
    html: str


@dataclass(frozen=True)
class Row:
    """One stored item version with where it was published."""

    item: Item
    version: ItemVersion
    meeting: Meeting
    source: SourceState
    document: Document


@dataclass(frozen=True)
class Seen:
    """What the bot saw happen to the item."""

    kind: str
    decision_added: bool
    event: Event | None


def found_in_attachment(name: str | None, url: str | None) -> dict[str, str | None] | None:
    """The attachment a match's snippet is from, as templates show it ("i bilag <name>")."""
    return {"name": clean_text(name), "url": web_link(url)} if name else None


def attachment_news(event: Event | None) -> list[dict[str, str | None]]:
    """The attachments an event added or changed, each with its words: "Nyt bilag", "Ændret bilag"."""
    return [
        {
            "label": "Nyt bilag" if news.get("change") == "added" else "Ændret bilag",
            "name": clean_text(str(news.get("name") or "")),
            "url": web_link(news.get("url")),
        }
        for news in ((event.attachment_changes or []) if event is not None else [])
    ]


def entry_label(kind: str, decision_added: bool, event: Event | None) -> str:
    """How an entry's title starts: what happened to the item."""
    if decision_added:
        return "Beslutning: "
    if kind != "changed":
        return ""
    news = attachment_news(event)
    if event is not None and news and all(s.startswith("Bilag: ") for s in event.changed_sections):
        return "Nyt bilag: " if any(n["label"] == "Nyt bilag" for n in news) else "Ændret bilag: "
    return "Opdateret: "


def published_of(config: Config, row: Row) -> Published:
    """When the item's document came out (see :mod:`bot.publish.published`): never when the bot matched
    it, so an entry's date changes only with its document."""
    return published(row.document.published_at, row.document.fetched_at, row.meeting.meeting_date, config.bot.zone)


def build_entry(
    config: Config,
    feed_slug: str,
    seen: Seen | None,
    row: Row,
    snippet: Markup,
    terms: tuple[str, ...],
    found_in: dict[str, str | None] | None = None,
) -> Entry:
    """An entry of a feed; ``seen``: what happened to the item (None: no label, as in a search)."""
    prefix = entry_label(seen.kind, seen.decision_added, seen.event) if seen is not None else ""
    day = row.meeting.meeting_date.strftime("%d.%m.%Y")
    where = f"{row.source.kommune} · {row.meeting.committee} {day}"
    title = clean_text(f"{prefix}{where} · Punkt {row.item.number}: {row.version.title}")
    event = seen.event if seen is not None else None
    when = published_of(config, row)
    diff = [_clean_diff(entry) for entry in event.diff] if event is not None and event.kind == "changed" else []
    html = FEED_TEMPLATES.get_template("entry.html.j2").render(
        kommune=clean_text(row.source.kommune),
        committee=clean_text(row.meeting.committee),
        meeting_date=day,
        published=when.phrase(row.version.doc_kind, config.bot.zone),
        number=row.item.number,
        case_number=clean_text(row.version.case_number or ""),
        snippet=snippet,
        decision=[clean_text(p) for p in (row.version.decision or "").split("\n\n") if p.strip()],
        outcome=clean_text(outcome.text) if (outcome := classify(row.version.decision)) is not None else "",
        diff=diff,
        terms=terms,
        found_in=found_in,
        attachments=attachment_news(event if event is not None and event.kind == "changed" else None),
        page=page_url(config, row.item.uid),
        own_page=own_page(row.version, row.meeting),
    )
    summary = clean_text(str(snippet.striptags()) if snippet else "")
    if found_in is not None and summary:
        summary = f"i bilag {found_in['name']}: {summary}"
    return Entry(
        guid=f"urn:referatvagt:{feed_slug}:{row.item.uid}:v{row.version.version}",
        title=title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…",
        link=page_url(config, row.item.uid),
        published=when.at,
        categories=tuple(clean_text(c) for c in (row.source.kommune, row.meeting.committee, *terms)),
        summary=summary,
        html=html,
    )


def entry_link(config: Config, row: Row) -> str:
    """The item on the kommune's site when it has one there, else the item's own page."""
    return own_page(row.version, row.meeting) or page_url(config, row.item.uid)


def highlighted(snippet: Snippet) -> Markup:
    """A snippet as HTML, its hits in bold."""
    out, last, text = Markup(), 0, snippet.text
    for start, end in snippet.highlights:
        out += (
            escape(clean_text(text[last:start])) + Markup("<b>") + escape(clean_text(text[start:end])) + Markup("</b>")
        )
        last = end
    return out + escape(clean_text(text[last:]))


def _clean_diff(entry: dict[str, Any]) -> dict[str, Any]:
    return {"section": clean_text(str(entry["section"])), "ops": [(op, clean_text(text)) for op, text in entry["ops"]]}
