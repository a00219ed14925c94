"""SMTP delivery of the outbox: exactly the stored message, once, with retries and backoff.

A digest is claimed (pending → sending, committed, with a lease of ``LEASE_TIMEOUTS`` ×
``[email] timeout``: longer than any one send can take) before it is sent, and marked sent only
after the server accepted it, and only by the worker that claimed it. Several workers may send
at once: each claims a digest with one conditional UPDATE, so only one of them gets it. A crash
between claim and "sent" leaves it "sending": once its lease has run out (on SQLite, where one
process writes at a time, at once: its claimer is gone), the next run sends it again, with
the same Message-ID, so the one possible duplicate is recognisable.

A failure puts it back to pending with a later ``next_attempt_at``. After ``MAX_ATTEMPTS`` it
is ``failed``, which is not the end: it keeps its matches (so they go into no other digest)
and is sent again, as the same message, as soon as a run gets any message through the relay,
or by ``referatvagt digest --retry-failed``. No digest is tried twice within ``MIN_GAP``, not
even by ``digest --now``, so a few impatient manual runs cannot use up its attempts.

A run uses one SMTP connection for all its messages (opened again once if the relay drops
it). When the relay itself fails (cannot connect, does not answer within ``[email] timeout``,
is closing), the run stops there and the digests not tried yet wait as long as the one that
failed: an unreachable relay costs one timeout per run, not one per recipient.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections import deque
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from bot.config import EmailSettings
from bot.errors import BotError, ConfigError
from bot.publish.claims import LEASE_TIMEOUTS, Claims, SendReport, abandoned
from bot.store import Store
from bot.store.models import Outbox
from bot.wording import plural

_CLOSING = 421  # RFC 5321: the server is shutting the connection down


class DeliveryError(BotError):
    """The SMTP server did not accept a message."""


class RelayError(DeliveryError):
    """The SMTP server itself failed: no other message would get through it now either."""


class Mailer:
    """One SMTP connection, opened on first use and reused for every message of a run."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp = None

    def send(self, sender: str, recipient: str, message: str) -> None:
        """Send one stored message; raises :class:`DeliveryError` naming the reason, or
        :class:`RelayError` when the server failed rather than refused this message."""
        data = message.encode("utf-8")
        reused = self._smtp is not None
        try:
            self._transmit(sender, recipient, data)
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            if not reused:
                raise self._relay_error(recipient, exc) from exc
            # Relays close connections that sat idle: one new connection, not more.
            try:
                self._transmit(sender, recipient, data)
            except smtplib.SMTPServerDisconnected as again:
                self._drop()
                raise self._relay_error(recipient, again) from again

    def _transmit(self, sender: str, recipient: str, data: bytes) -> None:
        smtp = self._connection(recipient)
        try:
            options = self._international(smtp, sender, recipient)
            refused = smtp.sendmail(sender, [recipient], data, mail_options=options)
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = exc.recipients.get(recipient, (0, b""))
            raise DeliveryError(f"{recipient}: refused by the server ({code} {_text(reason)})") from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == _CLOSING:
                self._drop()
                raise self._relay_error(recipient, exc) from exc
            raise DeliveryError(f"{recipient}: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise self._relay_error(recipient, exc) from exc
        if refused:
            raise DeliveryError(f"{recipient}: refused by the server ({refused})")

    def _connection(self, recipient: str) -> smtplib.SMTP:
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except (smtplib.SMTPException, OSError) as exc:
                raise self._relay_error(recipient, exc) from exc
        return self._smtp

    def _drop(self) -> None:
        """Forget a connection that failed; saying goodbye to it could wait another timeout."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _relay_error(self, recipient: str, exc: BaseException) -> RelayError:
        where = f"{self.settings.host}:{self.settings.smtp_port}"
        return RelayError(
            f"{recipient}: cannot send through {where} ({exc.__class__.__name__}: {exc}); "
            "check that the relay is up and answers within [email] timeout"
        )

    def _international(self, smtp: smtplib.SMTP, sender: str, recipient: str) -> list[str]:
        """An address with æøå needs the server's SMTPUTF8 extension (RFC 6531)."""
        if (sender + recipient).isascii():
            return []
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("smtputf8"):
            raise DeliveryError(f"{recipient}: the server does not accept addresses with non-ASCII letters (SMTPUTF8)")
        return ["SMTPUTF8"]

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
        smtp: smtplib.SMTP
        # smtplib would look up this machine's FQDN for EHLO, which can hang on a slow resolver.
        # Its timeout applies to every socket operation: the greeting and each reply included.
        local, timeout = socket.gethostname(), settings.timeout
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.smtp_port, local_hostname=local, timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.smtp_port, local_hostname=local, timeout=timeout)
        try:
            if settings.security == "starttls":
                smtp.starttls(context=context)
            if settings.username:
                smtp.login(settings.username, password(settings))
        except BaseException:
            smtp.close()
            raise
        return smtp


def password(settings: EmailSettings) -> str:
    """The SMTP password, from the environment variable the config names (never from a file)."""
    if not settings.password_env:
        raise ConfigError("[email] username is set but password_env is not: name the variable holding the password")
    value = os.environ.get(settings.password_env)
    if value is None:
        raise ConfigError(f"[email] password_env: the environment variable {settings.password_env} is not set")
    return value


# --- delivery runs ------------------------------------------------------------------------------


def send_pending(
    store: Store, settings: EmailSettings, now: datetime, right_now: bool = False, retry_failed: bool = False
) -> SendReport:
    """Send every digest that is due: past its backoff, or with ``right_now`` every unsent one
    (still at most one try per ``MIN_GAP``). ``retry_failed`` first gives failed digests new
    attempts; so does the first message of the run that the relay accepts."""
    report = SendReport()
    if retry_failed:
        report.retried = len(retry_failed_digests(store, now))
    queue = deque(_due(store, now, right_now))
    revived = retry_failed
    claims = Claims(store, Outbox, now, timedelta(seconds=settings.timeout * LEASE_TIMEOUTS))
    with Mailer(settings) as mailer:
        while queue:
            outbox_id = queue.popleft()
            try:
                _deliver(claims, mailer, settings, outbox_id, report)
            except RelayError:
                report.waiting = _wait_for_relay(store, outbox_id, list(queue))
                if report.waiting:
                    waiting = plural(report.waiting, "more digest")
                    report.errors.append(f"email: {waiting} waiting for the relay's next try")
                break
            if report.sent and not revived:  # the relay accepts mail again: failed digests too
                revived = True
                again = retry_failed_digests(store, now)
                report.retried += len(again)
                queue.extend(again)
    return report


def retry_failed_digests(store: Store, now: datetime) -> list[int]:
    """Give every failed digest a new set of attempts, due now; returns their ids."""
    with store.session() as session:
        failed = list(session.exec(select(Outbox).where(Outbox.state == "failed").order_by(col(Outbox.id))))
        for outbox in failed:
            outbox.state, outbox.attempts, outbox.next_attempt_at = "pending", 0, now
            session.add(outbox)
        return [outbox.id for outbox in failed if outbox.id is not None]


def _due(store: Store, now: datetime, right_now: bool) -> list[int]:
    """Pending digests past their backoff (with ``right_now``, every pending one), and digests
    whose sender's claim ran out."""
    with store.session() as session:
        pending = col(Outbox.state) == "pending"
        if not right_now:
            pending = and_(pending, col(Outbox.next_attempt_at) <= now)
        query = select(Outbox.id).where(or_(pending, abandoned(store, Outbox, now)))
        return [outbox_id for outbox_id in session.exec(query.order_by(col(Outbox.id))) if outbox_id is not None]


def _deliver(claims: Claims, mailer: Mailer, settings: EmailSettings, outbox_id: int, report: SendReport) -> None:
    """Claim, send and record one digest; a :class:`RelayError` is recorded, then raised."""
    outbox = claims.claim(outbox_id)
    if outbox is None:
        report.held += 1
        return
    try:
        mailer.send(settings.sender, outbox.recipient, outbox.message)
    except DeliveryError as exc:
        claims.failed(outbox_id, str(exc), report)
        report.errors.append(f"email {outbox.period} to {exc}")
        if isinstance(exc, RelayError):
            raise
        return
    claims.sent(outbox_id)
    report.sent += 1


def _wait_for_relay(store: Store, failed_id: int, untried: list[int]) -> int:
    """Put off the digests a failed relay kept from being tried until the retry of the digest
    that found it failing: the relay is tried once per run, not once per digest."""
    with store.session() as session:
        retry_at = _get(session, failed_id).next_attempt_at
        for outbox_id in untried:
            outbox = _get(session, outbox_id)
            outbox.next_attempt_at = max(outbox.next_attempt_at, retry_at)
            session.add(outbox)
    return len(untried)


def _get(session: Session, outbox_id: int) -> Outbox:
    outbox = session.get(Outbox, outbox_id)
    assert outbox is not None, f"outbox {outbox_id} vanished"
    return outbox


def _text(value: bytes | str) -> str:
    """A server's reply as one line (multi-line replies come joined by newlines)."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return " ".join(text.split())
