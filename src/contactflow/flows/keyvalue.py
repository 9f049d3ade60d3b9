"""What flows remember between runs: values stored by key per location, and the keys a
flow's de-duplicate step has seen. Each operation is one statement or a locked row, so two
runs at once never both see a key as new nor lose an increment, on SQLite and PostgreSQL."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, UnitOfWork, UTCDateTime

KEY_LENGTH = 255


class StoredValue(Base):
    """One value a flow stored under a key; every flow of the location shares the keys."""

    __tablename__ = "flow_storage"

    location_id: Mapped[str] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SeenKey(Base):
    """A key a flow let through (its de-duplicate step's, a hook delivery's), when, and until
    when it counts (then the retention sweep deletes it)."""

    __tablename__ = "flow_seen_keys"

    flow_id: Mapped[str] = mapped_column(
        ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


def _dialect(uow: UnitOfWork) -> Any:
    return postgresql if uow.dialect == "postgresql" else sqlite


def _changed(result: Any) -> bool:
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)


async def first_sighting(uow: UnitOfWork, flow_id: str, key: str, window: timedelta) -> bool:
    """Whether the key is new to the flow, or was last let through longer ago than `window`
    (it is then recorded as seen now); False for a repeat within the window."""
    now = utcnow()
    inserted = await uow.session.execute(
        _dialect(uow)
        .insert(SeenKey)
        .values(flow_id=flow_id, key=key, seen_at=now, expires_at=now + window)
        .on_conflict_do_nothing()
    )
    if _changed(inserted):
        return True
    # The row lock taken by the update makes a concurrent run wait and then see `seen_at`
    # as this run left it, so only one of them finds the window over.
    renewed = await uow.session.execute(
        update(SeenKey)
        .where(SeenKey.flow_id == flow_id, SeenKey.key == key, SeenKey.seen_at <= now - window)
        .values(seen_at=now, expires_at=now + window)
    )
    return _changed(renewed)


async def get_value(uow: UnitOfWork, location_id: str, key: str) -> StoredValue | None:
    return await uow.session.get(StoredValue, (location_id, key))


async def set_value(uow: UnitOfWork, location_id: str, key: str, value: Any) -> None:
    now = utcnow()
    statement = (
        _dialect(uow)
        .insert(StoredValue)
        .values(location_id=location_id, key=key, value=value, updated_at=now)
    )
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[StoredValue.location_id, StoredValue.key],
            set_={"value": statement.excluded.value, "updated_at": now},
        )
    )


async def delete_value(uow: UnitOfWork, location_id: str, key: str) -> bool:
    result = await uow.session.execute(
        delete(StoredValue).where(StoredValue.location_id == location_id, StoredValue.key == key)
    )
    return _changed(result)


async def increment(uow: UnitOfWork, location_id: str, key: str, by: float) -> float:
    """The stored number plus `by` (a missing key counts from 0); ValueError when the key
    holds something other than a number."""
    await uow.session.execute(
        _dialect(uow)
        .insert(StoredValue)
        .values(location_id=location_id, key=key, value=0, updated_at=utcnow())
        .on_conflict_do_nothing()
    )
    query = select(StoredValue).where(
        StoredValue.location_id == location_id, StoredValue.key == key
    )
    if uow.dialect == "postgresql":
        query = query.with_for_update()
    row = (await uow.session.scalars(query.execution_options(populate_existing=True))).one()
    if isinstance(row.value, bool) or not isinstance(row.value, int | float):
        raise ValueError(f"{key!r} holds {type(row.value).__name__}, not a number")
    total = row.value + by
    row.value = int(total) if float(total).is_integer() else total
    row.updated_at = utcnow()
    return float(row.value)
