"""Fan-out: turns each location's new events into one delivery per subscribed endpoint.

The cursor advance and the deliveries it creates commit together, so an event is fanned out
exactly once however many workers run: on PostgreSQL a worker skips a location whose cursor
row another worker holds (FOR UPDATE SKIP LOCKED); on SQLite there is one writer.
"""

from sqlalchemy import select

from contactflow.platform.db import Database
from contactflow.platform.event_types import WEBHOOK_TEST
from contactflow.platform.events import locations_behind, lock_cursor, read_events
from contactflow.platform.webhooks.models import WebhookDelivery, WebhookEndpoint

CONSUMER = "webhooks"


async def _fan_out_location(db: Database, location_id: str, batch: int) -> int:
    async with db.unit_of_work() as uow:
        cursor = await lock_cursor(uow, CONSUMER, location_id)
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
            if endpoint.wants(event.type, event.seq)
        ]
        uow.session.add_all(deliveries)
        cursor.position = pending[-1].seq
        if deliveries:
            await uow.mark_changed()
        return len(pending)


async def fan_out(db: Database, batch: int = 500) -> bool:
    """One round over every location with unread events; True when it read any."""
    read = 0
    for location_id in await locations_behind(db, CONSUMER):
        read += await _fan_out_location(db, location_id, batch)
    return read > 0
