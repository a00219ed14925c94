"""The words of an email digest: its subject line, plain text without markup, and what a change
added and removed, said the way a reader says it.

The subject counts distinct items (one item matched by two watchlists, or twice within one
period, is one item) and says what happened to them: "5 punkter (3 nye, 2 med beslutning)".
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from bot.store.models import Match

# Tags as they stand in some minutes ("<b>", "</p>", "<br/>"): shown as text they would be noise
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
# Markdown emphasis and headings from text-layout minutes
_MARKDOWN = re.compile(r"\*\*|__|(?m:^#+\s)")
_CHANGE_LIMIT = 300

# (singular, plural) of each kind of news, in the order the subject names them
_KINDS = {
    "new": ("nyt", "nye"),
    "decision": ("med beslutning", "med beslutning"),
    "changed": ("opdateret", "opdaterede"),
    "backfill": ("ældre", "ældre"),
}


def plain(text: str) -> str:
    """Text from the minutes as plain text: no tags, no markdown emphasis, entities decoded."""
    return html.unescape(_MARKDOWN.sub("", _TAG.sub("", text)))


def one_line(text: str) -> str:
    return " ".join(plain(text).split())


def item_kind(matches: Iterable[Match]) -> str:
    """What happened to an item, judged over all its matches in one digest: a decision outweighs
    news, news outweighs a change; matches of a first ingest are older items."""
    fresh = [match for match in matches if not match.backfill]
    if not fresh:
        return "backfill"
    if any(match.decision_added for match in fresh):
        return "decision"
    return "new" if any(match.kind == "new" for match in fresh) else "changed"


def subject_counts(matches: Iterable[Match]) -> dict[str, int]:
    """How many distinct items of each kind (see :func:`item_kind`)."""
    by_item: dict[int, list[Match]] = {}
    for match in matches:
        by_item.setdefault(match.item_id, []).append(match)
    counts = dict.fromkeys(_KINDS, 0)
    for item_matches in by_item.values():
        counts[item_kind(item_matches)] += 1
    return {kind: count for kind, count in counts.items() if count}


def count_text(counts: dict[str, int]) -> str:
    """ "1 nyt punkt", "2 punkter med beslutning", "5 punkter (3 nye, 2 med beslutning)"."""
    total = sum(counts.values())
    noun = "punkt" if total == 1 else "punkter"
    if len(counts) == 1:
        (kind,) = counts
        word = _KINDS[kind][total != 1]
        return f"{total} {noun} {word}" if kind == "decision" else f"{total} {word} {noun}"
    parts = ", ".join(f"{count} {_KINDS[kind][count != 1]}" for kind, count in counts.items())
    return f"{total} {noun} ({parts})"


@dataclass(frozen=True)
class ChangeLine:
    """One line of what a change did to a section: "Tilføjet i Sagsfremstilling: …"."""

    label: str  # "Tilføjet i" or "Fjernet fra"
    section: str
    text: str
    html: Markup


def change_lines(diff: Sequence[dict[str, Any]], skip: Iterable[str] = ()) -> list[ChangeLine]:
    """Added text first (section by section), then removed text; runs of one section joined by
    " … ". Sections in ``skip`` are left out (a decision shown in full already)."""
    skipped = set(skip)
    lines = {"+": [], "-": []}  # type: dict[str, list[ChangeLine]]
    for entry in diff:
        section = one_line(str(entry["section"]))
        if entry["section"] in skipped:
            continue
        for op, label in (("+", "Tilføjet i"), ("-", "Fjernet fra")):
            text = _short(" … ".join(one_line(run) for kind, run in entry["ops"] if kind == op and run.strip()))
            if text:
                lines[op].append(ChangeLine(label, section, text, Markup(escape(text))))
    return [*lines["+"], *lines["-"]]


def _short(text: str, limit: int = _CHANGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + " …"
