"""Retention: rows kept for a while, then deleted by policy, a batch per transaction so that
no sweep holds the writer (SQLite) or many row locks (PostgreSQL) for long.

A `Rule` is one kind of row and its policy. The composition root gathers the platform's
rules, the contexts' and the event log's (platform/event_retention.py); `RetentionLoop` runs
them in every worker once per sweep interval, and `contactflow purge` runs them on demand.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, delete, func, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.orm import InstrumentedAttribute

from contactflow.platform.auth import sessions
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.idempotency import IdempotencyRecord
from contactflow.platform.webhooks.models import (
    FAILED,
    SUCCEEDED,
    WebhookAttempt,
    WebhookDelivery,
)
from contactflow.settings import Settings

BATCH = 500


class Rule(Protocol):
    """One kind of row past its policy at `now`: deleted a batch at a time, or counted."""

    @property
    def kind(self) -> str: ...

    async def delete_batch(self, db: Database, now: datetime, batch: int) -> int: ...

    async def count(self, db: Database, now: datetime) -> int: ...


@dataclass(frozen=True)
class TableRule:
    """The rows of one table for which `expired(now)` holds, found by their primary key
    (`key`), with the rows of other tables that belong to them (`dependents`: a foreign key
    column to a one-column key), deleted first."""

    kind: str
    key: tuple[InstrumentedAttribute[Any], ...]
    expired: Callable[[datetime], ColumnElement[bool]]
    dependents: tuple[InstrumentedAttribute[Any], ...] = ()

    @property
    def model(self) -> type[Any]:
        return cast(type[Any], self.key[0].class_)

    async def delete_batch(self, db: Database, now: datetime, batch: int) -> int:
        async with db.unit_of_work() as uow:
            found = select(*self.key).where(self.expired(now)).limit(batch)
            rows = [tuple(row) for row in await uow.session.execute(found)]
            if not rows:
                return 0
            if len(self.key) == 1:
                ids = [row[0] for row in rows]
                for column in self.dependents:
                    await uow.session.execute(delete(column.class_).where(column.in_(ids)))
                match = self.key[0].in_(ids)
            else:
                match = tuple_(*self.key).in_(rows)
            await uow.session.execute(delete(self.model).where(match))
            return len(rows)

    async def count(self, db: Database, now: datetime) -> int:
        query = select(func.count()).select_from(self.model).where(self.expired(now))

        def counted(connection: Connection) -> int:
            return int(connection.scalar(query) or 0)

        return await db.scan(counted)


def older_than(column: InstrumentedAttribute[Any], age: timedelta) -> Callable[[datetime], Any]:
    return lambda now: column < now - age


def platform_rules(settings: Settings) -> list[TableRule]:
    """The platform's: idempotency keys past their window, ended dashboard sessions, and
    webhook deliveries finished longer ago than their retention (with their attempts)."""
    kept = timedelta(days=settings.webhook_delivery_retention_days)
    return [
        TableRule(
            "idempotency keys",
            (IdempotencyRecord.id,),
            older_than(
                IdempotencyRecord.created_at, timedelta(hours=settings.idempotency_ttl_hours)
            ),
        ),
        TableRule("dashboard sessions", (sessions.WebSession.id,), sessions.ended),
        # A finished delivery's last attempt was due at `next_attempt_at`: the (state, due
        # time) index finds them without reading the others.
        TableRule(
            "webhook deliveries",
            (WebhookDelivery.id,),
            lambda now: (
                WebhookDelivery.state.in_((SUCCEEDED, FAILED))
                & (WebhookDelivery.next_attempt_at < now - kept)
            ),
            (WebhookAttempt.delivery_id,),
        ),
    ]


@dataclass(frozen=True)
class Removed:
    kind: str
    count: int


async def purge(
    db: Database, rules: Sequence[Rule], now: datetime, *, dry_run: bool = False
) -> list[Removed]:
    """Apply every rule to the end (or, on a dry run, count what it would remove); in the
    rules' order, so that what one frees (a delivery) is taken by the next (its event)."""
    removed = []
    for rule in rules:
        if dry_run:
            removed.append(Removed(rule.kind, await rule.count(db, now)))
            continue
        total = 0
        while (deleted := await rule.delete_batch(db, now, BATCH)) > 0:
            total += deleted
        removed.append(Removed(rule.kind, total))
    return removed


@dataclass
class RetentionLoop:
    """A worker step: a batch of each rule while any has more past its policy, then idle
    until the next sweep is due (a look at the clock, nothing more)."""

    db: Database
    rules: Sequence[Rule]
    sweep: timedelta
    _next_sweep: datetime = field(default_factory=utcnow)

    async def step(self) -> bool:
        now = utcnow()
        if now < self._next_sweep:
            return False
        busy = False
        for rule in self.rules:
            busy |= await rule.delete_batch(self.db, now, BATCH) == BATCH
        if not busy:
            self._next_sweep = now + self.sweep
        return busy
