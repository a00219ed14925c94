"""Delivery of stored notifications: once each, with retries and backoff, by one worker at a time.

The rules of the email outbox (:mod:`bot.publish.mailer`), with its constants: a notification is claimed
(pending → sending, with a lease) by one conditional UPDATE, sent, and marked sent only by the
worker that claimed it; a claim whose lease ran out (on SQLite: any, its process is gone) is
sent again. A failure puts it back to pending ``backoff(attempts)`` later; after ``MAX_ATTEMPTS``
it is ``failed`` and waits for ``referatvagt notify --retry-failed``. A webhook's bodies are
counted as each is accepted (``delivered``), so a retry goes on with the first one not accepted:
at most one body (the one in flight at a crash) is ever sent twice, under the same ``id``.

A notification of a paused watchlist waits, untried, until the pause is over.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import col, select

from bot.config import Config
from bot.match.watchlists import Watchlist
from bot.publish.claims import LEASE_TIMEOUTS, Claims, SendReport, abandoned
from bot.publish.notify_targets import TIMEOUT, NotifyError, Target, endpoint, is_webhook, send, targets
from bot.store import Store
from bot.store.models import Notification

LEASE = timedelta(seconds=TIMEOUT * LEASE_TIMEOUTS)


def send_pending(
    store: Store, config: Config, watchlists: list[Watchlist], now: datetime, right_now: bool = False
) -> SendReport:
    """Send every notification that is due: past its backoff (``right_now``: every unsent one)."""
    report = SendReport("notification")
    due = _due(store, now, right_now)
    if not due:
        return report
    by_slug = {watchlist.slug: watchlist for watchlist in watchlists}
    today = now.astimezone(config.bot.zone).date()
    claims = _Claims(store, Notification, now, LEASE)
    for notification_id, slug in due:
        watchlist = by_slug.get(slug)
        if watchlist is not None and watchlist.paused_on(today):
            continue
        _deliver(claims, config, watchlist, notification_id, report)
    return report


def retry_failed(store: Store, now: datetime) -> int:
    """Give every failed notification a new set of attempts, due now; returns how many."""
    with store.session() as session:
        done = session.execute(
            update(Notification)
            .where(col(Notification.state) == "failed")
            .values(state="pending", attempts=0, next_attempt_at=now)
        )
        return int(done.rowcount)  # type: ignore[attr-defined]


def _deliver(
    claims: _Claims, config: Config, watchlist: Watchlist | None, notification_id: int, report: SendReport
) -> None:
    row = claims.claim(notification_id)
    if row is None:
        report.held += 1
        return
    try:
        server = endpoint(_target(config, watchlist, row))
        secret = webhook_secret(config) if is_webhook(server) else None
        send(
            server,
            row.target,
            row.title,
            row.message,
            row.payloads,
            row.delivered,
            secret,
            lambda done: claims.progress(notification_id, done),
        )
    except NotifyError as exc:
        claims.failed(notification_id, str(exc), report)
        report.errors.append(f"notification {row.period} of watchlist {row.watchlist} to {exc}")
        return
    claims.sent(notification_id)
    report.sent += 1


def _target(config: Config, watchlist: Watchlist | None, row: Notification) -> Target:
    """The target as the watchlist names it now (its URL, variable or config entry)."""
    if watchlist is None:
        raise NotifyError(f"{row.target}: the watchlist {row.watchlist} is gone")
    found, _ = targets(watchlist, config)
    for target in found:
        if target.key == row.target:
            return target
    raise NotifyError(f"{row.target}: the watchlist {row.watchlist} no longer names it")


def webhook_secret(config: Config) -> str | None:
    """The secret that signs webhook bodies, read from the environment when sending."""
    name = config.notify.webhook_secret_env
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise NotifyError(f"[notify] webhook_secret_env: the environment variable {name} is not set")
    return value


def _due(store: Store, now: datetime, right_now: bool) -> list[tuple[int, str]]:
    with store.session() as session:
        pending = col(Notification.state) == "pending"
        if not right_now:
            pending = and_(pending, col(Notification.next_attempt_at) <= now)
        query = select(Notification.id, Notification.watchlist).where(or_(pending, abandoned(store, Notification, now)))
        return [(row_id, slug) for row_id, slug in session.exec(query.order_by(col(Notification.id))) if row_id]


class _Claims(Claims):
    """Claims on notifications: a webhook's bodies are counted as each is accepted."""

    def progress(self, notification_id: int, delivered: int) -> None:
        """One more webhook body accepted: recorded at once, the lease renewed. A claim lost to
        another worker (this one was too slow) stops the sending."""
        if not self.finish(notification_id, keep=True, delivered=delivered, lease_until=self.lease_end()):
            raise NotifyError("another worker took this notification over")
