"""One item's stored data as the item page template shows it: Danish labels, local dates, safe HTML.

The page splits the version's sections three ways: this meeting's decision (set apart at the
top), earlier committees' decisions (their own block, from ``ItemVersion.decisions``), and the
other sections in the order the minutes give them. The ``Bilag`` section is left out when the
attachments are listed with their links, since it only names them again.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.cases import CARRIED, CaseStep
from bot.config import Config
from bot.parse.extract import clean_text
from bot.parse.sections import is_decision_heading, section_kind
from bot.publish.page_data import PageData, ReadAttachment, Step
from bot.publish.page_text import section_html
from bot.publish.published import published

DOC_KINDS = {"dagsorden": "Dagsorden", "tillægsdagsorden": "Tillægsdagsorden", "referat": "Referat"}


@dataclass(frozen=True)
class FeedLink:
    """A public feed as item pages link it: ``slug`` is the watchlist's, or ``source-<name>``."""

    slug: str
    path: str  # under the feed folder, without extension
    title: str


def page_context(
    config: Config,
    page: PageData,
    read: Mapping[str, ReadAttachment],
    feeds: Mapping[str, FeedLink],
    original: str | None,
) -> dict[str, Any]:
    version, meeting, document = page.version, page.meeting, page.document
    decision, sections = _split(version.sections, version.decision, bool(version.attachments))
    return {
        "kommune": clean_text(page.source.kommune),
        "committee": clean_text(meeting.committee),
        "meeting_date": _day(meeting.meeting_date),
        "start_time": meeting.start_time,
        "place": clean_text(meeting.place or ""),
        "doc_kind": DOC_KINDS.get(version.doc_kind, version.doc_kind),
        "number": page.item.number,
        "title": clean_text(version.title),
        "case_number": clean_text(version.case_number or ""),
        "version": version.version,
        "closed": version.closed,
        "removed": page.item.removed,
        "own_link": own_page(version, meeting),
        "original": original,
        "decision": decision,
        "sections": sections,
        "earlier": _earlier(version.decisions, version.decision),
        "case": _case(page.case, page.item.id),
        "attachments": [_attachment(entry, read) for entry in version.attachments],
        "history": [_step(config, step, meeting.meeting_date) for step in reversed(page.history)],
        "feeds": _feeds(page, feeds),
        "document": {
            "name": clean_text(document.key),
            "published": _published(config, document.published_at, document.fetched_at, meeting.meeting_date),
            "sha256": document.raw_sha256,
        },
    }


def _split(
    stored: list[list[str]], own: str | None, listed_attachments: bool
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """This meeting's decision, and the sections shown under their headings."""
    decisions = [index for index, (heading, text) in enumerate(stored) if is_decision_heading(heading)]
    mine = next((index for index in reversed(decisions) if own is not None and stored[index][1] == own), None)
    decision = None
    if mine is not None:
        decision = {"heading": clean_text(stored[mine][0]), "html": section_html(stored[mine][1])}
    sections = [
        {"heading": clean_text(heading), "html": section_html(text)}
        for index, (heading, text) in enumerate(stored)
        if index not in decisions and not (listed_attachments and section_kind(heading) == "bilag")
    ]
    return decision, sections


def _earlier(decisions: list[dict[str, Any]], own: str | None) -> list[dict[str, Any]]:
    """Every decision but this meeting's own (the first with its text), labelled by committee and date."""
    earlier, skipped = [], own is None
    for decided in decisions:
        if not skipped and decided.get("text") == own:
            skipped = True
            continue
        day = decided.get("date")
        label = clean_text(str(decided.get("committee") or "Beslutning"))
        if day:
            label += f" den {_day(date.fromisoformat(day))}"
        earlier.append({"label": label, "html": section_html(str(decided.get("text") or ""))})
    return earlier


_CASE_STEPS = 15  # listed on a page: an administrative case number can recur at every meeting
_CASE_BEFORE = 10  # of them before the page's own step


def _case(steps: list[CaseStep], item_id: int | None) -> dict[str, Any] | None:
    """The case's steps around this item's own, oldest first; None when the item is its only step."""
    own = next((index for index, step in enumerate(steps) if step.item_id == item_id), None)
    if own is None or len(steps) < 2:
        return None
    start = max(0, min(own - _CASE_BEFORE, len(steps) - _CASE_STEPS))
    shown = steps[start : start + _CASE_STEPS]
    return {
        "steps": [_case_step(step, item_id) for step in shown],
        "before": start,
        "after": len(steps) - start - len(shown),
        "total": len(steps),
    }


def _case_step(step: CaseStep, item_id: int | None) -> dict[str, Any]:
    """One step as the page lists it; links are relative (item pages share a folder)."""
    carrier = step.carrier
    if step.kind == CARRIED and carrier is not None:
        what = f"Beslutning citeret i {clean_text(carrier.committee)} {_day(carrier.date)}"
        href: str | None = "#tidligere" if carrier.item_id == item_id else f"{carrier.uid}.html#tidligere"
    else:
        what = f"{DOC_KINDS.get(step.kind, step.kind)}, punkt {step.number}: {clean_text(step.title or '')}"
        href = None if step.item_id == item_id else f"{step.uid}.html"
    return {
        "date": step.day,
        "committee": clean_text(step.committee),
        "what": what,
        "outcome": step.verdict,
        "decided": step.outcome is not None,
        "href": href,
        "own": step.item_id == item_id,
    }


def _attachment(entry: Any, read: Mapping[str, ReadAttachment]) -> dict[str, Any]:
    stored = {"name": entry, "url": None} if isinstance(entry, str) else dict(entry)
    notes = []
    sha256 = stored.get("sha256")
    found = read.get(sha256) if isinstance(sha256, str) else None
    if found is not None and found.pages:
        notes.append("1 side" if found.pages == 1 else f"{found.pages} sider")
    error = stored.get("error") or (found.error if found is not None and not found.has_text else None)
    if error:
        notes.append(f"teksten kunne ikke læses: {error}")
    return {
        "name": clean_text(str(stored.get("name") or "")),
        "url": web_link(stored.get("url")),
        "note": "; ".join(notes),
    }


def _step(config: Config, step: Step, meeting_date: date) -> dict[str, Any]:
    if step.kind == "new":
        label = "Nyt punkt"
    elif step.kind == "removed":
        label = "Udgået"
    else:
        label = "Beslutning tilføjet" if step.decision_added else "Ændret"
    return {
        "label": label,
        "when": _published(config, step.published_at, step.fetched_at, meeting_date),
        "version": step.version if step.kind != "removed" else None,
        "doc_kind": DOC_KINDS.get(step.doc_kind or "", step.doc_kind),
        "sections": [clean_text(s) for s in step.changed_sections] if step.kind == "changed" else [],
        "diff": [
            {"section": clean_text(str(entry["section"])), "ops": [(op, clean_text(text)) for op, text in entry["ops"]]}
            for entry in (step.diff if step.kind == "changed" else [])
        ],
        "attachments": [
            {
                "label": "Nyt bilag" if news.get("change") == "added" else "Ændret bilag",
                "name": clean_text(str(news.get("name") or "")),
                "url": web_link(news.get("url")),
            }
            for news in step.attachment_changes or []
        ],
    }


def _feeds(page: PageData, feeds: Mapping[str, FeedLink]) -> list[dict[str, str]]:
    """The public feeds that carry the item: each watchlist feed that matched it, then its source's."""
    slugs = [*sorted(page.watchlists), f"source-{page.source.name}"]
    return [
        {
            "title": feed.title,
            "rss": f"../{feed.path}.xml",
            "atom": f"../{feed.path}.atom",
            "about": f"../index.html#{feed.slug}",
        }
        for feed in (feeds.get(slug) for slug in slugs)
        if feed is not None
    ]


def _day(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _published(config: Config, published_at: datetime | None, fetched_at: datetime, meeting_date: date) -> str:
    """ "Offentliggjort 02.11.2026", "Hentet …", or that the kommune gave no date (bot.publish.published)."""
    return _published_label(published_at, fetched_at, meeting_date, config.bot.zone)


@functools.lru_cache(maxsize=1024)  # a document's items, and their histories, repeat its dates
def _published_label(published_at: datetime | None, fetched_at: datetime, meeting_date: date, zone: ZoneInfo) -> str:
    label = published(published_at, fetched_at, meeting_date, zone).label(zone)
    return label.capitalize() if label else "Udgivelsesdato ukendt"


class Linked(Protocol):
    """A stored item version or meeting, as an ORM object or as a page reads it."""

    @property
    def url(self) -> str | None: ...


def own_page(version: Linked, meeting: Linked) -> str | None:
    """The item, else its meeting, on the kommune's own site (None for a folder source)."""
    return web_link(version.url) or web_link(meeting.url)


def web_link(url: Any) -> str | None:
    """A link from the minutes, only if it is a web address (never ``javascript:`` and the like)."""
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None
