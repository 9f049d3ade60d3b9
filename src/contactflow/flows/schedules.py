"""Timers: how flows fire without an event. A schedule's version keeps one timer at its next
cron time; a record-relative trigger keeps one per task or appointment at its planned time
(flows/record_plans.py makes them). The fire loop turns due timers into runs.

A timer is taken with its row locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one
writer) and moved or marked fired in the transaction that adds its run, so each (version,
time) runs once however many workers race and whichever crashes. A schedule's next time is
the first after now, not after the time that fired: times missed while no worker ran fire
once, not one run each.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from contactflow.flows.catalog import find
from contactflow.flows.conditions import holds
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import Flow, FlowTimer, FlowVersion, queued_run
from contactflow.flows.run_state import definition_of
from contactflow.flows.timing import DEFAULT_TIMEZONE, next_fire
from contactflow.platform import topics
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import Database, UnitOfWork

BATCH = 100
# The timer of a schedule: one per version, not about any record.
SCHEDULE = ""


def _due(now: datetime) -> list[Any]:
    return [
        FlowTimer.fired_at.is_(None),
        FlowTimer.due_at <= now,
        Flow.enabled.is_(True),
        Flow.published_version_id == FlowTimer.version_id,
    ]


async def start(uow: UnitOfWork, flow: Flow, version: FlowVersion, now: datetime) -> None:
    """Timers for the version that runs from now on: those of the flow's other versions go,
    and a schedule starts at its first time after now (also when the flow is enabled again,
    so the times it was off do not fire)."""
    await uow.session.execute(
        delete(FlowTimer).where(FlowTimer.flow_id == flow.id, FlowTimer.version_id != version.id)
    )
    # The fire loop looks again: the version's timers (a schedule's, the plans published
    # with it, those that fell due while the flow was off) may be due now.
    uow.wake(topics.FLOW_TIMERS)
    definition = FlowDefinition.model_validate(version.definition)
    trigger = find(definition.trigger.key)
    if trigger is None or trigger.fires != "schedule":
        return
    timer = await uow.session.scalar(
        select(FlowTimer).where(FlowTimer.version_id == version.id, FlowTimer.record_id == SCHEDULE)
    )
    if timer is None:
        timer = FlowTimer(
            location_id=flow.location_id,
            flow_id=flow.id,
            version_id=version.id,
            record_id=SCHEDULE,
        )
        uow.session.add(timer)
    timer.due_at, timer.updated_at = next_fire(definition.trigger.options, now), now


def _trigger_data(timer: FlowTimer, options: dict[str, Any]) -> dict[str, Any]:
    if timer.record_id == SCHEDULE:
        return {
            "scheduledAt": to_iso(timer.due_at),
            "cron": options["cron"],
            "timezone": options.get("timezone", DEFAULT_TIMEZONE),
        }
    return {**(timer.payload or {}), "plannedAt": to_iso(timer.due_at)}


async def next_due(db: Database, after: datetime) -> datetime | None:
    """When the first timer falls due after `after`."""
    query = select(func.min(FlowTimer.due_at)).where(
        FlowTimer.fired_at.is_(None), FlowTimer.due_at > after
    )
    return await db.read(lambda connection: connection.scalar(query))


async def fire_due(db: Database, now: datetime | None = None) -> int:
    """One round: due timers of enabled flows' running versions become runs; how many fired."""
    now = now or utcnow()
    probe = select(FlowTimer.id).join(Flow, Flow.id == FlowTimer.flow_id).where(*_due(now))
    if await db.read(lambda connection: connection.scalar(probe.limit(1))) is None:
        return 0
    async with db.unit_of_work() as uow:
        query = (
            select(FlowTimer)
            .join(Flow, Flow.id == FlowTimer.flow_id)
            .where(*_due(now))
            .order_by(FlowTimer.due_at, FlowTimer.id)
            .limit(BATCH)
        )
        if uow.dialect == "postgresql":
            query = query.with_for_update(of=FlowTimer, skip_locked=True)
        timers = list(await uow.session.scalars(query))
        for timer in timers:
            version = await uow.session.get(FlowVersion, timer.version_id)
            if version is None:
                continue
            definition = definition_of(version)
            options = definition.trigger.options
            data = _trigger_data(timer, options)
            if timer.record_id == SCHEDULE:
                timer.due_at = next_fire(options, now)
            else:
                timer.fired_at = now
            timer.updated_at = now
            if holds(definition.conditions, {"trigger": data}, now):
                uow.session.add(queued_run(version, data))
        if timers:
            uow.wake(topics.FLOW_RUNS)
        return len(timers)
