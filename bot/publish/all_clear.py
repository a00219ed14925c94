"""The weekly all-clear: silence a reader can trust.

A watchlist with ``[deliver] weekly_all_clear = true`` that matched nothing in the past week gets
one short mail per recipient at the weekly digest time, saying which kommuner were read and
whether their sources answered — so "no mail" means "nothing new", not "the bot stopped". A
source that failed or was not read is named: then the silence may be the source's, and the mail
says so. It goes through the outbox like a digest (period ``all-clear:<date>``), so it is sent
once, with retries, whichever worker builds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlmodel import Session, col, select

from bot.config import Config, EmailSettings
from bot.match.watchlists import Watchlist
from bot.publish.digest_render import header_safe, message_id, wire_format
from bot.store import Store
from bot.store.coordination import lock
from bot.store.models import Match, Outbox, SourceState

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class SourceHealth:
    kommune: str
    last_success_at: datetime | None
    error: str | None  # the last error of a source failing now, else None

    def healthy(self, since: datetime) -> bool:
        return self.error is None and self.last_success_at is not None and self.last_success_at >= since


def build_all_clear(
    store: Store,
    config: Config,
    settings: EmailSettings,
    recipients: dict[str, list[Watchlist]],
    week: str,
    now: datetime,
) -> list[Outbox]:
    """Put the all-clear of the week due on ``week`` (a date) of each recipient into the outbox,
    once; ``recipients``: each address with its watchlists not paused. Returns them."""
    period = f"all-clear:{week}"
    since = now - WEEK
    built = []
    for recipient, theirs in recipients.items():
        asking = [watchlist for watchlist in theirs if watchlist.deliver.weekly_all_clear]
        if not asking:
            continue
        with store.session() as session:
            lock(session, f"recipient:{recipient}")
            if session.exec(select(Outbox.id).where(Outbox.recipient == recipient, Outbox.period == period)).first():
                continue
            quiet = _quiet(session, asking, since)
            if not quiet:
                continue
            message = compose_all_clear(config, settings, recipient, quiet, _health(session, config), period, now)
            outbox = Outbox(
                recipient=recipient,
                period=period,
                subject=str(message["Subject"]),
                message=wire_format(message),
                message_id=str(message["Message-ID"]),
                items=0,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(outbox)
            built.append(outbox)
    return built


def _quiet(session: Session, watchlists: Sequence[Watchlist], since: datetime) -> list[Watchlist]:
    """The watchlists without a single match since ``since``."""
    slugs = [watchlist.slug for watchlist in watchlists]
    matched = set(
        session.exec(
            select(Match.watchlist).where(col(Match.watchlist).in_(slugs), col(Match.created_at) >= since).distinct()
        )
    )
    return [watchlist for watchlist in watchlists if watchlist.slug not in matched]


def _health(session: Session, config: Config) -> dict[str, list[SourceHealth]]:
    """Each configured source's health, by kommune."""
    states = {state.name: state for state in session.exec(select(SourceState))}
    found: dict[str, list[SourceHealth]] = {}
    for source in config.sources:
        state = states.get(source.name)
        error = state.last_error if state is not None and state.failures else None
        success = state.last_success_at if state is not None else None
        found.setdefault(source.kommune, []).append(SourceHealth(source.kommune, success, error))
    return found


def compose_all_clear(
    config: Config,
    settings: EmailSettings,
    recipient: str,
    quiet: Sequence[Watchlist],
    health: dict[str, list[SourceHealth]],
    period: str,
    now: datetime,
) -> EmailMessage:
    """The all-clear mail: the quiet watchlists, the kommuner they read and how those answered."""
    zone = config.bot.zone
    since = now - WEEK
    week = f"{since.astimezone(zone):%d.%m.}–{now.astimezone(zone):%d.%m.%Y}"
    lines = [f"Ingen nye punkter i ugen {week} for:", ""]
    lines += [f"  • {watchlist.name} ({watchlist.slug}.toml)" for watchlist in quiet]
    read = sorted({kommune for watchlist in quiet for kommune in _kommuner(watchlist, health)})
    sources = [source for kommune in read for source in health[kommune]]
    failing = [source for source in sources if not source.healthy(since)]
    lines += ["", f"Kommuner læst: {', '.join(read) if read else 'ingen (ingen kilde passer til watchlisten)'}."]
    if not failing and read:
        lines.append("Alle deres kilder svarede i ugen: der er intet nyt – det er ikke en fejl.")
    for source in failing:
        when = (
            f"sidst læst {source.last_success_at.astimezone(zone):%d.%m.%Y %H:%M}"
            if source.last_success_at
            else "aldrig læst"
        )
        reason = f"; sidste fejl: {source.error}" if source.error else ""
        lines.append(f"OBS: {source.kommune}: {when}{reason}. Stilheden kan skyldes kilden, ikke sagerne.")
    files = ", ".join(f"{watchlist.slug}.toml" for watchlist in quiet)
    lines += [
        "",
        f"Du får denne ugentlige linje, fordi weekly_all_clear = true står under [deliver] i {files}.",
    ]
    titles = ", ".join(watchlist.name for watchlist in quiet)
    attention = " (OBS: kilder fejler)" if failing else ""
    message = EmailMessage()
    message["Subject"] = header_safe(f"referatvagt: intet nyt i ugen{attention} – {titles}", 180)
    message["From"] = settings.sender
    message["To"] = recipient
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(recipient, period, settings.sender)
    message.set_content("\n".join(lines) + "\n", cte="quoted-printable")
    return message


def _kommuner(watchlist: Watchlist, health: dict[str, list[SourceHealth]]) -> list[str]:
    """The kommuner a watchlist reads: its ``kommuner`` filter (as configured), else every one."""
    if not watchlist.kommuner:
        return list(health)
    wanted = {name.casefold() for name in watchlist.kommuner}
    return [kommune for kommune in health if kommune.casefold() in wanted]
