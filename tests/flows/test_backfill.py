"""Backfill: the published version runs over the past events of its trigger in a range, once
per event, with its conditions; a range it cannot take is refused naming the field."""

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from contactflow.flows import service
from contactflow.flows.backfill import backfill
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.engine import consume
from contactflow.flows.models import FlowRun
from contactflow.platform.db import Database
from tests.flows.helpers import Hub
from tests.flows.test_engine import _contacts
from tests.support import Tenant, invoke_cli

CALLS = {
    "trigger": {"key": "contacts.contact.created"},
    "conditions": {
        "conditions": [{"field": "trigger.firstName", "operator": "notEquals", "value": "Skip"}]
    },
    "steps": [
        {
            "type": "action",
            "id": "task",
            "action": "mailsuite.task.create",
            "input": {"title": "Call {{ trigger.firstName }}"},
        }
    ],
}


async def _pause() -> datetime:
    """A moment strictly between the events before it and those after (times are in ms)."""
    await asyncio.sleep(0.01)
    moment = datetime.now(UTC)
    await asyncio.sleep(0.01)
    return moment


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_backfill_runs_exactly_the_events_in_range_once(hub: Hub) -> None:
    await hub.crm_contact(firstName="Before", email="before@example.com")
    start = await _pause()
    for name in ("Ada", "Skip", "Bob"):
        await hub.crm_contact(firstName=name, email=f"{name.lower()}@example.com")
    end = await _pause()
    await hub.crm_contact(firstName="After", email="after@example.com")
    flow = await hub.flow(CALLS)
    window = {"from": _iso(start), "to": _iso(end)}

    result = await hub.post(f"/flows/{flow['id']}/backfill", window, status=200)
    assert result == {"queued": 2, "alreadyRun": 0, "notMatching": 1, "leftToTrigger": 0}
    runs = await hub.finished_runs(flow["id"], count=2)
    assert len(runs) == 2
    assert sorted(run["input"]["firstName"] for run in runs) == ["Ada", "Bob"]
    assert all(run["state"] == "succeeded" for run in runs)
    assert sorted(task["title"] for task in await hub.mail_tasks()) == ["Call Ada", "Call Bob"]

    again = await hub.post(f"/flows/{flow['id']}/backfill", window, status=200)
    assert again == {"queued": 0, "alreadyRun": 2, "notMatching": 1, "leftToTrigger": 0}
    wider = {"from": _iso(start - timedelta(days=1)), "to": _iso(end + timedelta(days=1))}
    widened = await hub.post(f"/flows/{flow['id']}/backfill", wider, status=200)
    assert widened == {"queued": 2, "alreadyRun": 2, "notMatching": 1, "leftToTrigger": 0}
    assert len(await hub.finished_runs(flow["id"], count=4)) == 4


async def test_a_range_backfill_cannot_take_is_refused_naming_the_field(hub: Hub) -> None:
    flow = await hub.flow(CALLS)
    path = f"/flows/{flow['id']}/backfill"
    now = datetime.now(UTC)

    reversed_range = {"from": _iso(now), "to": _iso(now - timedelta(seconds=1))}
    refused = await hub.post(path, reversed_range, status=422)
    assert "from: must not be after `to`" in str(refused)
    too_long = {"from": _iso(now - timedelta(days=367)), "to": _iso(now)}
    assert "to: at most 366 days" in str(await hub.post(path, too_long, status=422))
    assert "from" in str(await hub.post(path, {"from": "yesterday", "to": _iso(now)}, status=422))
    assert "to" in str(await hub.post(path, {"from": _iso(now)}, status=422))
    assert await hub.runs(flow["id"]) == []

    draft = (await hub.post("/flows", {"name": "Draft", "definition": CALLS}))["flow"]
    await hub.post(f"/flows/{draft['id']}/backfill", reversed_range | {"to": _iso(now)}, 409)


async def test_events_the_enabled_trigger_has_not_read_are_left_to_it(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    location = quiet_tenant.location_id
    async with quiet_db.unit_of_work() as uow:
        definition = FlowDefinition.model_validate(CALLS)
        flow = await service.create_flow(uow, location, "Calls", definition)
        await service.publish(uow, location, flow.id)
        await service.set_enabled(uow, location, flow.id, True)
    start = datetime.now(UTC) - timedelta(minutes=1)
    await _contacts(quiet_db, quiet_tenant, "Unread")

    async with quiet_db.unit_of_work() as uow:
        result = await backfill(uow, location, flow.id, start, start + timedelta(hours=1))
    assert (result.queued, result.left_to_trigger) == (0, 1)
    await consume(quiet_db)
    async with quiet_db.reader() as session:
        runs = list(await session.scalars(select(FlowRun).where(FlowRun.flow_id == flow.id)))
    assert [run.input["firstName"] for run in runs] == ["Unread"]


async def test_the_command_reports_queued_and_already_run(
    hub: Hub, flows_database_url: str
) -> None:
    start = await _pause()
    await hub.crm_contact(firstName="Cli", email="cli@example.com")
    end = await _pause()
    flow = await hub.flow(CALLS)
    args = ("flows", "backfill", flow["id"], "--location", hub.tenant.location_id)
    window = ("--from", _iso(start), "--to", _iso(end))

    first = await invoke_cli(flows_database_url, *args, *window)
    assert first.exit_code == 0, first.output
    assert "queued 1 runs; 0 events already run" in first.output
    second = await invoke_cli(flows_database_url, *args, *window)
    assert "queued 0 runs; 1 events already run" in second.output
    bad = await invoke_cli(flows_database_url, *args, "--from", "soon", "--to", _iso(end))
    assert bad.exit_code != 0
    assert "--from" in bad.output
