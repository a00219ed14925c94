"""How an email digest looks: the message with its headers, a plain-text and an HTML part.

Grouped by watchlist → kommune → meeting. Templates are Jinja2 (``templates/digest.*.j2``); the
HTML part has inline CSS only, as mail clients drop style sheets. Everything from the minutes is
escaped, and header values are stripped of line breaks (no header injection); the email
package encodes æøå in headers (RFC 2047).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from bot.config import Config, EmailSettings
from bot.diff import render_diff
from bot.extract import BIDI_CONTROLS
from bot.feeds import Row, attachment_news, entry_label, entry_link, feed_path, found_in_attachment
from bot.models import Event, Match
from bot.views import snippet_of
from bot.watchlists import Watchlist

_HEADER_UNSAFE = re.compile(f"[\\x00-\\x1f\\x7f{BIDI_CONTROLS}]+")  # header injection; reordered text
_TEXT = Environment(loader=PackageLoader("bot", "templates"), autoescape=False, keep_trailing_newline=True)
_HTML = Environment(loader=PackageLoader("bot", "templates"), autoescape=select_autoescape(["html", "j2"]))


@dataclass(frozen=True)
class Pending:
    """One match waiting for a recipient, with everything a digest shows of it."""

    match: Match
    row: Row
    event: Event | None


@dataclass
class ItemView:
    label: str  # "Beslutning: ", "Opdateret: " or ""
    number: int | None
    title: str
    link: str
    snippet: str
    snippet_html: Markup
    decision: str
    changes: str
    diff: str
    diff_html: Markup
    found_in: dict[str, str | None] | None = None  # the attachment the snippet is from
    attachments: list[dict[str, str | None]] = field(default_factory=list)  # added or changed by the event


@dataclass
class MeetingView:
    committee: str
    date: str
    items: list[ItemView] = field(default_factory=list)


@dataclass
class KommuneView:
    name: str
    meetings: list[MeetingView] = field(default_factory=list)


@dataclass
class GroupView:
    slug: str
    title: str
    terms: str
    file: str
    feed: str
    total: int
    more: int
    kommuner: list[KommuneView] = field(default_factory=list)


# --- rendering ----------------------------------------------------------------------------------


def compose(
    config: Config,
    settings: EmailSettings,
    recipient: str,
    watchlists: Sequence[Watchlist],
    pending: Sequence[Pending],
    period: str,
    now: datetime,
) -> EmailMessage:
    """The whole message: headers, a plain-text part and an HTML part."""
    groups = [_group(config, settings, w, [p for p in pending if p.match.watchlist == w.slug]) for w in watchlists]
    groups = [group for group in groups if group.total]
    count = sum(group.total for group in groups)
    titles = ", ".join(group.title for group in groups)
    subject = header_safe(f"referatvagt: {count} {'nyt punkt' if count == 1 else 'nye punkter'} – {titles}", 180)
    files = ", ".join(group.file for group in groups)
    context = {
        "subject": subject,
        "groups": groups,
        "intro": f"Nyt fra dagsordener og referater, som dine watchlists følger ({_period_text(period)}).",
        "footer": (
            f"Du får denne mail, fordi {recipient} står under [deliver] email i {files}. "
            "Fjern adressen dér for at stoppe mailene."
        ),
    }
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = recipient
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(recipient, period, settings.sender)
    slugs = "+".join(group.slug for group in groups)
    message["List-Id"] = f"referatvagt <{_list_part(slugs)}.referatvagt.{settings.sender.split('@')[1]}>"
    message["List-Unsubscribe"] = f"<mailto:{settings.sender}?subject=unsubscribe%20{_list_part(slugs)}>"
    # Quoted-printable keeps the stored message 7-bit clean, whatever relay it meets.
    message.set_content(_TEXT.get_template("digest.txt.j2").render(context), cte="quoted-printable")
    html = _HTML.get_template("digest.html.j2").render(context)
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def wire_format(message: EmailMessage) -> str:
    """The message as it goes over SMTP: CRLF line ends; 7-bit unless an address needs UTF-8."""
    international = not all(str(message[header]).isascii() for header in ("From", "To"))
    return message.as_string(policy=SMTP.clone(utf8=international))


def message_id(recipient: str, period: str, sender: str) -> str:
    """The same for every send of one (recipient, period): a resend is recognisable as one."""
    digest = hashlib.sha256(f"{recipient}|{period}".encode()).hexdigest()[:32]
    return f"<{digest}.digest@{sender.split('@')[1]}>"


def header_safe(text: str, limit: int) -> str:
    """No CR/LF or other control characters (header injection), at most ``limit`` characters."""
    text = " ".join(_HEADER_UNSAFE.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _list_part(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:60] or "digest"


def _period_text(period: str) -> str:
    kind, _, when = period.partition(":")
    names = {"daily": "dagligt overblik", "weekly": "ugentligt overblik", "immediate": "straks", "now": "samlet nu"}
    return f"{names.get(kind, kind)} {when[:10]}".strip()


def _group(config: Config, settings: EmailSettings, watchlist: Watchlist, pending: Sequence[Pending]) -> GroupView:
    shown = list(pending)[-settings.max_items :]  # the newest when there are too many
    base = config.feeds.base_url
    group = GroupView(
        slug=watchlist.slug,
        title=header_safe(watchlist.name, 80),
        terms=", ".join((*watchlist.terms, *watchlist.all, *(f"sag {c}" for c in watchlist.cases))),
        file=_shown_path(watchlist.path) if watchlist.path else f"{watchlist.slug}.toml",
        feed=f"{base}{feed_path(watchlist, None)}.xml" if watchlist.public else f"{base}index.html",
        total=len(pending),
        more=len(pending) - len(shown),
    )
    ordered = sorted(
        shown,
        key=lambda p: (
            p.row.source.kommune,
            p.row.meeting.meeting_date,
            p.row.meeting.committee,
            p.row.item.number or 0,
        ),
    )
    for kommune, in_kommune in groupby(ordered, key=lambda p: p.row.source.kommune):
        view = KommuneView(kommune)
        for (committee, day), in_meeting in groupby(
            in_kommune, key=lambda p: (p.row.meeting.committee, p.row.meeting.meeting_date)
        ):
            view.meetings.append(MeetingView(committee, _day(day), [_item(config, p) for p in in_meeting]))
        group.kommuner.append(view)
    return group


def _item(config: Config, pending: Pending) -> ItemView:
    match, row, event = pending.match, pending.row, pending.event
    snippet = snippet_of(match)
    marked = Markup("").join(
        Markup("<strong>{}</strong>").format(snippet.text[a:b]) if bold else escape(snippet.text[a:b])
        for a, b, bold in _pieces(snippet.text, snippet.highlights)
    )
    diff = list(event.diff) if event is not None and event.kind == "changed" else []
    news = attachment_news(event if event is not None and event.kind == "changed" else None)
    changes = [section for section in match.changed_sections if not (news and section.startswith("Bilag: "))]
    return ItemView(
        label=entry_label(match.kind, match.decision_added, event),
        number=row.item.number,
        title=row.version.title,
        link=entry_link(config, row),
        snippet=snippet.marked(),
        snippet_html=marked,
        decision=" ".join((row.version.decision or "").split()),
        changes=", ".join(changes),
        diff=_short(render_diff(diff)) if diff and not match.decision_added else "",
        diff_html=_diff_html(diff) if diff and not match.decision_added else Markup(""),
        found_in=found_in_attachment(match.attachment, match.attachment_url),
        attachments=news,
    )


def _pieces(text: str, highlights: Sequence[tuple[int, int]]) -> list[tuple[int, int, bool]]:
    pieces, last = [], 0
    for start, end in highlights:
        pieces += [(last, start, False), (start, end, True)]
        last = end
    return [*pieces, (last, len(text), False)]


def _diff_html(diff: Sequence[dict[str, Any]]) -> Markup:
    parts = []
    for entry in diff:
        runs = [
            Markup('<ins style="background:#e6ffe6;text-decoration:none;">{}</ins>').format(text)
            if op == "+"
            else Markup('<del style="background:#ffe6e6;color:#990000;">{}</del>').format(text)
            if op == "-"
            else escape(text)
            for op, text in entry["ops"]
        ]
        parts.append(Markup("<em>{}:</em> ").format(entry["section"]) + Markup(" ").join(runs))
    return Markup("<br>").join(parts)


def _short(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _day(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
