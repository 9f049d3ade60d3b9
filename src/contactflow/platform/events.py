"""The event log: the transactional outbox every change writes to.

`append` runs inside the writer's unit of work, so a committed change always has its event
and a rolled-back one never has. Each location's events carry a gap-free sequence taken from
a per-location counter row; the row lock it takes is held to commit, so sequence order is
commit order and a consumer's `after=seq` cursor never skips an event that commits late.

A transaction's events are written together as it commits (ADR 0030): one statement
reserves each location's sequence numbers for all of them and one inserts them. The counter
row is then locked only for the end of the transaction, not from its first event on, and a
transaction of many events (a group of sent emails, a backfill's batch) costs two
statements, not two per event.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Dialect,
    Index,
    Insert,
    Select,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from contactflow.platform import activity, topics
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import Base, Database, UnitOfWork, UTCDateTime, one_of
from contactflow.platform.errors import NotFound, PayloadTooLarge
from contactflow.platform.ids import new_id

MAX_PAYLOAD_BYTES = 256 * 1024
EVENT_VERSION = "1"


class Event(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    # What the event is about (a contact id, usually): deliveries keep order per subject.
    subject_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The unit of work's origin (a flow run's "flow:<id>"); None for requests.
    origin: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("location_id", "seq"),
        Index(None, "location_id", "type", "seq"),
    )


class ConsumerCursor(Base):
    """How far one consumer (webhook fan-out, a flow version, ...) has read a location."""

    __tablename__ = "consumer_cursors"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    location_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)


class EventStream(Base):
    """The last sequence number given out per location."""

    __tablename__ = "event_streams"

    location_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


@dataclass(slots=True)
class Appended:
    """An event added to a transaction, not written yet: the row `write_pending` inserts,
    its payload encoded once (for its size check and for the insert)."""

    id: str
    location_id: str
    type: str
    subject_id: str | None
    payload: dict[str, Any]
    encoded: str
    created_at: datetime
    origin: str | None
    # Set as the transaction commits (or `write_pending` runs).
    seq: int = 0


class _EncodedJSON(TypeDecorator[str]):
    """A JSON column's value already encoded as text: bound as it is, never encoded again."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


_pending: "WeakKeyDictionary[UnitOfWork, list[Appended]]" = WeakKeyDictionary()


async def _reserve(uow: UnitOfWork, location_id: str, count: int) -> int:
    """Take the location's next `count` sequence numbers; the last of them."""
    taken = await uow.session.execute(
        _reserving(uow.dialect), {"location_id": location_id, "count": count}
    )
    return int(taken.scalar_one())


@cache
def _reserving(dialect_name: str) -> Insert:
    """`_reserve`'s upsert, built once per dialect: every transaction that appends runs it."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = cast(Table, EventStream.__table__)  # Core: the ORM's bulk path costs more
    count = bindparam("count", type_=BigInteger())
    statement = dialect.insert(table).values(location_id=bindparam("location_id"), last_seq=count)
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[table.c.location_id], set_={"last_seq": table.c.last_seq + count}
    ).returning(table.c.last_seq)
    return upsert


def _drop_past(appended: list[Appended], count: int) -> None:
    del appended[count:]


async def write_pending(uow: UnitOfWork) -> None:
    """Number and insert the events appended in `uow` so far. Runs as `uow` commits; call
    it earlier only where an event's sequence number is needed before then."""
    appended = _pending.pop(uow, None)
    if not appended:
        return
    by_location: dict[str, list[Appended]] = {}
    for event in appended:
        by_location.setdefault(event.location_id, []).append(event)
    # Locations in a fixed order: two transactions never wait on each other's counters.
    for location_id in sorted(by_location):
        located = by_location[location_id]
        last = await _reserve(uow, location_id, len(located))
        for offset, event in enumerate(located, start=last - len(located) + 1):
            event.seq = offset
    await uow.session.execute(
        _INSERT,  # Core: the ORM's bulk path costs more
        [
            {column: getattr(event, column) for column in _COLUMNS} | {_ENCODED: event.encoded}
            for event in appended
        ],
    )


# Every column of the table but the payload, so a column added to `Event` is written too;
# the payload is bound as encoded by `append`.
_COLUMNS = tuple(column.key for column in Event.__table__.columns if column.key != "payload")
_ENCODED = "encoded_payload"
_INSERT = insert(cast(Table, Event.__table__)).values(
    payload=bindparam(_ENCODED, type_=_EncodedJSON())
)


async def append(
    uow: UnitOfWork,
    location_id: str,
    event_type: str,
    payload: dict[str, Any],
    *,
    subject_id: str | None = None,
) -> Appended:
    """Add one event to the caller's transaction, written as it commits (its `seq` is set
    then). A payload over 256 KiB fails the write."""
    encoded = json.dumps(payload, separators=(",", ":"))
    # ASCII (json.dumps escapes the rest): its length is its size in bytes.
    size = len(encoded)
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(
            f"{event_type} event payload is {size} bytes; events are limited to "
            f"{MAX_PAYLOAD_BYTES} bytes (256 KiB), reduce the record's size"
        )
    event = Appended(
        id=new_id(),  # now: callers refer to it at once (an error flow's trigger)
        location_id=location_id,
        type=event_type,
        subject_id=subject_id,
        payload=payload,
        encoded=encoded,
        created_at=utcnow(),
        origin=uow.origin,
    )
    appended = _pending.get(uow)
    if appended is None:
        appended = _pending[uow] = []
        # Before the activity counters, whatever was tallied first: every transaction
        # locks its location's counter row, then the activity rows.
        uow.before_commit(lambda: write_pending(uow), first=True)
        uow.gathers(lambda: partial(_drop_past, appended, len(appended)))
    appended.append(event)
    uow.wake(*topics.of_event(event_type))
    activity.tally(uow, location_id, activity.EVENTS)
    activity.tally(uow, location_id, event_type)
    return event


async def read_events(
    session: AsyncSession,
    location_id: str,
    *,
    after: int,
    limit: int,
    types: list[str] | None = None,
    until: int | None = None,
) -> list[Event]:
    """Up to `limit` events after seq `after` (of `types`; up to seq `until`), in order."""
    query = select(Event).where(Event.location_id == location_id, Event.seq > after)
    if until is not None:
        query = query.where(Event.seq <= until)
    if types:
        query = query.where(Event.type.in_(types))
    return list(await session.scalars(query.order_by(Event.seq).limit(limit)))


async def read_newest(
    session: AsyncSession,
    location_id: str,
    *,
    before: int | None,
    limit: int,
    event_type: str | None = None,
    subject_id: str | None = None,
) -> list[Event]:
    """Up to `limit` events before seq `before` (of `event_type`, about `subject_id`),
    newest first: the log read backwards, as people look at it."""
    query = select(Event).where(Event.location_id == location_id)
    if before is not None:
        query = query.where(Event.seq < before)
    if event_type is not None:
        query = query.where(Event.type == event_type)
    if subject_id is not None:
        query = query.where(Event.subject_id == subject_id)
    return list(await session.scalars(query.order_by(Event.seq.desc()).limit(limit)))


async def find_event(session: AsyncSession, location_id: str, event_id: str) -> Event:
    event = await session.scalar(
        select(Event).where(Event.id == event_id, Event.location_id == location_id)
    )
    if event is None:
        raise NotFound("Event not found")
    return event


def delivered_payload(event: Event) -> dict[str, Any]:
    """What a receiver gets: the event's payload plus its id, time and version."""
    return {
        **event.payload,
        "webhookId": event.id,
        "timestamp": to_iso(event.created_at),
        "versionId": EVENT_VERSION,
    }


def behind_query(
    consumer: str,
    types: Sequence[str] = (),
    stride: int = 0,
    listening: ColumnElement[bool] | None = None,
) -> Select[str]:
    """The locations whose log has events past `consumer`'s cursor. A consumer of some
    `types` only is given the locations with an event of those types past its cursor, and a
    consumer with `listening` (a condition on the location's `EventStream`, such as having
    somewhere to send events) the locations that meet it; either is also given those with at
    least `stride` events of any type past its cursor (worth moving the cursor over): one look
    however many locations have only other events past it. Built once by each consumer, as
    every commit of an event it watches wakes it to ask."""
    position = func.coalesce(ConsumerCursor.position, 0)
    query = (
        select(EventStream.location_id)
        .outerjoin(
            ConsumerCursor,
            (ConsumerCursor.location_id == EventStream.location_id)
            & (ConsumerCursor.consumer == consumer),
        )
        .where(EventStream.last_seq > position)
    )
    worth: list[ColumnElement[bool]] = []
    if types:
        worth.append(
            select(Event.id)
            .where(
                Event.location_id == EventStream.location_id,
                Event.seq > position,
                one_of(Event.type, types),
            )
            .exists()
        )
    if listening is not None:
        worth.append(listening)
    if worth:
        query = query.where(or_(EventStream.last_seq - position >= stride, *worth))
    return query


async def locations_behind(db: Database, query: Select[str]) -> list[str]:
    """The locations a `behind_query` gives now, read without the write lock."""
    return await db.read(lambda connection: list(connection.scalars(query)))


async def lock_cursor(uow: UnitOfWork, consumer: str, location_id: str) -> ConsumerCursor | None:
    """The consumer's cursor for a location, locked until commit; None while another worker
    holds it (PostgreSQL's SKIP LOCKED; SQLite has one writer)."""
    dialect = postgresql if uow.dialect == "postgresql" else sqlite
    await uow.session.execute(
        dialect.insert(ConsumerCursor)
        .values(consumer=consumer, location_id=location_id, position=0)
        .on_conflict_do_nothing()
    )
    query = select(ConsumerCursor).where(
        ConsumerCursor.consumer == consumer, ConsumerCursor.location_id == location_id
    )
    if uow.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return await uow.session.scalar(query)


@dataclass
class Batch:
    """A consumer's next events of one location, read under its locked cursor."""

    cursor: ConsumerCursor
    events: list[Event]
    # The log's last seq when the batch was read, and the most events a batch holds.
    end: int
    limit: int

    @property
    def full(self) -> bool:
        """Whether more events may follow this batch's (it holds as many as a batch may)."""
        return len(self.events) == self.limit

    def done(self) -> None:
        """Move the cursor past the batch: to its last event when the batch was full (more
        may follow), else to the end of the log as it was read (the consumer skips the
        events of other types in between)."""
        self.cursor.position = self.events[-1].seq if self.full else self.end


async def next_batch(
    uow: UnitOfWork, consumer: str, location_id: str, types: Sequence[str], limit: int
) -> Batch | None:
    """The consumer's next events of `types` in the location, its cursor locked until commit;
    None while another worker holds the cursor or when the log has nothing past it."""
    cursor = await lock_cursor(uow, consumer, location_id)
    stream = await uow.session.get(EventStream, location_id)
    if cursor is None or stream is None or stream.last_seq <= cursor.position:
        return None
    end = stream.last_seq
    found = await read_events(
        uow.session, location_id, after=cursor.position, limit=limit, types=list(types), until=end
    )
    return Batch(cursor, found, end, limit)
