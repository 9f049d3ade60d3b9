"""Helpers of the connections tests: the events a connection brought into a location, and
the stored row as the database holds it."""

from sqlalchemy import func, select

from contactflow.flows.connections.models import Connection, remote_origin
from contactflow.platform.db import Database
from contactflow.platform.events import Event


async def remote_events(db: Database, location_id: str, connection_id: str) -> list[Event]:
    async with db.reader() as session:
        rows = await session.scalars(
            select(Event)
            .where(Event.location_id == location_id, Event.origin == remote_origin(connection_id))
            .order_by(Event.seq)
        )
        return list(rows)


async def event_count(db: Database, location_id: str) -> int:
    async with db.reader() as session:
        found = await session.scalar(
            select(func.count()).select_from(Event).where(Event.location_id == location_id)
        )
        return int(found or 0)


async def stored(db: Database, connection_id: str) -> Connection:
    async with db.reader() as session:
        row = await session.get(Connection, connection_id)
        assert row is not None
        return row
