"""Event log retention: each location's log is cut from its front, in sequence order.

An event goes once it is older than the retention, every consumer of the location's log has
read past it (each cursor of the location, and one of each consumer that reads every
location: a location such a consumer has not started on keeps its whole log), and no webhook
delivery refers to it any more (a delivery sends its event's payload, and its page shows it).
The first event that fails one of these ends the cut, so that a log always starts at some
seq and never has holes. Removed events are appended to a JSON lines file per day of their
creation when an archive folder is set, written and flushed to disk before the deletion
commits: a failure between the two writes an event twice, never loses one (each line
carries its id).
"""

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Row, ScalarSelect, delete, func, select, text
from sqlalchemy.engine import Connection

from contactflow.platform.clock import to_iso
from contactflow.platform.db import Database
from contactflow.platform.events import ConsumerCursor, Event, EventStream
from contactflow.platform.webhooks.models import WebhookDelivery

# One purger at a time on PostgreSQL: two would archive the same events twice.
_LOCK = 0x6576_656E_7473  # "events"
_COLUMNS = (
    Event.id,
    Event.location_id,
    Event.seq,
    Event.type,
    Event.subject_id,
    Event.origin,
    Event.created_at,
    Event.payload,
)


@dataclass(frozen=True)
class Front:
    """A location whose log may be cut, up to seq `horizon` (what all its consumers read)."""

    location_id: str
    horizon: int


@dataclass(frozen=True)
class Holder:
    """The consumer furthest behind in a location whose oldest events are past retention."""

    location_id: str
    consumer: str | None
    position: int
    last_seq: int


# Of each location's log (its `event_streams` row): the position all its cursors passed,
# and when its first event was created (an index seek).
_HORIZON: ScalarSelect[int] = (
    select(func.min(ConsumerCursor.position))
    .where(ConsumerCursor.location_id == EventStream.location_id)
    .scalar_subquery()
)
_FIRST_CREATED: ScalarSelect[datetime] = (
    select(Event.created_at)
    .where(Event.location_id == EventStream.location_id)
    .order_by(Event.seq)
    .limit(1)
    .scalar_subquery()
)


def _started(consumers: Sequence[str]) -> ScalarSelect[int]:
    """How many of `consumers` have a cursor in the location."""
    return (
        select(func.count())
        .where(
            ConsumerCursor.location_id == EventStream.location_id,
            ConsumerCursor.consumer.in_(consumers),
        )
        .scalar_subquery()
    )


def _old_logs(cutoff: datetime) -> ColumnElement[bool]:
    """Locations whose first event is older than `cutoff`."""
    return _FIRST_CREATED < cutoff  # noqa: SIM300 - the SQL side first builds SQL


def _cut(rows: Sequence[Row[Any]], referred: set[str], cutoff: datetime) -> list[Row[Any]]:
    """The front of `rows` (in seq order) that may go: up to the first event too young or
    still referred to by a delivery."""
    front = []
    for row in rows:
        if row.created_at >= cutoff or row.id in referred:
            break
        front.append(row)
    return front


def _front_of(
    connection: Connection, front: Front, cutoff: datetime, after: int, limit: int
) -> list[Row[Any]]:
    rows = connection.execute(
        select(*_COLUMNS)
        .where(
            Event.location_id == front.location_id,
            Event.seq > after,
            Event.seq <= front.horizon,
        )
        .order_by(Event.seq)
        .limit(limit)
    ).all()
    ids = [row.id for row in rows]
    referred = set(
        connection.scalars(
            select(WebhookDelivery.event_id).where(WebhookDelivery.event_id.in_(ids)).distinct()
        )
    )
    return _cut(rows, referred, cutoff)


def _line(row: Row[Any]) -> str:
    return json.dumps(
        {
            "id": row.id,
            "locationId": row.location_id,
            "seq": row.seq,
            "type": row.type,
            "subjectId": row.subject_id,
            "origin": row.origin,
            "createdAt": to_iso(row.created_at),
            "payload": row.payload,
        },
        separators=(",", ":"),
        default=str,
    )


def archive(folder: Path, rows: Sequence[Row[Any]]) -> None:
    """Append the events to `folder/events-YYYY-MM-DD.jsonl` by their UTC day, on disk
    before returning."""
    folder.mkdir(parents=True, exist_ok=True)
    by_day: dict[str, list[str]] = {}
    for row in rows:
        by_day.setdefault(row.created_at.strftime("%Y-%m-%d"), []).append(_line(row))
    for day, lines in by_day.items():
        with (folder / f"events-{day}.jsonl").open("a", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")
            file.flush()
            os.fsync(file.fileno())


@dataclass(frozen=True)
class EventLogRule:
    retention: timedelta
    # Consumers that read every location's log (the webhook fan-out, ...).
    everywhere: tuple[str, ...]
    archive_dir: Path | None = None
    kind: str = "events"

    def _fronts(self, connection: Connection, cutoff: datetime) -> list[Front]:
        query = select(EventStream.location_id, _HORIZON).where(
            _old_logs(cutoff),
            _HORIZON.is_not(None),
            _started(self.everywhere) == len(self.everywhere),
        )
        return [Front(location, position) for location, position in connection.execute(query)]

    async def delete_batch(self, db: Database, now: datetime, batch: int) -> int:
        cutoff = now - self.retention

        def gone(connection: Connection) -> list[Row[Any]]:
            if db.dialect == "postgresql" and not connection.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK}
            ):
                return []
            for front in self._fronts(connection, cutoff):
                rows = _front_of(connection, front, cutoff, 0, batch)
                if rows:
                    if self.archive_dir is not None:
                        archive(self.archive_dir, rows)
                    connection.execute(delete(Event).where(Event.id.in_([r.id for r in rows])))
                    return rows
            return []

        async with db.unit_of_work() as uow:
            connection = await uow.session.connection()
            return len(await connection.run_sync(gone))

    async def count(self, db: Database, now: datetime) -> int:
        cutoff = now - self.retention

        def counted(connection: Connection) -> int:
            total = 0
            for front in self._fronts(connection, cutoff):
                after = 0
                while rows := _front_of(connection, front, cutoff, after, 1000):
                    total += len(rows)
                    after = rows[-1].seq
                    if len(rows) < 1000:
                        break
            return total

        return await db.scan(counted)

    async def holders(self, db: Database, now: datetime) -> list[Holder]:
        """Per location whose oldest event is past retention, the consumer furthest behind
        (None: a consumer of every location has not started there), for people to see why
        a log is kept."""
        cutoff = now - self.retention

        def found(connection: Connection) -> list[Holder]:
            holders = []
            streams = connection.execute(
                select(EventStream.location_id, EventStream.last_seq).where(_old_logs(cutoff))
            ).all()
            for location, last_seq in streams:
                cursors = dict(
                    connection.execute(
                        select(ConsumerCursor.consumer, ConsumerCursor.position).where(
                            ConsumerCursor.location_id == location
                        )
                    ).all()
                )
                missing = [name for name in self.everywhere if name not in cursors]
                if missing:
                    holders.append(Holder(location, None, 0, last_seq))
                    continue
                consumer = min(cursors, key=lambda name: cursors[name])
                holders.append(Holder(location, consumer, cursors[consumer], last_seq))
            return holders

        return await db.scan(found)
