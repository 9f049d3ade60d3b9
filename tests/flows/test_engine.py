"""The engine driven by hand on a database no worker reads: each event is evaluated once per
flow version however many consumers race, and a run abandoned by a worker that died is
taken over when its lease expires, without acting twice."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Select, func, select

from contactflow.contacts.schemas import ContactCreate
from contactflow.contacts.service import create_contact
from contactflow.flows import service
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.engine import BATCH, consume
from contactflow.flows.models import FlowRun, StepRun
from contactflow.flows.run_state import LeaseLost, RunSettings
from contactflow.flows.runs import RunExecutor
from contactflow.mailsuite.models import Task
from contactflow.mailsuite.tracking import Links, tracking_key
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from tests.mailsuite.helpers import poll
from tests.support import Tenant, make_tenant

DEFINITION = FlowDefinition.model_validate(
    {
        "trigger": {"key": "contacts.contact.created"},
        "steps": [
            {
                "type": "action",
                "id": "task",
                "action": "mailsuite.task.create",
                "input": {"title": "Call {{ trigger.firstName }}"},
            }
        ],
    }
)


def executor(db: Database, http: httpx.AsyncClient, owner: str, lease: float = 5) -> RunExecutor:
    settings = RunSettings(
        lease=timedelta(seconds=lease),
        batch_size=10,
        phone_region="US",
        base_url="http://127.0.0.1",
    )
    return RunExecutor(db, settings, owner, http)


async def _enabled_flow(db: Database, tenant: Tenant) -> str:
    async with db.unit_of_work() as uow:
        flow = await service.create_flow(uow, tenant.location_id, "Calls", DEFINITION)
        await service.publish(uow, tenant.location_id, flow.id)
        await service.set_enabled(uow, tenant.location_id, flow.id, True)
        return flow.id


async def _contacts(db: Database, tenant: Tenant, *names: str) -> None:
    for name in names:
        async with db.unit_of_work() as uow:
            fields = ContactCreate(first_name=name, email=f"{name.lower()}@example.com")
            await create_contact(uow, tenant.location_id, fields, "US")


async def _count(db: Database, query: Select[int]) -> int:
    async with db.reader() as session:
        return int(await session.scalar(query) or 0)


async def _tasks(db: Database, tenant: Tenant) -> list[str]:
    async with db.reader() as session:
        rows = await session.scalars(
            select(Task.title).where(Task.location_id == tenant.location_id).order_by(Task.title)
        )
        return list(rows)


async def test_racing_consumers_evaluate_each_event_once_per_version(
    quiet_db: Database, quiet_tenant: Tenant, outbound_http: httpx.AsyncClient
) -> None:
    await _contacts(quiet_db, quiet_tenant, "Before")
    flow_id = await _enabled_flow(quiet_db, quiet_tenant)
    await _contacts(quiet_db, quiet_tenant, "Ada", "Bob", "Cy")
    await asyncio.gather(*(consume(quiet_db) for _ in range(4)))
    await consume(quiet_db)
    runs = select(func.count()).select_from(FlowRun).where(FlowRun.flow_id == flow_id)
    # Events before the flow was published are not its business.
    assert await _count(quiet_db, runs) == 3

    # A new version reads from its publication on, with a cursor of its own.
    async with quiet_db.unit_of_work() as uow:
        await service.update_flow(
            uow, quiet_tenant.location_id, flow_id, name=None, definition=DEFINITION
        )
        await service.publish(uow, quiet_tenant.location_id, flow_id)
    await _contacts(quiet_db, quiet_tenant, "Di")
    await asyncio.gather(consume(quiet_db), consume(quiet_db))
    assert await _count(quiet_db, runs) == 4

    worker = executor(quiet_db, outbound_http, "worker")
    while await worker.run_once():
        pass
    assert await _tasks(quiet_db, quiet_tenant) == ["Call Ada", "Call Bob", "Call Cy", "Call Di"]


async def test_the_consumer_looks_again_at_once_only_after_a_full_batch(
    isolated_db: Database,
) -> None:
    tenant = await make_tenant(isolated_db)
    flow_id = await _enabled_flow(isolated_db, tenant)
    async with isolated_db.unit_of_work() as uow:
        for number in range(BATCH + 1):
            fields = ContactCreate(first_name=f"n{number}", email=f"n{number}@example.com")
            await create_contact(uow, tenant.location_id, fields, "US")

    # A full batch: more may follow. Then the last event, and the log read to its end: what
    # comes later wakes the loop.
    assert await consume(isolated_db)
    assert not await consume(isolated_db)
    runs = select(func.count()).select_from(FlowRun).where(FlowRun.flow_id == flow_id)
    assert await _count(isolated_db, runs) == BATCH + 1


async def test_the_run_loop_looks_again_at_once_only_after_a_full_claim(
    isolated_db: Database, outbound_http: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(isolated_db)
    await _enabled_flow(isolated_db, tenant)
    worker = executor(isolated_db, outbound_http, "worker")
    await _contacts(isolated_db, tenant, *(f"N{number}" for number in range(12)))
    await consume(isolated_db)

    # Ten of twelve due runs: more may be due. Then the last two, and nothing else was.
    assert await worker.step()
    assert not await worker.step()
    assert len(await _tasks(isolated_db, tenant)) == 12


async def test_a_dead_workers_run_is_taken_over_and_acts_once(
    quiet_db: Database, quiet_tenant: Tenant, outbound_http: httpx.AsyncClient
) -> None:
    flow_id = await _enabled_flow(quiet_db, quiet_tenant)
    await _contacts(quiet_db, quiet_tenant, "Eve")
    await consume(quiet_db)

    dead = executor(quiet_db, outbound_http, "dead-worker", lease=0.3)
    (run_id,) = await dead.claim_due()
    alive = executor(quiet_db, outbound_http, "alive-worker")
    # While the dead worker's lease runs, nobody else may take the run.
    assert await alive.claim_due() == []
    await poll(alive.run_once, lambda claimed: claimed == 1, within=5)

    async with quiet_db.reader() as session:
        run = await session.get(FlowRun, run_id)
        assert run is not None
        assert run.flow_id == flow_id
        assert run.state == "succeeded"
        assert run.attempts == 2
        assert run.lease_owner is None
    assert await _tasks(quiet_db, quiet_tenant) == ["Call Eve"]

    # The dead worker waking up finds the run is no longer its own, and does nothing.
    links = Links("http://127.0.0.1", await tracking_key(quiet_db))
    with pytest.raises(LeaseLost):
        await dead.advance(run_id, links)
    assert await _tasks(quiet_db, quiet_tenant) == ["Call Eve"]
    steps = select(func.count()).select_from(StepRun).where(StepRun.run_id == run_id)
    assert await _count(quiet_db, steps) == 1


TWO_STEPS = FlowDefinition.model_validate(
    {
        "trigger": {"key": "contacts.contact.created"},
        "steps": [
            {
                "type": "action",
                "id": "first",
                "action": "mailsuite.task.create",
                "input": {"title": "First for {{ trigger.firstName }}"},
            },
            {
                "type": "action",
                "id": "second",
                "action": "mailsuite.task.create",
                "input": {"title": "Second after {{ steps.first.id }}"},
            },
        ],
    }
)


async def test_a_run_cut_off_between_steps_resumes_at_the_first_step_not_done(
    quiet_db: Database, quiet_tenant: Tenant, outbound_http: httpx.AsyncClient
) -> None:
    async with quiet_db.unit_of_work() as uow:
        flow = await service.create_flow(uow, quiet_tenant.location_id, "Two", TWO_STEPS)
        await service.publish(uow, quiet_tenant.location_id, flow.id)
        await service.set_enabled(uow, quiet_tenant.location_id, flow.id, True)
    await _contacts(quiet_db, quiet_tenant, "Fay")
    await consume(quiet_db)
    while await executor(quiet_db, outbound_http, "first-worker").run_once():
        pass

    # The state a worker leaves when it dies after committing the first step: the second
    # step's effect and record absent, the run still leased to it, the lease expired.
    async with quiet_db.unit_of_work() as uow:
        run = await uow.session.scalar(select(FlowRun).where(FlowRun.flow_id == flow.id))
        assert run is not None
        second = await uow.session.scalar(
            select(StepRun).where(StepRun.run_id == run.id, StepRun.step_id == "second")
        )
        assert second is not None
        assert second.output is not None
        task = await uow.session.get(Task, second.output["id"])
        await uow.session.delete(second)
        await uow.session.delete(task)
        run.state, run.finished_at, run.lease_owner = "running", None, "died"
        run.lease_expires_at = run.next_attempt_at = utcnow() - timedelta(seconds=1)
        first_id = (
            await uow.session.scalar(
                select(StepRun.output).where(StepRun.run_id == run.id, StepRun.step_id == "first")
            )
            or {}
        )["id"]

    assert await executor(quiet_db, outbound_http, "second-worker").run_once() == 1
    async with quiet_db.reader() as session:
        done = await session.get(FlowRun, run.id)
        assert done is not None
        assert done.state == "succeeded"
        steps = {
            row.step_id: row
            for row in await session.scalars(select(StepRun).where(StepRun.run_id == run.id))
        }
    assert steps["first"].attempts == 1
    assert steps["first"].output is not None
    assert steps["first"].output["id"] == first_id
    assert steps["second"].attempts == 1
    assert await _tasks(quiet_db, quiet_tenant) == ["First for Fay", f"Second after {first_id}"]


async def test_a_run_taken_over_while_running_is_no_longer_the_first_workers(
    quiet_db: Database, quiet_tenant: Tenant, outbound_http: httpx.AsyncClient
) -> None:
    await _enabled_flow(quiet_db, quiet_tenant)
    await _contacts(quiet_db, quiet_tenant, "Flo")
    await consume(quiet_db)
    slow = executor(quiet_db, outbound_http, "slow-worker", lease=0.3)
    (run_id,) = await slow.claim_due()
    other = executor(quiet_db, outbound_http, "other-worker")
    # The slow worker's lease runs out; the other worker claims the run, still running.
    claimed = await poll(other.claim_due, lambda found: found == [run_id], within=5)
    assert claimed == [run_id]

    links = Links("http://127.0.0.1", await tracking_key(quiet_db))
    with pytest.raises(LeaseLost):
        await slow.advance(run_id, links)
    assert await _tasks(quiet_db, quiet_tenant) == []
    await other.advance(run_id, links)
    assert await _tasks(quiet_db, quiet_tenant) == ["Call Flo"]
