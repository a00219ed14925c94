"""How stored rows are shown: JSON objects for ``--json`` and one-line text for people."""

from __future__ import annotations

from typing import Any

from bot.match.snippet import Snippet
from bot.outcomes import classify
from bot.store.diff import render_diff
from bot.store.models import Document, Event, Item, ItemVersion, Match, Meeting, SourceState


def attachment_json(stored: Any) -> dict[str, Any]:
    """A stored attachment as ``{"name", "url"}`` (early versions stored the name alone)."""
    return {"name": stored, "url": None} if isinstance(stored, str) else dict(stored)


def outcome_json(decision: str | None) -> dict[str, Any] | None:
    """The outcome of a decision ({"outcome", "votes", "dissent"}); None without a decision."""
    outcome = classify(decision)
    return outcome.as_json() if outcome is not None else None


def where(number: int | None, version: ItemVersion, meeting: Meeting, source: SourceState) -> str:
    day = meeting.meeting_date.strftime("%d.%m.%Y")
    return f"{source.kommune} · {meeting.committee} {day} · Punkt {number}: {version.title}"


def item_line(item: Item, version: ItemVersion, meeting: Meeting, source: SourceState, _: Document) -> str:
    flags = [f"v{version.version}", version.doc_kind]
    if version.closed:
        flags.append("lukket")
    if version.decision:
        flags.append("beslutning")
    if item.removed:
        flags.append("udgået")
    return f"{where(item.number, version, meeting, source)}  [{', '.join(flags)}]"


def event_text(
    event: Event, item: Item, version: ItemVersion, meeting: Meeting, source: SourceState, _: Document
) -> str:
    label = "decision added" if event.decision_added else event.kind
    lines = [f"{label:<15} {where(version.number, version, meeting, source)}"]
    if event.kind == "changed" and event.changed_sections:
        lines.append(f"{'':<15} sections: {', '.join(event.changed_sections)}")
        lines.extend(f"{'':<15} {line}" for line in render_diff(event.diff).splitlines())
        lines.extend(f"{'':<15} {attachment_news_text(news)}" for news in event.attachment_changes or [])
    return "\n".join(lines)


def item_json(
    item: Item, version: ItemVersion, meeting: Meeting, source: SourceState, document: Document
) -> dict[str, Any]:
    return {
        "source": source.name,
        "kommune": source.kommune,
        "committee": meeting.committee,
        "meeting_date": meeting.meeting_date.isoformat(),
        "meeting_start": meeting.start_time,
        "place": meeting.place,
        "doc_kind": version.doc_kind,
        "number": item.number,
        "title": version.title,
        "case_number": version.case_number,
        "closed": version.closed,
        "removed": item.removed,
        "decision": version.decision,
        "outcome": outcome_json(version.decision),
        "decisions": version.decisions,
        "sections": dict((heading, text) for heading, text in version.sections),
        "attachments": [attachment_json(a) for a in version.attachments],
        "version": version.version,
        "content_hash": version.content_hash,
        "url": version.url,
        "document": {
            "key": document.key,
            "raw_sha256": document.raw_sha256,
            "fetched_at": document.fetched_at.isoformat(),
        },
    }


def event_json(
    event: Event, item: Item, version: ItemVersion, meeting: Meeting, source: SourceState, _: Document
) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "source": source.name,
        "kommune": source.kommune,
        "committee": meeting.committee,
        "meeting_date": meeting.meeting_date.isoformat(),
        "number": version.number,
        "title": version.title,
        "case_number": version.case_number,
        "version": version.version,
        "changed_sections": event.changed_sections,
        "decision_added": event.decision_added,
        "attachment_added": event.attachment_added,
        "attachment_changed": event.attachment_changed,
        "attachments": event.attachment_changes or [],
        "diff": render_diff(event.diff),
        "diff_ops": event.diff,
        "backfill": event.backfill,
        "created_at": event.created_at.isoformat(),
    }


def match_json(
    match: Match, item: Item, version: ItemVersion, meeting: Meeting, source: SourceState, document: Document
) -> dict[str, Any]:
    return {
        **item_json(item, version, meeting, source, document),
        "watchlist": match.watchlist,
        "terms": match.terms,
        "snippet": snippet_of(match).marked(),
        "event": match.kind,
        "decision_added": match.decision_added,
        "changed_sections": match.changed_sections,
        "attachment": {"name": match.attachment, "url": match.attachment_url} if match.attachment else None,
        "by_case": match.by_case,
        "backfill": match.backfill,
        "matched_at": match.created_at.isoformat(),
    }


def match_text(
    match: Match, item: Item, version: ItemVersion, meeting: Meeting, source: SourceState, _: Document
) -> str:
    label = "decision added" if match.decision_added else match.kind
    terms = ", ".join(match.terms) or "case number"
    heading = f"[{match.watchlist}] {label:<14} {where(item.number, version, meeting, source)}"
    found_in = f"i bilag {match.attachment}: " if match.attachment else ""
    return f"{heading}\n    ({terms}) {found_in}{snippet_of(match).marked()}"


def attachment_news_text(news: dict[str, Any]) -> str:
    """An attachment an event added or changed, in words: "Nyt bilag: Lokalplan 511"."""
    return f"{'Nyt' if news.get('change') == 'added' else 'Ændret'} bilag: {news.get('name')}"


def snippet_of(match: Match) -> Snippet:
    return Snippet(match.snippet, tuple((start, end) for start, end in match.highlights))
