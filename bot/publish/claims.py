"""Claims on stored messages — email digests (``outbox``) and notifications — so that each is
sent by one worker, retried with backoff, and marked sent only by the worker that sent it.

A message is claimed (pending → sending, with a lease) by one conditional UPDATE: of several
workers trying at once, one gets it. A claim whose lease ran out (its worker died; on SQLite any
claim, since the one process that writes is this one, :mod:`bot.run.lock`) is free again, and the
message is sent again, as the same message. A failure puts it back to pending ``backoff``
later; after ``MAX_ATTEMPTS`` it is ``failed``, from where it is retried on demand. No message is
tried twice within ``MIN_GAP``, so a few impatient manual runs cannot use up its attempts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, update
from sqlmodel import col

from bot.store import Store
from bot.store.coordination import IDENTITY, is_postgresql
from bot.wording import plural

MAX_ATTEMPTS = 10
MIN_GAP = timedelta(seconds=60)
_FIRST_RETRY = timedelta(minutes=2)
_LONGEST_WAIT = timedelta(hours=6)
UNSENT = ("pending", "sending")  # states of a message not yet accepted by its server
# An SMTP send is at most this many exchanges (connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT,
# DATA, the message), each waiting at most its timeout: a claim outlives any send.
LEASE_TIMEOUTS = 10


@dataclass
class SendReport:
    """What one run of sending did, for digests or notifications (``noun``)."""

    noun: str = "digest"
    built: int = 0
    sent: int = 0
    failed: int = 0  # will be retried after the backoff
    gave_up: int = 0  # used up their attempts: now ``failed``, retried on demand
    held: int = 0  # another worker has it, or it was tried less than MIN_GAP ago
    waiting: int = 0  # not tried: the server failed earlier in the run
    retried: int = 0  # failed ones given a new set of attempts
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        noun = self.noun
        line = f"{plural(self.built, noun)} built; {self.sent} sent; {self.failed + self.gave_up} failed"
        if self.retried:
            line += f"; {plural(self.retried, f'failed {noun}')} given new attempts"
        if self.held:
            gap = int(MIN_GAP.total_seconds())
            line += f"; {self.held} not tried again yet (each {noun} is tried at most once every {gap} s)"
        return line


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 … minutes after each failed attempt, at most six hours."""
    wait: timedelta = _FIRST_RETRY * (2 ** max(0, attempts - 1))
    return min(wait, _LONGEST_WAIT)


def abandoned(store: Store, model: Any, now: datetime) -> ColumnElement[bool]:
    """Claimed for sending by a worker that did not finish: it died, or is from before leases."""
    sending: ColumnElement[bool] = col(model.state) == "sending"
    if not is_postgresql(store.engine):
        return sending
    lease = col(model.lease_until)
    return and_(sending, or_(lease.is_(None), lease < now))


@dataclass
class Claims:
    """This worker's claims on the rows of ``model`` (Outbox or Notification). The lease runs
    from the run's time ``now`` plus the time the run has taken so far."""

    store: Store
    model: Any
    now: datetime
    lease: timedelta
    owner: str = IDENTITY
    started: float = field(default_factory=time.monotonic)

    def claim(self, row_id: int) -> Any | None:
        """The row, now being sent by this worker; None when another worker has it, or it was
        tried less than ``MIN_GAP`` ago."""
        model = self.model
        rested = or_(col(model.last_attempt_at).is_(None), col(model.last_attempt_at) <= self.now - MIN_GAP)
        free = or_(and_(col(model.state) == "pending", rested), abandoned(self.store, model, self.now))
        with self.store.session() as session:
            claimed = session.execute(
                update(model)
                .where(col(model.id) == row_id, free)
                .values(
                    state="sending",
                    attempts=col(model.attempts) + 1,
                    last_attempt_at=self.now,
                    lease_owner=self.owner,
                    lease_until=self.lease_end(),
                )
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return None
            return session.get(model, row_id)

    def sent(self, row_id: int) -> None:
        self.finish(row_id, state="sent", sent_at=self.now, last_error=None)

    def failed(self, row_id: int, error: str, tally: SendReport) -> None:
        with self.store.session() as session:
            row = session.get(self.model, row_id)
            attempts = row.attempts if row is not None else MAX_ATTEMPTS
        state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        if self.finish(row_id, state=state, last_error=error, next_attempt_at=self.now + backoff(attempts)):
            if state == "failed":
                tally.gave_up += 1
            else:
                tally.failed += 1

    def lease_end(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self.started) + self.lease

    def finish(self, row_id: int, keep: bool = False, **values: object) -> bool:
        """Record what happened, if the claim is still this worker's (``keep``: and keep it)."""
        if not keep:
            values |= {"lease_owner": None, "lease_until": None}
        with self.store.session() as session:
            done = session.execute(
                update(self.model)
                .where(col(self.model.id) == row_id, col(self.model.lease_owner) == self.owner)
                .values(**values)
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]
