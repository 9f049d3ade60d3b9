"""Runs advanced concurrently, on a database no worker reads: a claimed batch completes
exactly once, and executors racing for the same runs (with leases short enough to be taken
over while a batch waits) never perform a step twice."""

import asyncio
from collections import Counter
from datetime import timedelta
from functools import partial

import httpx
from sqlalchemy import event, select

from contactflow.contacts.schemas import ContactCreate
from contactflow.contacts.service import create_contact
from contactflow.flows import service
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.engine import consume
from contactflow.flows.models import FlowRun, StepRun
from contactflow.flows.run_state import RunSettings
from contactflow.flows.runs import RunExecutor
from contactflow.mailsuite.models import Task
from contactflow.platform.db import Database
from contactflow.platform.event_types import FLOW_RUN_SUCCEEDED
from contactflow.platform.events import Event
from tests.support import Tenant

TWO_TASKS = FlowDefinition.model_validate(
    {
        "trigger": {"key": "contacts.contact.created"},
        "steps": [
            {
                "type": "action",
                "id": "first",
                "action": "mailsuite.task.create",
                "input": {"title": "First for {{ trigger.lastName }}"},
            },
            {
                "type": "action",
                "id": "second",
                "action": "mailsuite.task.create",
                "input": {"title": "Second for {{ trigger.lastName }}"},
            },
        ],
    }
)


def _counted(commits: list[int], _connection: object) -> None:
    commits.append(1)


def executor(
    db: Database,
    http: httpx.AsyncClient,
    owner: str,
    *,
    batch: int,
    concurrency: int,
    lease: float,
) -> RunExecutor:
    settings = RunSettings(
        lease=timedelta(seconds=lease),
        batch_size=batch,
        phone_region="US",
        base_url="http://127.0.0.1",
        concurrency=concurrency,
    )
    return RunExecutor(db, settings, owner, http)


async def _runs_of_new_contacts(db: Database, tenant: Tenant, count: int) -> str:
    """A flow of two task steps, and `count` queued runs of it: its id."""
    async with db.unit_of_work() as uow:
        flow = await service.create_flow(uow, tenant.location_id, "Tasks", TWO_TASKS)
        await service.publish(uow, tenant.location_id, flow.id)
        await service.set_enabled(uow, tenant.location_id, flow.id, True)
    async with db.unit_of_work() as uow:
        for number in range(count):
            fields = ContactCreate(last_name=f"n{number}", email=f"n{number}@example.com")
            await create_contact(uow, tenant.location_id, fields, "US")
    while await consume(db):
        pass
    return flow.id


async def _assert_each_step_once(db: Database, tenant: Tenant, flow_id: str, count: int) -> None:
    async with db.reader() as session:
        runs = list(await session.scalars(select(FlowRun).where(FlowRun.flow_id == flow_id)))
        steps = list(
            await session.scalars(
                select(StepRun).where(StepRun.run_id.in_([run.id for run in runs]))
            )
        )
        titles = Counter(
            await session.scalars(select(Task.title).where(Task.location_id == tenant.location_id))
        )
        finished = Counter(
            event.payload["runId"]
            for event in await session.scalars(
                select(Event).where(
                    Event.location_id == tenant.location_id, Event.type == FLOW_RUN_SUCCEEDED
                )
            )
        )
    assert len(runs) == count
    assert {run.state for run in runs} == {"succeeded"}
    assert all(run.lease_owner is None and run.finished_at is not None for run in runs)
    assert Counter(step.run_id for step in steps) == {run.id: 2 for run in runs}
    assert {(step.state, step.attempts) for step in steps} == {("succeeded", 1)}
    expected = {
        f"{which} for n{number}" for which in ("First", "Second") for number in range(count)
    }
    assert titles == dict.fromkeys(expected, 1)
    assert finished == {run.id: 1 for run in runs}


async def test_a_batch_advanced_concurrently_completes_each_run_once(
    quiet_db: Database, quiet_tenant: Tenant, outbound_http: httpx.AsyncClient
) -> None:
    flow_id = await _runs_of_new_contacts(quiet_db, quiet_tenant, 50)
    worker = executor(quiet_db, outbound_http, "batch-worker", batch=50, concurrency=8, lease=30)
    commits: list[int] = []
    count = partial(_counted, commits)
    event.listen(quiet_db.engine.sync_engine, "commit", count)

    # Other tests' runs left due on this database may take places in the first batch.
    try:
        assert await worker.run_once() == 50
    finally:
        event.remove(quiet_db.engine.sync_engine, "commit", count)
    # A step is a transaction of its own, 100 here; on SQLite, those the walks ask for
    # while one is open share it (ADR 0057).
    if quiet_db.dialect == "sqlite":
        assert len(commits) <= 100 // 4
    else:
        assert len(commits) >= 100
    for _ in range(10):
        if not await worker.run_once():
            break
    await _assert_each_step_once(quiet_db, quiet_tenant, flow_id, 50)


async def test_racing_executors_with_expiring_leases_never_perform_a_step_twice(
    quiet_db: Database, quiet_tenant: Tenant, outbound_http: httpx.AsyncClient
) -> None:
    flow_id = await _runs_of_new_contacts(quiet_db, quiet_tenant, 40)
    # Leases this short run out while claimed runs wait for their turn in a batch: the
    # executor with the smaller batch is done first and takes over the other one's runs.
    racers = [
        executor(quiet_db, outbound_http, "racer-slow", batch=30, concurrency=1, lease=0.02),
        executor(quiet_db, outbound_http, "racer-fast", batch=10, concurrency=2, lease=0.02),
    ]
    unfinished = (
        select(FlowRun.id)
        .where(FlowRun.flow_id == flow_id, FlowRun.state.not_in(("succeeded", "failed")))
        .limit(1)
    )

    async def drain(racer: RunExecutor) -> None:
        for _ in range(500):
            if not await racer.run_once():
                async with quiet_db.reader() as session:
                    if await session.scalar(unfinished) is None:
                        return
                await asyncio.sleep(0.01)

    await asyncio.gather(*(drain(racer) for racer in racers))
    await _assert_each_step_once(quiet_db, quiet_tenant, flow_id, 40)
    async with quiet_db.reader() as session:
        attempts = list(
            await session.scalars(select(FlowRun.attempts).where(FlowRun.flow_id == flow_id))
        )
    # The race did happen: some runs were claimed more than once.
    assert max(attempts) > 1
