"""Work items: rows with a state, a schedule and a lease, claimed by any number of workers.

A worker claims due rows by setting a lease (owner and expiry) in one short transaction:
`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite. A worker that dies
leaves its leases to expire and another worker takes the rows over; one that is stopped
finishes its current steps within a grace period, or is cancelled and gives its leases back
so that another worker takes the rows at once. What to do after a failure is decided by a
retry policy, a pure object.
"""

import asyncio
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, Table, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import InstrumentedAttribute

from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, Database, UnitOfWork, database_unreachable
from contactflow.platform.ids import new_id
from contactflow.platform.signals import Waiter

log = logging.getLogger("contactflow.jobs")


@dataclass(frozen=True)
class RetrySchedule:
    """Delays before each retry; None once they are used up. Jitter spreads retries so
    endpoints coming back are not hit by every delivery at once; a Retry-After the receiver
    sent is honoured when it asks for longer, up to `max_retry_after`."""

    delays: Sequence[float]
    jitter: float = 0.2
    max_retry_after: float = 86_400

    def decide(
        self, failures: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float | None:
        if failures < 1 or failures > len(self.delays):
            return None
        base = self.delays[failures - 1]
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        delay = max(0.0, base * (1 + spread))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay


def worker_name() -> str:
    return f"{socket.gethostname()}:{new_id()[:8]}"


class WorkItem(Protocol):
    """A row workers claim: when it is due, how often it was tried, who holds it till when.
    Each context keeps its own work items (deliveries, emails) as domain tables."""

    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None


Item = TypeVar("Item", bound=WorkItem)


def lease_free(
    expires: InstrumentedAttribute[datetime | None], now: datetime | ColumnElement[datetime]
) -> ColumnElement[bool]:
    """A work item's lease (its `lease_expires_at` column) is unheld or has run out."""
    return or_(expires.is_(None), expires < now)


async def claim(
    uow: UnitOfWork,
    query: Select[Item],
    *,
    owner: str,
    lease: timedelta,
    params: Mapping[str, Any] | None = None,
) -> list[Item]:
    """Lease the rows `query` selects (it must already filter due, lease-free rows).

    `params` are the values of the query's bound parameters, if it has any: a query built
    once with `bindparam`s and run many times spares building it on every claim."""
    if uow.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(await uow.session.scalars(query, params))
    expires = utcnow() + lease
    for row in rows:
        row.lease_owner = owner
        row.lease_expires_at = expires
    return rows


def leased_tables() -> list[Table]:
    """Every table of work items: those with the lease columns. Found from the schema, so
    that the platform knows the contexts' work items without importing them."""
    lease = {"lease_owner", "lease_expires_at"}
    return [table for table in Base.metadata.sorted_tables if lease <= set(table.c.keys())]


async def release_leases(db: Database, owner: str) -> int:
    """Give back every lease `owner` holds: its rows are due again for any worker now,
    instead of once the leases run out. How many rows."""
    released = 0
    async with db.unit_of_work() as uow:
        for table in leased_tables():
            result = await uow.session.execute(
                update(table)
                .where(table.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )
            released += int(getattr(result, "rowcount", 0) or 0)
    return released


Step = Callable[[], Awaitable[bool]]


async def next_due_at(
    db: Database,
    due_at: InstrumentedAttribute[datetime],
    state: InstrumentedAttribute[Any],
    states: Sequence[str],
    after: datetime,
) -> datetime | None:
    """When the first work item in one of `states` falls due after `after`; None when none
    does. One index seek per state: the work item tables index (state, due time)."""
    queries = [select(func.min(due_at)).where(state == value, due_at > after) for value in states]

    def first(connection: Connection) -> datetime | None:
        found = [connection.scalar(query) for query in queries]
        return min((moment for moment in found if moment is not None), default=None)

    return await db.read(first)


@dataclass(frozen=True)
class Loop:
    """A worker loop. `step` returns True when it did work (it runs again at once) and False
    when idle: the loop then sleeps until a commit wakes one of its `topics`, until its next
    item falls due, or until the poll interval passes, whichever comes first. For work
    scheduled at a time, `next_due(after)` is when the first item falls due after `after`,
    the time the step began: an item that fell due while the step looked is run at once,
    and one due before that the step could not take (throttled, held back) is not waited on
    again and again."""

    step: Step
    topics: tuple[str, ...] = ()
    next_due: Callable[[datetime], Awaitable[datetime | None]] | None = None


@dataclass
class Worker:
    """Runs loops until stopped. The poll interval bounds every idle sleep: it is how soon a
    loop finds work no wake-up told it of (another process's commit on SQLite, a lease that
    ran out).

    Each loop beats (`beats`, monotonic seconds) as it comes round to look for work, so a
    loop stuck in a step or gone shows as an old beat (`stale_loops`)."""

    db: Database
    poll_seconds: float = 5.0
    name: str = field(default_factory=worker_name)
    beats: dict[str, float] = field(default_factory=dict)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _waiters: list[Waiter] = field(default_factory=list)

    def stop(self) -> None:
        self._stopping.set()
        for waiter in self._waiters:
            waiter.wake()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stale_loops(self, older_than: float) -> list[str]:
        """The loops whose last beat is more than `older_than` seconds old."""
        now = time.monotonic()
        return sorted(label for label, beat in self.beats.items() if now - beat > older_than)

    async def run(self, loops: dict[str, Loop]) -> None:
        now = time.monotonic()
        self.beats.update(dict.fromkeys(loops, now))
        await asyncio.gather(*(self._loop(label, loop) for label, loop in loops.items()))

    async def shut_down(self, running: "asyncio.Task[None]", grace_seconds: float) -> None:
        """Stop: the loops finish their current step within `grace_seconds`, or are
        cancelled; then the worker's leases are released (a cancelled step's items, and any
        a step claimed and had not done) so that other workers take them at once."""
        self.stop()
        done, _ = await asyncio.wait({running}, timeout=grace_seconds)
        if not done:
            log.warning(
                "worker %s: steps still running after %ss, cancelled", self.name, grace_seconds
            )
            running.cancel()
        with suppress(asyncio.CancelledError):
            await running
        try:
            released = await release_leases(self.db, self.name)
        except Exception:
            log.exception("worker %s could not release its leases; they run out instead", self.name)
            return
        if released:
            log.warning("worker %s released %d leases", self.name, released)

    async def _loop(self, label: str, loop: Loop) -> None:
        with self.db.wakeups.waiter(loop.topics) as waiter:
            self._waiters.append(waiter)
            while not self.stopping:
                self.beats[label] = time.monotonic()
                waiter.clear()  # before looking: a commit during the look wakes the wait
                began = utcnow()
                try:
                    busy = await loop.step()
                    due = None if busy or loop.next_due is None else await loop.next_due(began)
                except Exception as error:
                    if database_unreachable(error):
                        log.warning(
                            "worker step %s: database unreachable (%s); retrying after the "
                            "poll interval",
                            label,
                            type(error).__name__,
                        )
                    else:
                        log.exception(
                            "worker step %s failed; retrying after the poll interval", label
                        )
                    busy, due = False, None
                if not busy and not self.stopping:
                    await waiter.wait(self._idle_seconds(due))

    def _idle_seconds(self, due: datetime | None) -> float:
        if due is None:
            return self.poll_seconds
        return min(self.poll_seconds, (due - utcnow()).total_seconds())
