"""Plans of record-relative triggers ("task due in 2 h", "appointment starts in 30 min").

Each running version of such a flow reads its location's event log with its own cursor (the
one every version has) and keeps one timer per record at the record's time minus the lead:
a new or moved time plans anew (a plan already fired at another time fires again, at the new
one), a completed, cancelled or deleted record drops its plan, and a change that keeps the
time only refreshes the data the run will get. The plans are written in the transaction that
moves the cursor; flows/schedules.py fires them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, delete, func, literal, or_, select

from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import Flow, FlowTimer, FlowVersion, cursor_name
from contactflow.flows.run_state import definition_of
from contactflow.flows.timing import lead_time
from contactflow.platform import event_types as types
from contactflow.platform import topics
from contactflow.platform.clock import as_utc, utcnow
from contactflow.platform.db import Database, UnitOfWork, one_of
from contactflow.platform.events import (
    ConsumerCursor,
    Event,
    EventStream,
    delivered_payload,
    next_batch,
    read_events,
)

BATCH = 200
# With no event of its record's types to read, a cursor moves only this many at a time.
CURSOR_STRIDE = 1000
Json = dict[str, Any]


@dataclass(frozen=True)
class RecordTime:
    """Which events tell a record's time, where in them the record is, and when it is over."""

    event_types: tuple[str, ...]
    dropping: frozenset[str]
    # The payload's field holding the record (appointments are nested), None for flat ones.
    nested: str | None
    time_field: str
    over: Callable[[Json], bool]


RECORD_TIMES = {
    "contacts.task.due": RecordTime(
        event_types=(types.TASK_CREATE, types.TASK_UPDATE, types.TASK_COMPLETE, types.TASK_DELETE),
        dropping=frozenset({types.TASK_COMPLETE, types.TASK_DELETE}),
        nested=None,
        time_field="dueDate",
        over=lambda task: task.get("completed") is True,
    ),
    "contacts.appointment.starting": RecordTime(
        event_types=(
            types.APPOINTMENT_CREATE,
            types.APPOINTMENT_UPDATE,
            types.APPOINTMENT_DELETE,
        ),
        dropping=frozenset({types.APPOINTMENT_DELETE}),
        nested="appointment",
        time_field="startTime",
        over=lambda appointment: appointment.get("appointmentStatus") == "cancelled",
    ),
}

# What wakes the consumer: only events of the records' types move a plan.
TOPICS = tuple(
    sorted({topics.event(name) for spec in RECORD_TIMES.values() for name in spec.event_types})
)


@dataclass(frozen=True)
class _Behind:
    flow_id: str
    location_id: str
    version_id: str
    record: RecordTime


async def _flows_behind(db: Database) -> list[_Behind]:
    """Enabled record-relative flows with an unread event of their record's types, or so far
    behind that moving their cursor is worth a transaction."""
    queries = _behind_queries()
    found = await db.read(
        lambda connection: {key: connection.execute(query).all() for key, query in queries.items()}
    )
    return [
        _Behind(flow_id, location_id, version_id, RECORD_TIMES[key])
        for key, rows in found.items()
        for flow_id, location_id, version_id in rows
        if version_id is not None
    ]


@cache
def _behind_queries() -> dict[str, Select[str, str, str | None]]:
    """`_flows_behind`'s statements, one per kind of record, built once."""
    consumer = literal("flow:") + Flow.published_version_id
    position = func.coalesce(ConsumerCursor.position, 0)
    queries = {}
    for key, record in RECORD_TIMES.items():
        unread = (
            select(Event.id)
            .where(
                Event.location_id == Flow.location_id,
                one_of(Event.type, record.event_types),
                Event.seq > position,
            )
            .exists()
        )
        queries[key] = (
            select(Flow.id, Flow.location_id, Flow.published_version_id)
            .join(EventStream, EventStream.location_id == Flow.location_id)
            .outerjoin(
                ConsumerCursor,
                (ConsumerCursor.consumer == consumer)
                & (ConsumerCursor.location_id == Flow.location_id),
            )
            .where(
                Flow.enabled.is_(True),
                Flow.trigger_key == key,
                Flow.published_version_id.is_not(None),
                EventStream.last_seq > position,
                or_(EventStream.last_seq - position >= CURSOR_STRIDE, unread),
            )
        )
    return queries


def _record_of(spec: RecordTime, payload: Json) -> Json | None:
    record = payload.get(spec.nested) if spec.nested else payload
    return record if isinstance(record, dict) and isinstance(record.get("id"), str) else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


async def _plan(
    uow: UnitOfWork, version: FlowVersion, behind: _Behind, lead: timedelta, event: Event
) -> None:
    payload = delivered_payload(event)
    spec = behind.record
    record = _record_of(spec, payload)
    if record is None:
        return
    timer = await uow.session.scalar(
        select(FlowTimer).where(
            FlowTimer.version_id == version.id, FlowTimer.record_id == record["id"]
        )
    )
    moment = _time(record.get(spec.time_field))
    if event.type in spec.dropping or spec.over(record) or moment is None:
        if timer is not None:
            await uow.session.delete(timer)
        return
    planned, now = moment - lead, utcnow()
    if timer is None:
        timer = FlowTimer(
            location_id=version.location_id,
            flow_id=version.flow_id,
            version_id=version.id,
            record_id=record["id"],
            due_at=planned,
        )
        uow.session.add(timer)
    elif as_utc(timer.due_at) != planned:
        timer.due_at, timer.fired_at = planned, None
    timer.payload, timer.updated_at = payload, now


async def _consume(db: Database, behind: _Behind) -> bool:
    async with db.unit_of_work() as uow:
        consumer = cursor_name(behind.version_id)
        types = behind.record.event_types
        found = await next_batch(uow, consumer, behind.location_id, types, BATCH)
        if found is None:
            return False
        flow = await uow.session.get(Flow, behind.flow_id)
        version = await uow.session.get(FlowVersion, behind.version_id)
        if flow is None or version is None or flow.published_version_id != version.id:
            return False
        lead = lead_time(definition_of(version).trigger.options)
        for event in found.events:
            await _plan(uow, version, behind, lead, event)
        found.done()
        if found.events:
            # Wake the fire loop: a plan may be due already (an overdue task).
            uow.wake(topics.FLOW_TIMERS)
        return bool(found.events)


async def carry_over(uow: UnitOfWork, previous_id: str, version: FlowVersion) -> None:
    """A version published over one with the same record trigger takes over its plans, at
    its own lead time: it reads the log only from the switch on, so the records planned
    before would otherwise be forgotten."""
    previous = await uow.session.get(FlowVersion, previous_id)
    trigger = FlowDefinition.model_validate(version.definition).trigger
    spec = RECORD_TIMES.get(trigger.key)
    if previous is None or spec is None or definition_of(previous).trigger.key != trigger.key:
        return
    lead = lead_time(trigger.options)
    for timer in await uow.session.scalars(
        select(FlowTimer).where(FlowTimer.version_id == previous_id)
    ):
        record = _record_of(spec, timer.payload or {})
        moment = _time(record.get(spec.time_field)) if record is not None else None
        if moment is None:
            continue
        if as_utc(timer.due_at) != moment - lead:
            timer.due_at, timer.fired_at = moment - lead, None
        timer.version_id, timer.updated_at = version.id, utcnow()


async def plan_existing(uow: UnitOfWork, flow: Flow, version: FlowVersion) -> None:
    """A record-relative flow's first version plans the records there are already, from the
    log up to where it starts reading, except those whose planned time has passed: a new
    reminder flow does not fire at once for every old overdue task."""
    trigger = definition_of(version).trigger
    spec = RECORD_TIMES.get(trigger.key)
    stream = await uow.session.get(EventStream, flow.location_id)
    if spec is None or stream is None:
        return
    behind = _Behind(flow.id, flow.location_id, version.id, spec)
    lead, position = lead_time(trigger.options), 0
    while True:
        found = await read_events(
            uow.session,
            flow.location_id,
            after=position,
            limit=BATCH,
            types=list(spec.event_types),
            until=stream.last_seq,
        )
        for event in found:
            await _plan(uow, version, behind, lead, event)
        if len(found) < BATCH:
            break
        position = found[-1].seq
    await uow.session.flush()
    await uow.session.execute(
        delete(FlowTimer).where(FlowTimer.version_id == version.id, FlowTimer.due_at <= utcnow())
    )


async def consume(db: Database) -> bool:
    """One round over every record-relative flow with unread events; True when it read any."""
    busy = False
    for behind in await _flows_behind(db):
        busy = await _consume(db, behind) or busy
    return busy
