"""What a notification says: a short text for chat services, and for webhooks one versioned JSON
body per match.

The webhook body (version 1)::

    {"version": 1,
     "id": "<watchlist>:<match id>",     # the same on every resend: receivers may drop repeats
     "watchlist": {"slug": "...", "title": "..."},
     "match": {...}}                     # the fields of `referatvagt matches --json`

Both are rendered once, when the notification is built, and stored: a retry sends the same
bytes, under the same signature.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.config import Config
from bot.match.watchlists import Watchlist
from bot.publish.digest_render import Pending, header_safe
from bot.publish.digest_words import count_text, one_line, subject_counts
from bot.publish.entries import entry_label, entry_link
from bot.publish.views import match_json, snippet_of

VERSION = 1
SHOWN = 15  # items in one chat message; the rest are counted
SNIPPET = 280


def title(watchlist: Watchlist, pending: Sequence[Pending]) -> str:
    """ "referatvagt: 1 punkt med beslutning – Busser" (as an email digest's subject)."""
    counts = subject_counts(p.match for p in pending)
    return header_safe(f"referatvagt: {count_text(counts)} – {watchlist.title or watchlist.slug}", 180)


def text(config: Config, pending: Sequence[Pending]) -> str:
    """Each item once (its newest match): what happened, where, the snippet, the link."""
    newest: dict[int, Pending] = {}
    for one in pending:
        newest[one.match.item_id] = one
    items = list(newest.values())
    blocks = [_block(config, one) for one in items[:SHOWN]]
    if len(items) > SHOWN:
        blocks.append(f"… og {len(items) - SHOWN} punkter mere i watchlistens feed.")
    return "\n\n".join(blocks)


def _block(config: Config, one: Pending) -> str:
    row, match = one.row, one.match
    label = entry_label(match.kind, match.decision_added, one.event)
    heading = f"{label}Punkt {row.item.number}: {row.version.title}" if row.item.number else label + row.version.title
    where = f"{row.source.kommune} · {row.meeting.committee} {row.meeting.meeting_date:%d.%m.%Y}"
    snippet = one_line(snippet_of(match).text)
    if len(snippet) > SNIPPET:
        snippet = snippet[: SNIPPET - 1] + "…"
    found_in = f"i bilag {match.attachment}: " if match.attachment else ""
    return "\n".join(
        line for line in (one_line(heading), where, f"{found_in}{snippet}", entry_link(config, row)) if line
    )


def payloads(watchlist: Watchlist, pending: Sequence[Pending]) -> list[str]:
    return [payload(watchlist, one) for one in pending]


def payload(watchlist: Watchlist, one: Pending) -> str:
    row = one.row
    body: dict[str, Any] = {
        "version": VERSION,
        "id": f"{watchlist.slug}:{one.match.id or 0}",
        "watchlist": {"slug": watchlist.slug, "title": watchlist.title or watchlist.slug},
        "match": match_json(one.match, row.item, row.version, row.meeting, row.source, row.document),
    }
    return json.dumps(body, ensure_ascii=False)
