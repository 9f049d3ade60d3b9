"""The trigger consumer: each enabled flow's running version reads its location's event log
after its own cursor, and every event of its trigger's type whose conditions hold becomes a
run. The runs are added in the transaction that advances the cursor, so each event is
evaluated exactly once per flow version, whichever worker reads it.

Also the flows context's loops for the process's workers (platform/runtime.py): this
consumer, the plans of record-relative triggers, the timers of schedules and plans, and runs
(their retention is among the platform's rules: flows/retention.py).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import httpx
from sqlalchemy import Select, func, literal, or_, select

from contactflow.flows import bulk_retry, record_plans, schedules
from contactflow.flows.catalog import CATALOG, find
from contactflow.flows.conditions import holds
from contactflow.flows.connections.models import REMOTE_PREFIX, remote_origin
from contactflow.flows.connections.polling import next_due as next_poll
from contactflow.flows.connections.polling import poll_due
from contactflow.flows.connections.rate_budget import remote_limits
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import Flow, FlowVersion, cursor_name, flow_origin, queued_run
from contactflow.flows.run_state import RunSettings, definition_of
from contactflow.flows.runs import RunExecutor
from contactflow.platform import topics
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.events import (
    ConsumerCursor,
    Event,
    EventStream,
    delivered_payload,
    next_batch,
)
from contactflow.platform.jobs import Loop
from contactflow.platform.runtime import url_policy
from contactflow.settings import Settings

BATCH = 200
# With no event of its trigger's type to read, a cursor moves only this many events at a time.
CURSOR_STRIDE = 1000


@dataclass(frozen=True)
class _Behind:
    flow_id: str
    location_id: str
    version_id: str
    event_type: str


async def _flows_behind(db: Database) -> list[_Behind]:
    """Enabled flows with an unread event of their trigger's type, or so many other unread
    events that their cursor is worth moving past them: one query without the write lock,
    as every event of a trigger's type wakes this loop and almost none concern most flows."""
    query = _behind_query()
    rows = await db.read(lambda connection: connection.execute(query).all())
    return [
        _Behind(flow_id, location_id, version_id, event_type)
        for flow_id, location_id, version_id, event_type in rows
        if version_id is not None and event_type is not None
    ]


@cache
def _behind_query() -> Select[str, str, str | None, str | None]:
    """`_flows_behind`'s statement, built once."""
    consumer = literal("flow:") + Flow.published_version_id
    position = func.coalesce(ConsumerCursor.position, 0)
    unread = (
        select(Event.id)
        .where(
            Event.location_id == Flow.location_id,
            Event.type == Flow.event_type,
            Event.seq > position,
        )
        .exists()
    )
    return (
        select(Flow.id, Flow.location_id, Flow.published_version_id, Flow.event_type)
        .join(EventStream, EventStream.location_id == Flow.location_id)
        .outerjoin(
            ConsumerCursor,
            (ConsumerCursor.consumer == consumer)
            & (ConsumerCursor.location_id == Flow.location_id),
        )
        .where(
            Flow.enabled.is_(True),
            Flow.published_version_id.is_not(None),
            EventStream.last_seq > position,
            or_(EventStream.last_seq - position >= CURSOR_STRIDE, unread),
        )
    )


def _echo(origin: str | None, flow_id: str, ignoring: str) -> bool:
    """Whether an event is a flow's echo that this flow's trigger ignores."""
    if origin is None or ignoring == "none":
        return False
    if ignoring == "flows":
        return origin.startswith(flow_origin(""))
    return origin == flow_origin(flow_id)


def _from_source(origin: str | None, connection_id: str | None) -> bool:
    """Whether an event comes from the source a trigger listens to: this workspace by
    default, or the remote account of one connection."""
    if connection_id is None:
        return not (origin or "").startswith(REMOTE_PREFIX)
    return origin == remote_origin(connection_id)


def starting_payload(
    definition: FlowDefinition, flow_id: str, event: Event, now: datetime
) -> dict[str, Any] | None:
    """The trigger data of the run `event` starts for the flow, or None when it starts none
    (an echo the trigger ignores, an event addressed to another flow or that the trigger's
    options pass over, conditions not met)."""
    ignoring = definition.trigger.options.get("ignoreEventsFrom", "self")
    source = definition.trigger.options.get("connectionId")
    if not _from_source(event.origin, source) or _echo(event.origin, flow_id, ignoring):
        return None
    trigger = find(definition.trigger.key)
    addressed = trigger.flow_field if trigger is not None else None
    if addressed is not None and event.payload.get(addressed) != flow_id:
        return None
    payload = delivered_payload(event)
    if trigger is not None and not trigger.fires_on(payload, definition.trigger.options):
        return None
    return payload if holds(definition.conditions, {"trigger": payload}, now) else None


async def _consume(db: Database, behind: _Behind) -> bool:
    async with db.unit_of_work() as uow:
        consumer = cursor_name(behind.version_id)
        found = await next_batch(uow, consumer, behind.location_id, [behind.event_type], BATCH)
        if found is None:
            return False
        flow = await uow.session.get(Flow, behind.flow_id)
        version = await uow.session.get(FlowVersion, behind.version_id)
        if flow is None or version is None or flow.published_version_id != version.id:
            return False
        definition = definition_of(version)
        now = utcnow()
        for event in found.events:
            payload = starting_payload(definition, flow.id, event, now)
            if payload is not None:
                uow.session.add(queued_run(version, payload, event_id=event.id))
        found.done()
        if found.events:
            # Wake the run loops at once (this process, and others through NOTIFY).
            uow.wake(topics.FLOW_RUNS)
        # A batch that was not full read the log to its end: what is appended later wakes
        # the loop again, so it need not look at once.
        return found.full


async def consume(db: Database) -> bool:
    """One round over every flow with unread events; True when one may have more (a batch
    was full)."""
    busy = False
    for behind in await _flows_behind(db):
        busy = await _consume(db, behind) or busy
    return busy


def run_settings(settings: Settings) -> RunSettings:
    return RunSettings(
        lease=timedelta(seconds=settings.lease_seconds),
        batch_size=50,
        phone_region=settings.default_phone_region,
        base_url=settings.base_url,
        url_policy=url_policy(settings),
        remote_limits=remote_limits(settings),
    )


def trigger_topics() -> tuple[str, ...]:
    """The event types some trigger fires on: only their commits can give this consumer
    work (it moves its cursors past other events when one of those comes, or on the poll)."""
    event_types = {
        entry.event_type
        for entry in CATALOG.values()
        if entry.kind == "trigger" and entry.fires == "event" and entry.event_type is not None
    }
    return tuple(topics.event(event_type) for event_type in sorted(event_types))


def worker_loops(
    db: Database, settings: Settings, owner: str, http: httpx.AsyncClient
) -> dict[str, Loop]:
    executor = RunExecutor(db, run_settings(settings), owner, http)

    async def fire_timers() -> bool:
        return await schedules.fire_due(db) > 0

    return {
        "flows-triggers": Loop(lambda: consume(db), trigger_topics()),
        "flows-record-plans": Loop(lambda: record_plans.consume(db), record_plans.TOPICS),
        "flows-timers": Loop(
            fire_timers, (topics.FLOW_TIMERS,), lambda after: schedules.next_due(db, after)
        ),
        "flows-runs": Loop(executor.step, (topics.FLOW_RUNS,), executor.next_due),
        "flows-bulk-retries": Loop(lambda: bulk_retry.advance(db), (topics.FLOW_BULK_RETRIES,)),
        "connections-poll": Loop(
            lambda: poll_due(db, http),
            (topics.CONNECTION_POLLS,),
            lambda after: next_poll(db, after),
        ),
    }
