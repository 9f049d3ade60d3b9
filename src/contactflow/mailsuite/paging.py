"""Newest-first keyset pages over (time, id): stable under inserts, no offsets."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")
Position = tuple[datetime, str]


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    # Where the next page starts (the last row's time and id), None on the last page.
    next: Position | None


async def newest_first(
    session: AsyncSession,
    query: Select[Any],
    at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    *,
    before: Position | None,
    limit: int,
) -> Page[Any]:
    if before is not None:
        moment, last_id = before
        query = query.where(or_(at < moment, and_(at == moment, row_id < last_id)))
    rows = list(await session.scalars(query.order_by(at.desc(), row_id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return Page(rows=rows, next=None)
    rows = rows[:limit]
    last = rows[-1]
    return Page(rows=rows, next=(getattr(last, at.key), getattr(last, row_id.key)))
