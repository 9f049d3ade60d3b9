"""Record-relative triggers driven by hand on a database no worker reads, with the time
passed in: a task due in 2 h with `before: 2h` fires now; moving its due date plans anew
(the old time never fires, the new one once); completing or deleting it drops the plan; an
appointment fires before its start, and not once cancelled."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from contactflow.contacts import appointments, records
from contactflow.contacts.record_schemas import (
    AppointmentCreate,
    AppointmentUpdate,
    TaskCreate,
    TaskUpdate,
)
from contactflow.contacts.schemas import ContactCreate
from contactflow.contacts.service import create_contact
from contactflow.flows import record_plans, service
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import FlowRun
from contactflow.flows.schedules import fire_due
from contactflow.platform.clock import to_iso
from contactflow.platform.db import Database
from contactflow.platform.errors import Unprocessable
from tests.flows.helpers import Hub
from tests.support import Tenant

STEPS = [
    {
        "type": "action",
        "id": "note",
        "action": "mailsuite.task.create",
        "input": {"title": "Reminder"},
    }
]


async def _flow(db: Database, tenant: Tenant, key: str, **before: float) -> str:
    definition = FlowDefinition.model_validate(
        {"trigger": {"key": key, "options": {"before": before}}, "steps": STEPS}
    )
    async with db.unit_of_work() as uow:
        flow = await service.create_flow(uow, tenant.location_id, "Reminders", definition)
        await service.publish(uow, tenant.location_id, flow.id)
        await service.set_enabled(uow, tenant.location_id, flow.id, True)
        return flow.id


async def _contact(db: Database, tenant: Tenant) -> str:
    async with db.unit_of_work() as uow:
        fields = ContactCreate(first_name="Ada", email="ada@example.com")
        return (await create_contact(uow, tenant.location_id, fields, "US")).id


async def _task(db: Database, tenant: Tenant, contact_id: str, due: datetime) -> str:
    async with db.unit_of_work() as uow:
        fields = TaskCreate(title="Call back", due_date=due, completed=False)
        return (await records.create_task(uow, tenant.location_id, contact_id, fields)).id


async def _runs(db: Database, flow_id: str) -> list[dict[str, Any]]:
    async with db.reader() as session:
        rows = await session.scalars(
            select(FlowRun.input).where(FlowRun.flow_id == flow_id).order_by(FlowRun.created_at)
        )
        return list(rows)


async def _tick(db: Database, now: datetime) -> None:
    """The plan loop reads the log, then two fire loops race at `now`."""
    while await record_plans.consume(db):
        pass
    await asyncio.gather(fire_due(db, now), fire_due(db, now))


async def test_a_task_due_in_two_hours_fires_two_hours_before(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    flow_id = await _flow(quiet_db, quiet_tenant, "contacts.task.due", hours=2)
    contact_id = await _contact(quiet_db, quiet_tenant)
    now = datetime.now(UTC).replace(microsecond=0)
    due = now + timedelta(hours=2)
    task_id = await _task(quiet_db, quiet_tenant, contact_id, due)

    await _tick(quiet_db, now - timedelta(minutes=1))
    assert await _runs(quiet_db, flow_id) == []
    await _tick(quiet_db, now)
    await _tick(quiet_db, now + timedelta(minutes=5))
    (run,) = await _runs(quiet_db, flow_id)
    assert run["id"] == task_id
    assert run["type"] == "TaskCreate"
    assert run["dueDate"] == to_iso(due)
    assert run["plannedAt"] == to_iso(now)

    # A change that keeps the due date does not fire it again.
    async with quiet_db.unit_of_work() as uow:
        fields = TaskUpdate(title="Call back soon")
        await records.update_task(uow, quiet_tenant.location_id, run["contactId"], task_id, fields)
    await _tick(quiet_db, now + timedelta(minutes=10))
    assert len(await _runs(quiet_db, flow_id)) == 1


async def test_moving_the_due_date_plans_anew_and_completing_drops_the_plan(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    flow_id = await _flow(quiet_db, quiet_tenant, "contacts.task.due", hours=1)
    contact_id = await _contact(quiet_db, quiet_tenant)
    now = datetime.now(UTC).replace(microsecond=0)
    task_id = await _task(quiet_db, quiet_tenant, contact_id, now + timedelta(hours=3))
    await _tick(quiet_db, now)

    moved = now + timedelta(hours=5)
    async with quiet_db.unit_of_work() as uow:
        fields = TaskUpdate(due_date=moved)
        await records.update_task(uow, quiet_tenant.location_id, contact_id, task_id, fields)
    # The old plan (2 h from now) never fires.
    await _tick(quiet_db, now + timedelta(hours=2, minutes=1))
    assert await _runs(quiet_db, flow_id) == []
    await _tick(quiet_db, now + timedelta(hours=4))
    await _tick(quiet_db, now + timedelta(hours=4, minutes=1))
    (run,) = await _runs(quiet_db, flow_id)
    assert run["type"] == "TaskUpdate"
    assert run["dueDate"] == to_iso(moved)
    assert run["plannedAt"] == to_iso(now + timedelta(hours=4))

    # Another task, completed before its time: its plan is dropped; a deleted one's too.
    done_id = await _task(quiet_db, quiet_tenant, contact_id, now + timedelta(hours=6))
    gone_id = await _task(quiet_db, quiet_tenant, contact_id, now + timedelta(hours=6))
    await _tick(quiet_db, now)
    async with quiet_db.unit_of_work() as uow:
        await records.set_task_completed(uow, quiet_tenant.location_id, contact_id, done_id, True)
    async with quiet_db.unit_of_work() as uow:
        await records.delete_task(uow, quiet_tenant.location_id, contact_id, gone_id)
    await _tick(quiet_db, now + timedelta(days=1))
    assert [run["id"] for run in await _runs(quiet_db, flow_id)] == [task_id]


async def test_an_appointment_fires_before_it_starts_unless_cancelled(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    flow_id = await _flow(quiet_db, quiet_tenant, "contacts.appointment.starting", minutes=30)
    contact_id = await _contact(quiet_db, quiet_tenant)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now + timedelta(days=1)
    ids = []
    for _ in range(2):
        async with quiet_db.unit_of_work() as uow:
            fields = AppointmentCreate(
                calendar_id=quiet_tenant.calendar_id, contact_id=contact_id, start_time=start
            )
            row = await appointments.create_appointment(uow, quiet_tenant.location_id, fields)
            ids.append(row.id)
    kept, cancelled = ids
    await _tick(quiet_db, now)
    async with quiet_db.unit_of_work() as uow:
        cancel = AppointmentUpdate(appointment_status="cancelled")
        await appointments.update_appointment(uow, quiet_tenant.location_id, cancelled, cancel)
    await _tick(quiet_db, start - timedelta(minutes=31))
    assert await _runs(quiet_db, flow_id) == []
    await _tick(quiet_db, start - timedelta(minutes=30))
    (run,) = await _runs(quiet_db, flow_id)
    assert run["appointment"]["id"] == kept
    assert run["plannedAt"] == to_iso(start - timedelta(minutes=30))


async def test_a_lead_time_that_is_not_a_duration_is_not_published(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    definition = FlowDefinition.model_validate(
        {
            "trigger": {"key": "contacts.task.due", "options": {"before": {"weeks": 1}}},
            "steps": STEPS,
        }
    )
    async with quiet_db.unit_of_work() as uow:
        flow = await service.create_flow(uow, quiet_tenant.location_id, "Bad", definition)
        flow_id = flow.id
    with pytest.raises(Unprocessable) as refused:
        async with quiet_db.unit_of_work() as uow:
            await service.publish(uow, quiet_tenant.location_id, flow_id)
    assert refused.value.message == [
        "trigger.options.before.weeks: not one of days, hours, minutes"
    ]


async def test_a_new_version_takes_over_the_plans_at_its_own_lead_time(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    flow_id = await _flow(quiet_db, quiet_tenant, "contacts.task.due", hours=1)
    contact_id = await _contact(quiet_db, quiet_tenant)
    now = datetime.now(UTC).replace(microsecond=0)
    due = now + timedelta(hours=10)
    task_id = await _task(quiet_db, quiet_tenant, contact_id, due)
    await _tick(quiet_db, now)

    definition = FlowDefinition.model_validate(
        {
            "trigger": {"key": "contacts.task.due", "options": {"before": {"hours": 3}}},
            "steps": STEPS,
        }
    )
    async with quiet_db.unit_of_work() as uow:
        await service.update_flow(
            uow, quiet_tenant.location_id, flow_id, name=None, definition=definition
        )
        await service.publish(uow, quiet_tenant.location_id, flow_id)
    await _tick(quiet_db, due - timedelta(hours=3))
    await _tick(quiet_db, due - timedelta(hours=1))
    (run,) = await _runs(quiet_db, flow_id)
    assert run["id"] == task_id
    assert run["plannedAt"] == to_iso(due - timedelta(hours=3))


async def test_the_servers_workers_fire_an_overdue_task_once(hub: Hub) -> None:
    flow = await hub.flow(
        {
            "trigger": {"key": "contacts.task.due", "options": {"before": {}}},
            "steps": [
                {
                    "type": "action",
                    "id": "task",
                    "action": "mailsuite.task.create",
                    "input": {"title": "Overdue: {{ trigger.title }}"},
                }
            ],
        }
    )
    crm = await hub.crm_contact(firstName="Late", email="late@example.com")
    due = to_iso(datetime.now(UTC) - timedelta(hours=1))
    body = {"title": "Send quote", "dueDate": due, "completed": False}
    await hub.post(f"/contacts/{crm['id']}/tasks", body)
    (run,) = await hub.finished_runs(flow["id"])
    assert run["state"] == "succeeded", run
    assert (run["input"]["title"], run["input"]["plannedAt"]) == ("Send quote", due)
    assert [task["title"] for task in await hub.mail_tasks()] == ["Overdue: Send quote"]


async def test_a_new_flow_plans_the_open_tasks_there_are_already_but_not_the_overdue(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    contact_id = await _contact(quiet_db, quiet_tenant)
    now = datetime.now(UTC).replace(microsecond=0)
    ahead = await _task(quiet_db, quiet_tenant, contact_id, now + timedelta(hours=3))
    moved = await _task(quiet_db, quiet_tenant, contact_id, now + timedelta(hours=9))
    async with quiet_db.unit_of_work() as uow:
        fields = TaskUpdate(due_date=now + timedelta(hours=4))
        await records.update_task(uow, quiet_tenant.location_id, contact_id, moved, fields)
    done = await _task(quiet_db, quiet_tenant, contact_id, now + timedelta(hours=3))
    async with quiet_db.unit_of_work() as uow:
        await records.set_task_completed(uow, quiet_tenant.location_id, contact_id, done, True)
    # Planned an hour ago (due in an hour, 2 h ahead): passed before the flow existed.
    await _task(quiet_db, quiet_tenant, contact_id, now + timedelta(hours=1))

    flow_id = await _flow(quiet_db, quiet_tenant, "contacts.task.due", hours=2)
    await _tick(quiet_db, now + timedelta(minutes=5))
    assert await _runs(quiet_db, flow_id) == []
    for hours in (1, 2, 24):
        await _tick(quiet_db, now + timedelta(hours=hours, minutes=1))
    fired = await _runs(quiet_db, flow_id)
    assert [(run["id"], run["plannedAt"]) for run in fired] == [
        (ahead, to_iso(now + timedelta(hours=1))),
        (moved, to_iso(now + timedelta(hours=2))),
    ]
