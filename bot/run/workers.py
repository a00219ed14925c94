"""Who polls what: workers and their leases on source polls, shared through the store.

The store holds the plan: each source's ``next_run_at``. A worker claims a due source with a
lease (``lease_owner``, ``lease_until``), renews it as it goes, and at the end sets the next run
and lets go. A worker that dies mid-poll (kill -9, a lost machine) stops renewing: when its lease
runs out, the poll is due and free again, and the next worker that looks finishes it — documents
already stored are skipped, so nothing is lost or doubled. On PostgreSQL due sources are claimed
with ``FOR UPDATE SKIP LOCKED``, so workers looking at once take different ones. On SQLite one
process writes at a time anyway (:mod:`bot.run.lock`): a claim that is not its own was left by a
process that is gone (killed mid-poll), so it holds nothing up.

Each `run` process also keeps a row in ``worker`` (host, pid, last seen) for `status`.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, true, update
from sqlmodel import col, delete, select

from bot.source_config import SourceConfig
from bot.store import Store, utcnow
from bot.store.coordination import IDENTITY, insert_ignoring, is_postgresql
from bot.store.models import SourceState, Worker

FORGET_AFTER = timedelta(days=1)  # a worker not seen for this long is no longer listed


def jittered(every: timedelta) -> timedelta:
    """An interval give or take a tenth (at most five minutes), so sources drift apart."""
    jitter = min(every.total_seconds() * 0.1, 300)
    return every + timedelta(seconds=random.uniform(-jitter, jitter))


@dataclass
class Leases:
    """One process's claims on source polls."""

    store: Store
    lease: timedelta
    owner: str = IDENTITY
    _renewed: dict[str, float] = field(default_factory=dict)  # when each claim was last written (monotonic)

    def plan(self, sources: Sequence[SourceConfig], first_run: dict[str, datetime]) -> None:
        """Give each source that has no plan yet its first run (``first_run``, by name). Every
        tick asks: one read when every source has its plan."""
        now = utcnow()
        with self.store.session() as session:
            planned = set(session.exec(select(SourceState.name).where(col(SourceState.next_run_at).is_not(None))))
            new = [source for source in sources if source.name not in planned]
            if not new:
                return
            insert_ignoring(session, SourceState, [source_row(s, first_run.get(s.name, now)) for s in new], ["name"])
            for source in new:
                session.execute(
                    update(SourceState)
                    .where(col(SourceState.name) == source.name, col(SourceState.next_run_at).is_(None))
                    .values(next_run_at=first_run.get(source.name, now))
                )

    def claim(self, source: SourceConfig) -> str | None:
        """Claim ``source`` now, due or not (`ingest`, `run --once`); None when claimed, else
        who holds it and until when."""
        now = utcnow()
        with self.store.session() as session:
            insert_ignoring(session, SourceState, [source_row(source, None)], ["name"])
            claimed = session.execute(
                update(SourceState)
                .where(col(SourceState.name) == source.name, self._free(now))
                .values(lease_owner=self.owner, lease_until=now + self.lease)
            )
            if claimed.rowcount:  # type: ignore[attr-defined]
                self._renewed[source.name] = time.monotonic()
                return None
            state = session.exec(select(SourceState).where(SourceState.name == source.name)).one()
            until = f" (its claim runs out at {state.lease_until:%H:%M:%S} UTC)" if state.lease_until else ""
            return f"worker {state.lease_owner}{until}"

    def claim_due(self, sources: Sequence[SourceConfig]) -> SourceConfig | None:
        """Claim the configured source whose poll is most overdue and held by no one; None when
        no poll is due."""
        now = utcnow()
        by_name = {source.name: source for source in sources}
        if not by_name:
            return None
        with self.store.session() as session:
            due = (
                select(SourceState)
                .where(col(SourceState.name).in_(by_name), col(SourceState.next_run_at) <= now, self._free(now, False))
                .order_by(col(SourceState.next_run_at))
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            state = session.exec(due).first()
            if state is None:
                return None
            state.lease_owner, state.lease_until = self.owner, now + self.lease
            session.add(state)
            self._renewed[state.name] = time.monotonic()
            return by_name[state.name]

    def renew(self, name: str) -> bool:
        """Extend the claim on ``name``; False when it is no longer ours (it ran out and another
        worker took the poll over). Written only once a third of the lease has passed: a poll
        of many small documents does not write once per document."""
        if time.monotonic() - self._renewed.get(name, 0.0) < self.lease.total_seconds() / 3:
            return True
        now = utcnow()
        with self.store.session() as session:
            renewed = session.execute(
                update(SourceState)
                .where(col(SourceState.name) == name, col(SourceState.lease_owner) == self.owner)
                .values(lease_until=now + self.lease)
            )
            # a worker busy with a long poll is alive: `status` says so
            session.execute(update(Worker).where(col(Worker.id) == self.owner).values(last_seen_at=now))
            self._renewed[name] = time.monotonic()
            return bool(renewed.rowcount)  # type: ignore[attr-defined]

    def release(self, name: str, next_run_at: datetime | None) -> None:
        """Let go of ``name``; ``next_run_at`` plans its next poll (None: keep it due, e.g. when
        the poll was cut short by a stop)."""
        values: dict[str, object] = {"lease_owner": None, "lease_until": None}
        if next_run_at is not None:
            values["next_run_at"] = next_run_at
        with self.store.session() as session:
            session.execute(
                update(SourceState)
                .where(col(SourceState.name) == name, col(SourceState.lease_owner) == self.owner)
                .values(**values)
            )

    def _free(self, now: datetime, own: bool = True) -> ColumnElement[bool]:
        """Held by no one (``own``: or by this worker already)."""
        if not is_postgresql(self.store.engine):
            return true()
        free = or_(col(SourceState.lease_owner).is_(None), col(SourceState.lease_until) < now)
        return or_(free, col(SourceState.lease_owner) == self.owner) if own else free


def source_row(source: SourceConfig, next_run_at: datetime | None) -> dict[str, object]:
    return {
        "name": source.name,
        "kommune": source.kommune,
        "type": source.type,
        "failures": 0,
        "next_run_at": next_run_at,
    }


# --- the worker registry ------------------------------------------------------------------------


def heartbeat(store: Store, owner: str = IDENTITY) -> None:
    """Say this worker is alive (and forget workers gone for a day)."""
    now = utcnow()
    host, pid = owner.split(":")[0], os.getpid()
    with store.session() as session:
        seen = session.get(Worker, owner)
        if seen is None:
            insert_ignoring(
                session,
                Worker,
                [{"id": owner, "host": host, "pid": pid, "started_at": now, "last_seen_at": now}],
                ["id"],
            )
        else:
            seen.last_seen_at = now
            session.add(seen)
        session.execute(delete(Worker).where(col(Worker.last_seen_at) < now - FORGET_AFTER))


def leave(store: Store, owner: str = IDENTITY) -> None:
    """A worker that stops cleanly takes itself off the list."""
    with store.session() as session:
        session.execute(delete(Worker).where(col(Worker.id) == owner))


def workers(store: Store) -> list[tuple[Worker, list[str]]]:
    """The workers seen in the last day, each with the sources it holds a live lease on."""
    now = utcnow()
    with store.session() as session:
        seen = list(session.exec(select(Worker).order_by(col(Worker.host), col(Worker.pid))))
        held = session.exec(
            select(SourceState.lease_owner, SourceState.name).where(
                and_(col(SourceState.lease_owner).is_not(None), col(SourceState.lease_until) >= now)
            )
        ).all()
    holding: dict[str, list[str]] = {}
    for owner, name in held:
        holding.setdefault(str(owner), []).append(name)
    return [(worker, sorted(holding.get(worker.id, []))) for worker in seen]
