"""SMTP delivery of the outbox: exactly the stored message, once, with retries and backoff.

A digest is claimed (pending → sending, committed) before it is sent, and marked sent only
after the server accepted it. A crash between the two leaves it "sending": the next run
sends it again, with the same Message-ID, so the one possible duplicate is recognisable.
A failure puts it back to pending with a later ``next_attempt_at``; after ``MAX_ATTEMPTS``
it is marked failed and reported.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType

from sqlmodel import col, select

from bot.config import EmailSettings
from bot.errors import BotError, ConfigError
from bot.models import Outbox
from bot.store import Store

MAX_ATTEMPTS = 10
_FIRST_RETRY = timedelta(minutes=2)
_LONGEST_WAIT = timedelta(hours=6)
_TIMEOUT = 30


class DeliveryError(BotError):
    """The SMTP server did not accept a message."""


@dataclass
class SendReport:
    built: int = 0
    sent: int = 0
    failed: int = 0  # will be retried
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 … minutes after each failed attempt, at most six hours."""
    wait: timedelta = _FIRST_RETRY * (2 ** max(0, attempts - 1))
    return min(wait, _LONGEST_WAIT)


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
        """Send one stored message; raises :class:`DeliveryError` naming the reason."""
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            options = self._international(sender, recipient)
            refused = self._smtp.sendmail(sender, [recipient], message.encode("utf-8"), mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = exc.recipients.get(recipient, (0, b""))
            raise DeliveryError(f"{recipient}: refused by the server ({code} {_text(reason)})") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise DeliveryError(f"{recipient}: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            where = f"{self.settings.host}:{self.settings.smtp_port}"
            raise DeliveryError(f"{recipient}: cannot send through {where} ({exc.__class__.__name__}: {exc})") from exc
        if refused:
            raise DeliveryError(f"{recipient}: refused by the server ({refused})")

    def _international(self, sender: str, recipient: str) -> list[str]:
        """An address with æøå needs the server's SMTPUTF8 extension (RFC 6531)."""
        if (sender + recipient).isascii():
            return []
        assert self._smtp is not None
        self._smtp.ehlo_or_helo_if_needed()
        if not self._smtp.has_extn("smtputf8"):
            raise DeliveryError(f"{recipient}: the server does not accept addresses with non-ASCII letters (SMTPUTF8)")
        return ["SMTPUTF8"]

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
        smtp: smtplib.SMTP
        # smtplib would look up this machine's FQDN for EHLO, which can hang on a slow resolver.
        local = socket.gethostname()
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.smtp_port, local_hostname=local, timeout=_TIMEOUT, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.smtp_port, local_hostname=local, timeout=_TIMEOUT)
            if settings.security == "starttls":
                smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, password(settings))
        return smtp


def password(settings: EmailSettings) -> str:
    """The SMTP password, from the environment variable the config names (never from a file)."""
    if not settings.password_env:
        raise ConfigError("[email] username is set but password_env is not: name the variable holding the password")
    value = os.environ.get(settings.password_env)
    if value is None:
        raise ConfigError(f"[email] password_env: the environment variable {settings.password_env} is not set")
    return value


def send_pending(store: Store, settings: EmailSettings, now: datetime, ignore_backoff: bool = False) -> SendReport:
    """Send every digest that is due (or every unsent one with ``ignore_backoff``)."""
    report = SendReport()
    with store.session() as session:
        query = select(Outbox.id).where(col(Outbox.state).in_(("pending", "sending")))
        if not ignore_backoff:
            query = query.where(col(Outbox.next_attempt_at) <= now)
        due = [row for row in session.exec(query.order_by(col(Outbox.id)))]
    with Mailer(settings) as mailer:
        for outbox_id in due:
            _deliver(store, mailer, settings, outbox_id, now, report)
    return report


def _deliver(
    store: Store, mailer: Mailer, settings: EmailSettings, outbox_id: int | None, now: datetime, report: SendReport
) -> None:
    with store.session() as session:  # claim it: a crash from here on leaves it "sending"
        outbox = session.get(Outbox, outbox_id)
        assert outbox is not None
        outbox.state, outbox.attempts = "sending", outbox.attempts + 1
        session.add(outbox)
    try:
        mailer.send(settings.sender, outbox.recipient, outbox.message)
    except DeliveryError as exc:
        with store.session() as session:
            outbox = session.get(Outbox, outbox_id)
            assert outbox is not None
            outbox.last_error = str(exc)
            if outbox.attempts >= MAX_ATTEMPTS:
                outbox.state = "failed"
                report.gave_up += 1
            else:
                outbox.state, outbox.next_attempt_at = "pending", now + backoff(outbox.attempts)
                report.failed += 1
            session.add(outbox)
        report.errors.append(f"email {outbox.period} to {exc}")
        return
    with store.session() as session:
        outbox = session.get(Outbox, outbox_id)
        assert outbox is not None
        outbox.state, outbox.sent_at, outbox.last_error = "sent", now, None
        session.add(outbox)
    report.sent += 1


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
