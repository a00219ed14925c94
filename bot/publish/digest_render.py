"""How an email digest looks: the message with its headers, a plain-text and an HTML part.

Grouped by watchlist → kommune → meeting, each item once per watchlist. Templates are Jinja2
(``templates/digest.*.j2``); the HTML part has inline CSS only, as mail clients drop style
sheets. The text part is plain text, without markup of any kind (see :mod:`bot.publish.digest_words`).
Everything from the minutes is escaped, and header values are stripped of line breaks (no header
injection); the email package encodes æøå in headers (RFC 2047).

Dates are the kommune's: each item says when its document was published (see
:func:`bot.publish.entries.published_of`) under its meeting's date, so a first ingest of a year of minutes
sent with ``--send-backfill`` reads as the archive it is, not as today's news.
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
from sqlalchemy.orm import object_session

from bot.cases import earlier, stories, story_key
from bot.config import Config, EmailSettings
from bot.match.automaton import Engine
from bot.match.query import TermError, parse_term
from bot.match.snippet import Snippet, make_snippet
from bot.match.watchlists import Watchlist
from bot.outcomes import classify
from bot.parse.extract import BIDI_CONTROLS
from bot.parse.sections import is_decision_heading
from bot.publish.digest_words import ChangeLine, change_lines, count_text, one_line, plain, subject_counts
from bot.publish.entries import Row, attachment_news, entry_label, entry_link, found_in_attachment, published_of
from bot.publish.feeds import feed_path
from bot.publish.views import snippet_of
from bot.store.models import Event, Match

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
    published: str  # "Referat offentliggjort 02.11.2026"
    snippet: str  # "" when a change line shows the hit
    snippet_html: Markup
    decision: str
    changes: str  # changed sections that no change line shows
    change_lines: list[ChangeLine]  # what a change added (first), then what it removed
    found_in: dict[str, str | None] | None = None  # the attachment the snippet is from
    attachments: list[dict[str, str | None]] = field(default_factory=list)  # added or changed by the event
    earlier: list[str] = field(default_factory=list)  # "Tidligere i sagen": the case's steps before this one
    outcome: str = ""  # "anbefalet · 6 for, 1 imod": the outcome of the decision shown (bot.outcomes)


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
    told = _earlier_in_cases(pending)
    groups = [
        _group(config, settings, w, [p for p in pending if p.match.watchlist == w.slug], told) for w in watchlists
    ]
    groups = [group for group in groups if group.total]
    counts = subject_counts(p.match for p in pending if any(p.match.watchlist == g.slug for g in groups))
    titles = ", ".join(group.title for group in groups)
    subject = header_safe(f"referatvagt: {count_text(counts)} – {titles}", 180)
    files = ", ".join(group.file for group in groups)
    intro = f"Nyt fra dagsordener og referater, som dine watchlists følger ({_period_text(period)})."
    if counts.get("backfill"):
        intro += (
            " Punkter markeret »Ældre« er fra første indlæsning af en kilde: de er ikke nye,"
            " men offentliggjort af kommunen på den dato, der står ved dem."
        )
    context = {
        "subject": subject,
        "groups": groups,
        "intro": intro,
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


def _group(
    config: Config,
    settings: EmailSettings,
    watchlist: Watchlist,
    pending: Sequence[Pending],
    told: dict[int, list[str]] | None = None,
) -> GroupView:
    # One entry per item: its newest match (an agenda's and then its minutes' in one period)
    latest = list({p.match.item_id: p for p in sorted(pending, key=lambda p: p.match.id or 0)}.values())
    decided = {p.match.item_id for p in pending if p.match.decision_added}
    shown = latest[-settings.max_items :]  # the newest when there are too many
    base = config.feeds.base_url
    group = GroupView(
        slug=watchlist.slug,
        title=header_safe(watchlist.name, 80),
        terms=", ".join((*watchlist.terms, *watchlist.all, *(f"sag {c}" for c in watchlist.cases))),
        file=_shown_path(watchlist.path) if watchlist.path else f"{watchlist.slug}.toml",
        feed=f"{base}{feed_path(watchlist, None)}.xml" if watchlist.public else f"{base}index.html",
        total=len(latest),
        more=len(latest) - len(shown),
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
        view = KommuneView(one_line(kommune))
        for (committee, day), in_meeting in groupby(
            in_kommune, key=lambda p: (p.row.meeting.committee, p.row.meeting.meeting_date)
        ):
            items = [_item(config, p, watchlist.fold_aa, p.match.item_id in decided, told or {}) for p in in_meeting]
            view.meetings.append(MeetingView(one_line(committee), _day(day), items))
        group.kommuner.append(view)
    return group


def _item(config: Config, pending: Pending, fold_aa: bool, decided: bool, told: dict[int, list[str]]) -> ItemView:
    """One item as a digest shows it: the decision first, then what a change added and removed,
    then the snippet (from the added text when the terms are there)."""
    match, row, event = pending.match, pending.row, pending.event
    decision_added = match.decision_added or decided
    changed = event if event is not None and event.kind == "changed" else None
    diff = changed.diff if changed is not None else []
    news = attachment_news(changed)
    lines, fresh = _change_lines(match, diff, fold_aa, decision_added)
    shown = {line.section for line in lines}
    changes = [
        one_line(section)
        for section in match.changed_sections
        if one_line(section) not in shown
        and not (news and section.startswith("Bilag: "))
        and not (decision_added and is_decision_heading(section))
    ]
    text, html = _marked(snippet_of(match)) if not fresh else ("", Markup(""))
    label = "Ældre: " if match.backfill else entry_label(match.kind, decision_added, event)
    return ItemView(
        label=label,
        number=row.item.number,
        title=one_line(row.version.title),
        link=entry_link(config, row),
        published=_published(config, row),
        snippet=text,
        snippet_html=html,
        decision=one_line(row.version.decision or ""),
        outcome=one_line(outcome.text) if (outcome := classify(row.version.decision)) is not None else "",
        changes=", ".join(changes),
        change_lines=lines,
        found_in=None if fresh else found_in_attachment(match.attachment, match.attachment_url),
        attachments=news,
        earlier=[] if match.by_case else told.get(match.item_id, []),  # a case alert says it already
    )


EARLIER_SHOWN = 3  # "Tidligere i sagen" lines per item: the newest steps


def _earlier_in_cases(pending: Sequence[Pending]) -> dict[int, list[str]]:
    """Per item, the steps of its case before its meeting ("Økonomiudvalget 12.05.2026: anbefalet"),
    read in one query through the session the matches were loaded in: a digest is composed
    inside it, and a sample digest (no session) has none."""
    session = object_session(pending[0].match) if pending else None
    if session is None:
        return {}
    told = stories(session, ((p.row.source.kommune, p.row.item.case_number) for p in pending))
    lines: dict[int, list[str]] = {}
    for p in pending:
        key = story_key(p.row.source.kommune, p.row.item.case_number)
        before = earlier(told.get(key, []), p.match.item_id, p.row.meeting.meeting_date) if key else []
        if before:
            more = len(before) - EARLIER_SHOWN
            lines[p.match.item_id] = [one_line(step.short()) for step in before[-EARLIER_SHOWN:]]
            if more > 0:
                lines[p.match.item_id].insert(0, f"… og {more} trin før")
    return lines


def _change_lines(
    match: Match, diff: list[dict[str, Any]], fold_aa: bool, decision_added: bool
) -> tuple[list[ChangeLine], bool]:
    """What a change added and removed, and whether a line of it shows the hit (then it is the
    snippet: the added text around the terms, not older text around them)."""
    # A decision added is shown whole: its section's diff would only repeat it
    skip = [entry["section"] for entry in diff if decision_added and is_decision_heading(entry["section"])]
    lines = change_lines(diff, skip)
    fresh = None if decision_added else _added_snippet(match, diff, fold_aa)
    if fresh is None:
        return lines, False
    section, snippet = fresh
    text, html = _marked(snippet)
    return [
        ChangeLine(line.label, section, text, html) if line.label == "Tilføjet i" and line.section == section else line
        for line in lines
    ], True


def _added_snippet(match: Match, diff: list[dict[str, Any]], fold_aa: bool) -> tuple[str, Snippet] | None:
    """A snippet from the text a change added, in the first section where the match's terms
    stand in it."""
    if not diff or match.attachment is not None or not match.terms:
        return None
    try:
        engine = Engine([parse_term(raw, fold_aa) for raw in match.terms], fold_aa)
    except TermError:
        return None
    for entry in diff:
        # " … " between runs: a phrase never spans two separate additions
        words = engine.words(" … ".join(text for op, text in entry["ops"] if op == "+"))
        if hits := engine.search(words):
            terms = [engine.terms[index] for index in sorted({hit.term for hit in hits})]
            return one_line(str(entry["section"])), make_snippet(words, hits, terms)
    return None


def _marked(snippet: Snippet) -> tuple[str, Markup]:
    """A snippet as plain text, and as HTML with its hits in bold; markup from the minutes
    dropped from both."""
    pieces = [(plain(snippet.text[a:b]), bold) for a, b, bold in _pieces(snippet.text, snippet.highlights)]
    html = Markup("").join(Markup("<strong>{}</strong>").format(t) if bold else escape(t) for t, bold in pieces)
    return " ".join("".join(t for t, _ in pieces).split()), html


def _pieces(text: str, highlights: Sequence[tuple[int, int]]) -> list[tuple[int, int, bool]]:
    pieces, last = [], 0
    for start, end in highlights:
        pieces += [(last, start, False), (start, end, True)]
        last = end
    return [*pieces, (last, len(text), False)]


def _published(config: Config, row: Row) -> str:
    """ "Referat offentliggjort 02.11.2026": the kommune's date, in the bot's time zone."""
    return published_of(config, row).phrase(row.version.doc_kind, config.bot.zone).capitalize()


def _day(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
