"""Fan-out: turns each location's new events into one delivery per subscribed endpoint.

The cursor advance and the deliveries it creates commit together, so an event is fanned out
exactly once however many workers run: on PostgreSQL a worker skips a location whose cursor
row another worker holds (FOR UPDATE SKIP LOCKED); on SQLite there is one writer.
"""

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from contactflow.platform.db import Database, UnitOfWork
from contactflow.platform.event_types import WEBHOOK_TEST
from contactflow.platform.events import ConsumerCursor, EventStream, read_events
from contactflow.platform.webhooks.models import WebhookDelivery, WebhookEndpoint

CONSUMER = "webhooks"


async def _locations_behind(db: Database) -> list[str]:
    async with db.reader() as session:
        rows = await session.scalars(
            select(EventStream.location_id)
            .outerjoin(
                ConsumerCursor,
                (ConsumerCursor.location_id == EventStream.location_id)
                & (ConsumerCursor.consumer == CONSUMER),
            )
            .where(EventStream.last_seq > func.coalesce(ConsumerCursor.position, 0))
        )
        return list(rows)


async def _lock_cursor(uow: UnitOfWork, location_id: str) -> ConsumerCursor | None:
    dialect = postgresql if uow.dialect == "postgresql" else sqlite
    await uow.session.execute(
        dialect.insert(ConsumerCursor)
        .values(consumer=CONSUMER, location_id=location_id, position=0)
        .on_conflict_do_nothing()
    )
    query = select(ConsumerCursor).where(
        ConsumerCursor.consumer == CONSUMER, ConsumerCursor.location_id == location_id
    )
    if uow.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return await uow.session.scalar(query)


async def _fan_out_location(db: Database, location_id: str, batch: int) -> int:
    async with db.unit_of_work() as uow:
        cursor = await _lock_cursor(uow, location_id)
        if cursor is None:
            return 0
        pending = await read_events(uow.session, location_id, after=cursor.position, limit=batch)
        if not pending:
            return 0
        endpoints = list(
            await uow.session.scalars(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.location_id == location_id, WebhookEndpoint.enabled.is_(True)
                )
            )
        )
        deliveries = [
            WebhookDelivery(
                endpoint_id=endpoint.id,
                event_id=event.id,
                location_id=location_id,
                event_type=event.type,
                ordering_key=event.subject_id or event.id,
                seq=event.seq,
                ordered=endpoint.ordered,
                next_attempt_at=event.created_at,
            )
            for event in pending
            if event.type != WEBHOOK_TEST
            for endpoint in endpoints
            if endpoint.wants(event.type)
        ]
        uow.session.add_all(deliveries)
        cursor.position = pending[-1].seq
        if deliveries:
            await uow.mark_changed()
        return len(pending)


async def fan_out(db: Database, batch: int = 500) -> bool:
    """One round over every location with unread events; True when it read any."""
    read = 0
    for location_id in await _locations_behind(db):
        read += await _fan_out_location(db, location_id, batch)
    return read > 0
