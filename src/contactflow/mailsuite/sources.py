"""Mailsuite records copied from another system (`source_system`, `source_id`): one per
source, so a copy made again is the copy already kept."""

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite.models import Task, TimelineEntry

Copy = TypeVar("Copy", Task, TimelineEntry)


async def copies_of(
    session: AsyncSession,
    model: type[Copy],
    location_id: str,
    source_system: str,
    source_ids: list[str],
) -> dict[str, Copy]:
    """The records of `model` copied from any of `source_ids` of `source_system`, by source
    id."""
    rows = await session.scalars(
        select(model).where(
            model.location_id == location_id,
            model.source_system == source_system,
            model.source_id.in_(source_ids),
        )
    )
    return {row.source_id: row for row in rows if row.source_id is not None}
