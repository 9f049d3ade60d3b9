"""The schedule trigger, driven by hand on a database no worker reads, with the time passed
in: each due time fires once however many fire loops race, times missed while no loop ran
fire once, and a cron expression or timezone that cannot run refuses the publish."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from contactflow.flows import service
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import FlowRun, FlowTimer
from contactflow.flows.schedules import fire_due
from contactflow.flows.timing import next_fire
from contactflow.platform.db import Database
from contactflow.platform.errors import Unprocessable
from tests.support import Tenant


def _definition(**options: str) -> FlowDefinition:
    return FlowDefinition.model_validate(
        {
            "trigger": {"key": "core.schedule", "options": options},
            "steps": [
                {
                    "type": "action",
                    "id": "task",
                    "action": "mailsuite.task.create",
                    "input": {"title": "Report of {{ trigger.scheduledAt }}"},
                }
            ],
        }
    )


async def _scheduled(db: Database, tenant: Tenant, definition: FlowDefinition) -> str:
    async with db.unit_of_work() as uow:
        flow = await service.create_flow(uow, tenant.location_id, "Report", definition)
        await service.publish(uow, tenant.location_id, flow.id)
        await service.set_enabled(uow, tenant.location_id, flow.id, True)
        return flow.id


async def _runs(db: Database, flow_id: str) -> list[dict[str, object]]:
    async with db.reader() as session:
        rows = await session.scalars(
            select(FlowRun.input).where(FlowRun.flow_id == flow_id).order_by(FlowRun.created_at)
        )
        return list(rows)


async def _next_time(db: Database, flow_id: str) -> datetime:
    async with db.reader() as session:
        timer = await session.scalar(select(FlowTimer).where(FlowTimer.flow_id == flow_id))
        assert timer is not None
        return timer.due_at


async def test_each_due_time_fires_once_even_with_racing_loops(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    flow_id = await _scheduled(quiet_db, quiet_tenant, _definition(cron="* * * * *"))
    first = await _next_time(quiet_db, flow_id)
    assert first.second == 0
    assert timedelta(0) < first - datetime.now(UTC) <= timedelta(minutes=1)

    # Not due yet: nothing fires.
    await fire_due(quiet_db, first - timedelta(seconds=1))
    assert await _runs(quiet_db, flow_id) == []

    await asyncio.gather(*(fire_due(quiet_db, first) for _ in range(3)))
    await fire_due(quiet_db, first)
    expected = first.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert await _runs(quiet_db, flow_id) == [
        {"scheduledAt": expected, "cron": "* * * * *", "timezone": "UTC"}
    ]
    assert await _next_time(quiet_db, flow_id) == first + timedelta(minutes=1)

    # Down for an hour: the sixty missed times fire once, then the schedule goes on from now.
    later = first + timedelta(hours=1, seconds=30)
    await asyncio.gather(fire_due(quiet_db, later), fire_due(quiet_db, later))
    runs = await _runs(quiet_db, flow_id)
    assert len(runs) == 2
    assert await _next_time(quiet_db, flow_id) == first + timedelta(hours=1, minutes=1)


async def test_a_disabled_schedule_does_not_fire_and_restarts_from_now(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    flow_id = await _scheduled(quiet_db, quiet_tenant, _definition(cron="*/5 * * * *"))
    first = await _next_time(quiet_db, flow_id)
    async with quiet_db.unit_of_work() as uow:
        await service.set_enabled(uow, quiet_tenant.location_id, flow_id, False)
    await fire_due(quiet_db, first + timedelta(minutes=1))
    assert await _runs(quiet_db, flow_id) == []
    async with quiet_db.unit_of_work() as uow:
        await service.set_enabled(uow, quiet_tenant.location_id, flow_id, True)
    assert await _next_time(quiet_db, flow_id) == first


def test_cron_times_are_read_in_the_schedules_timezone() -> None:
    options = {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}
    # Friday evening in winter -> Monday 09:00 in Paris, 08:00 UTC.
    friday = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    assert next_fire(options, friday) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    # In summer Paris is UTC+2.
    assert next_fire(options, datetime(2026, 7, 1, 6, 0, tzinfo=UTC)) == datetime(
        2026, 7, 1, 7, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"cron": "61 * * * *"}, "trigger.options.cron: not a cron expression (Bad minute)"),
        ({"cron": "0 9 * *"}, "trigger.options.cron: five fields (minute hour day month weekday)"),
        (
            {"cron": "0 9 * * *", "timezone": "Europe/Atlantis"},
            "trigger.options.timezone: not an IANA timezone such as 'Europe/Paris'",
        ),
        ({"timezone": "UTC"}, "trigger.options.cron: required by core.schedule"),
    ],
)
async def test_a_schedule_that_cannot_run_is_not_published(
    quiet_db: Database, quiet_tenant: Tenant, options: dict[str, str], expected: str
) -> None:
    async with quiet_db.unit_of_work() as uow:
        flow = await service.create_flow(uow, quiet_tenant.location_id, "Bad", _definition())
        flow_id = flow.id
    async with quiet_db.unit_of_work() as uow:
        await service.update_flow(
            uow, quiet_tenant.location_id, flow_id, name=None, definition=_definition(**options)
        )
    with pytest.raises(Unprocessable) as refused:
        async with quiet_db.unit_of_work() as uow:
            await service.publish(uow, quiet_tenant.location_id, flow_id)
    assert refused.value.message == [expected]
    async with quiet_db.reader() as session:
        timers = await session.scalars(select(FlowTimer).where(FlowTimer.flow_id == flow_id))
        assert list(timers) == []
