"""Email digests: gather each recipient's undelivered matches, render them, put them in the outbox.

A digest is built once per (recipient, period) and stored, rendered, in the outbox before
anything is sent (see :mod:`bot.publish.mailer`); each match goes into one digest per recipient.
Periods: ``immediate:<cycle time>``, ``daily:<date>``, ``weekly:<date>``, ``now:<time>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import exists
from sqlmodel import Session, col, select

from bot.config import Config, EmailSettings
from bot.errors import ConfigError
from bot.match.watchlists import Watchlist, paused_slugs
from bot.publish.all_clear import build_all_clear
from bot.publish.claims import SendReport
from bot.publish.digest_render import Pending, compose, wire_format
from bot.publish.entries import Row
from bot.publish.mailer import Mailer, send_pending
from bot.publish.sample import SAMPLE, sample
from bot.store import Store, events_by_id
from bot.store.coordination import lock
from bot.store.models import DigestItem, Match, Outbox

Frequency = str  # "immediate" | "daily" | "weekly"


# --- periods ------------------------------------------------------------------------------------


def due_period(frequency: Frequency, settings: EmailSettings, now_local: datetime) -> str:
    """The most recent daily or weekly due time at or before ``now_local``, as a period key."""
    hour, minute = (int(part) for part in settings.daily_at.split(":"))
    due = now_local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if due > now_local:
        due -= timedelta(days=1)
    if frequency == "weekly":
        due -= timedelta(days=(due.weekday() - settings.weekday) % 7)
    return f"{frequency}:{due.date().isoformat()}"


# --- collecting ---------------------------------------------------------------------------------


def recipients(watchlists: Sequence[Watchlist], frequencies: Iterable[Frequency]) -> dict[str, list[Watchlist]]:
    """Each address with the watchlists that send it digests of these frequencies."""
    wanted = set(frequencies)
    found: dict[str, list[Watchlist]] = {}
    for watchlist in watchlists:
        if watchlist.deliver.digest in wanted:
            for address in watchlist.deliver.email:
                found.setdefault(address.lower(), []).append(watchlist)
    return found


def delivered(
    config: Config, watchlists: Sequence[Watchlist], frequencies: Iterable[Frequency], now: datetime
) -> dict[str, list[Watchlist]]:
    """:func:`recipients` of the watchlists not paused today: a paused watchlist's matches wait."""
    paused = paused_slugs(watchlists, now.astimezone(config.bot.zone).date())
    return recipients([watchlist for watchlist in watchlists if watchlist.slug not in paused], frequencies)


def has_undelivered_matches(store: Store, slugs: Sequence[str]) -> bool:
    """Whether a match of these watchlists that may be emailed is in no digest yet: a cheap first
    look, so an idle worker does not plan every recipient's digest at every tick."""
    if not slugs:
        return False
    in_a_digest = exists().where(col(DigestItem.match_id) == col(Match.id))
    query = select(Match.id).where(col(Match.watchlist).in_(slugs), col(Match.mail).is_(True), ~in_a_digest)
    with store.session() as session:
        return session.exec(query.limit(1)).first() is not None


def pending_matches(store: Store, session: Session, recipient: str, slugs: Sequence[str]) -> list[Pending]:
    delivered = exists().where(col(DigestItem.match_id) == col(Match.id), col(DigestItem.recipient) == recipient)
    query = (
        store.match_query()
        .where(col(Match.watchlist).in_(slugs), col(Match.mail).is_(True), ~delivered)
        .order_by(col(Match.id))
    )
    rows = session.execute(query).all()
    events = events_by_id(session, (match.event_id for match, *_ in rows if match.event_id is not None))
    return [
        Pending(match, Row(*row), events.get(match.event_id) if match.event_id is not None else None)
        for match, *row in rows
    ]


@dataclass(frozen=True)
class Planned:
    recipient: str
    period: str
    message: EmailMessage
    pending: list[Pending]


def plan_digests(
    store: Store,
    config: Config,
    watchlists: Sequence[Watchlist],
    frequencies: Iterable[Frequency],
    period: str,
    now: datetime,
) -> list[Planned]:
    """The digests that would be built now, one per recipient with pending matches (read only)."""
    settings = require_email(config)
    with store.session() as session:
        plans = (
            _plan(store, session, config, settings, recipient, theirs, period, now)
            for recipient, theirs in delivered(config, watchlists, frequencies, now).items()
        )
        return [plan for plan in plans if plan is not None]


def _plan(
    store: Store,
    session: Session,
    config: Config,
    settings: EmailSettings,
    recipient: str,
    theirs: Sequence[Watchlist],
    period: str,
    now: datetime,
) -> Planned | None:
    """The digest of ``recipient`` for ``period``; None when it exists already (its matches were
    taken then) or there is nothing to tell (no matches: no email)."""
    if session.exec(select(Outbox.id).where(Outbox.recipient == recipient, Outbox.period == period)).first():
        return None
    pending = pending_matches(store, session, recipient, [w.slug for w in theirs])
    if not pending:
        return None
    return Planned(recipient, period, compose(config, settings, recipient, theirs, pending, period, now), pending)


def build_digests(
    store: Store,
    config: Config,
    watchlists: Sequence[Watchlist],
    frequencies: Iterable[Frequency],
    period: str,
    now: datetime,
) -> list[Outbox]:
    """Put each recipient's digest into the outbox with the matches it carries, planned and
    stored in one transaction per recipient, with the recipient locked: two workers building at
    once never put one match into two digests. Returns them."""
    settings = require_email(config)
    built = []
    for recipient, theirs in delivered(config, watchlists, frequencies, now).items():
        with store.session() as session:
            lock(session, f"recipient:{recipient}")
            plan = _plan(store, session, config, settings, recipient, theirs, period, now)
            if plan is not None:
                built.append(_put(session, plan, now))
    return built


def _put(session: Session, plan: Planned, now: datetime) -> Outbox:
    outbox = Outbox(
        recipient=plan.recipient,
        period=plan.period,
        subject=str(plan.message["Subject"]),
        message=wire_format(plan.message),
        message_id=str(plan.message["Message-ID"]),
        items=len({item.match.item_id for item in plan.pending}),  # as the subject counts
        next_attempt_at=now,
        created_at=now,
    )
    session.add(outbox)
    session.flush()
    assert outbox.id is not None
    for item in plan.pending:
        assert item.match.id is not None
        session.add(DigestItem(outbox_id=outbox.id, match_id=item.match.id, recipient=plan.recipient))
    return outbox


def require_email(config: Config) -> EmailSettings:
    if config.email is None:
        raise ConfigError(f"{config.origin or 'the built-in config'}: no [email] table: email digests are off")
    return config.email


# --- delivery rounds ------------------------------------------------------------------------------


def deliver(
    store: Store,
    config: Config,
    watchlists: Sequence[Watchlist],
    frequencies: Iterable[Frequency],
    period: str,
    now: datetime,
) -> SendReport:
    """Build the digests of these frequencies for ``period``, then send whatever is due."""
    settings = require_email(config)
    built = build_digests(store, config, watchlists, frequencies, period, now)
    report = send_pending(store, settings, now)
    report.built = len(built)
    return report


def due_rounds(config: Config, now: datetime, right_now: bool) -> list[tuple[tuple[Frequency, ...], str]]:
    """Which frequencies go into which period: the due daily and weekly digests, or all now."""
    if right_now:
        return [(("immediate", "daily", "weekly"), f"now:{now.isoformat()}")]
    settings, local = require_email(config), now.astimezone(config.bot.zone)
    return [((kind,), due_period(kind, settings, local)) for kind in ("daily", "weekly")]


def send_due(
    store: Store,
    config: Config,
    watchlists: Sequence[Watchlist],
    now: datetime,
    right_now: bool,
    retry_failed: bool = False,
) -> SendReport:
    """``referatvagt digest``: build what is due (everything with ``right_now``) and send;
    ``retry_failed`` also sends the digests that used up their attempts."""
    built = sum(
        len(build_digests(store, config, watchlists, kinds, period, now))
        for kinds, period in due_rounds(config, now, right_now)
    )
    settings = require_email(config)
    week = due_period("weekly", settings, now.astimezone(config.bot.zone)).split(":", 1)[1]
    everyone = delivered(config, watchlists, ("immediate", "daily", "weekly"), now)
    built += len(build_all_clear(store, config, settings, everyone, week, now))
    report = send_pending(store, require_email(config), now, right_now, retry_failed)
    report.built = built
    return report


def write_dry_run(
    store: Store, config: Config, watchlists: Sequence[Watchlist], now: datetime, right_now: bool, folder: Path
) -> list[Path]:
    """Write the digests that are due as .eml files; the store is not changed."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kinds, period in due_rounds(config, now, right_now):
        for plan in plan_digests(store, config, watchlists, kinds, period, now):
            name = re.sub(r"[^A-Za-z0-9@._-]+", "_", f"{plan.recipient}-{plan.period}") + ".eml"
            path = folder / name
            path.write_text(wire_format(plan.message), encoding="utf-8", newline="")
            written.append(path)
    return written


def send_test(config: Config, address: str) -> str:
    """Send a sample digest to ``address`` right away (nothing is stored)."""
    settings = require_email(config)
    now = datetime.now(config.bot.zone)
    message = compose(config, settings, address, [SAMPLE], [sample(now)], f"test:{now.isoformat()}", now)
    with Mailer(settings) as mailer:
        mailer.send(settings.sender, address, wire_format(message))
    return f"sample digest sent to {address} through {settings.host}:{settings.smtp_port} ({settings.security})"
