"""Fan-out: turns each location's new events into one delivery per subscribed endpoint.

The cursor advance and the deliveries it creates commit together, so an event is fanned out
exactly once however many workers run: on PostgreSQL a worker skips a location whose cursor
row another worker holds (FOR UPDATE SKIP LOCKED); on SQLite there is one writer. The
deliveries go in as one multi-row insert that skips any (endpoint, event) pair already there,
so a delivery made another way (by hand, or by an older worker) never stops the cursor.
"""

from typing import Any, cast

from sqlalchemy import Table, select, true
from sqlalchemy.dialects import postgresql, sqlite

from contactflow.platform import topics
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.event_types import WEBHOOK_TEST
from contactflow.platform.events import (
    Event,
    EventStream,
    behind_query,
    locations_behind,
    lock_cursor,
)
from contactflow.platform.ids import new_id
from contactflow.platform.webhooks.models import PENDING, WebhookDelivery, WebhookEndpoint

CONSUMER = "webhooks"
# A location without an enabled endpoint has nothing to fan out: its cursor moves only when
# this many events are past it, so each of its commits costs the fan-out a read rather than
# a write transaction. An endpoint enabled later starts after the events of then
# (`starts_after`), so none of those it missed is sent late.
IDLE_STRIDE = 1000
_BEHIND = behind_query(
    CONSUMER,
    stride=IDLE_STRIDE,
    listening=select(true())
    .where(
        WebhookEndpoint.location_id == EventStream.location_id,
        WebhookEndpoint.enabled.is_(True),
    )
    .exists(),
)


async def _fan_out_location(db: Database, location_id: str, batch: int) -> int:
    async with db.unit_of_work() as uow:
        cursor = await lock_cursor(uow, CONSUMER, location_id)
        if cursor is None:
            return 0
        # The columns a delivery copies, not the payloads (decoding them is most of the cost).
        pending = (
            await uow.session.execute(
                select(Event.id, Event.seq, Event.type, Event.subject_id, Event.created_at)
                .where(Event.location_id == location_id, Event.seq > cursor.position)
                .order_by(Event.seq)
                .limit(batch)
            )
        ).all()
        if not pending:
            return 0
        endpoints = list(
            await uow.session.scalars(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.location_id == location_id, WebhookEndpoint.enabled.is_(True)
                )
            )
        )
        now = utcnow()
        deliveries = [
            {
                "id": new_id(),
                "endpoint_id": endpoint.id,
                "event_id": event.id,
                "location_id": location_id,
                "event_type": event.type,
                "ordering_key": event.subject_id or event.id,
                "seq": event.seq,
                "ordered": endpoint.ordered,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": event.created_at,
                "created_at": now,
            }
            for event in pending
            if event.type != WEBHOOK_TEST
            for endpoint in endpoints
            if endpoint.wants(event.type, event.seq)
        ]
        if deliveries:
            await uow.session.execute(_insert_new(uow.dialect), deliveries)
            uow.wake(topics.DELIVERIES)
        cursor.position = pending[-1].seq
        return len(pending)


def _insert_new(dialect: str) -> Any:
    """INSERT of deliveries that leaves out those whose (endpoint, event) exists already."""
    table = cast(Table, WebhookDelivery.__table__)  # Core: the ORM's bulk path costs more
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return statement.on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])


async def fan_out(db: Database, batch: int = 500) -> bool:
    """One round over every location with unread events; True when it read any."""
    read = 0
    for location_id in await locations_behind(db, _BEHIND):
        read += await _fan_out_location(db, location_id, batch)
    return read > 0
