"""Loop steps: on the live server each item gets its own timeline note (a filter inside ends
only its iteration), and driven by hand a run taken over inside a loop does not redo the
iterations already done."""

from datetime import timedelta

import httpx
from sqlalchemy import select

from contactflow.flows import service
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.engine import consume
from contactflow.flows.models import FlowRun, StepRun
from contactflow.mailsuite.models import Task
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from tests.flows.helpers import Hub, Json
from tests.flows.test_engine import _contacts, _tasks, executor
from tests.support import Tenant


def _loop_flow() -> Json:
    return {
        "trigger": {"key": "contacts.contact.created"},
        "steps": [
            {
                "type": "action",
                "id": "contact",
                "action": "mailsuite.contact.upsert",
                "input": {"email": "{{ trigger.email }}"},
            },
            {
                "type": "loop",
                "id": "each",
                "items": "{{ trigger.tags | tojson }}",
                "steps": [
                    {
                        "type": "filter",
                        "id": "wanted",
                        "conditions": {
                            "conditions": [
                                {"field": "loop.item", "operator": "notEquals", "value": "skip"}
                            ]
                        },
                    },
                    {
                        "type": "action",
                        "id": "note",
                        "action": "mailsuite.timeline.add_note",
                        "input": {
                            "contactId": "{{ steps.contact.id }}",
                            "body": "{{ loop.index }}/{{ loop.count }}: {{ loop.item }}",
                        },
                    },
                ],
            },
            {
                "type": "action",
                "id": "after",
                "action": "core.text.format",
                "input": {"operation": "upper", "value": "{{ steps.note.body }}"},
            },
        ],
    }


async def test_each_item_gets_its_own_note_and_a_filter_skips_one_item(hub: Hub) -> None:
    flow = await hub.flow(_loop_flow())
    await hub.crm_contact(
        name="Ada", email="ada@example.com", tags=["alpha", "skip", "gamma", "delta"]
    )

    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert detail["run"]["state"] == "succeeded", detail
    steps = {step["stepId"]: step for step in detail["steps"]}
    assert list(steps) == [
        "contact",
        "wanted[0]",
        "note[0]",
        "wanted[1]",
        "wanted[2]",
        "note[2]",
        "wanted[3]",
        "note[3]",
        "each",
        "after",
    ]
    assert steps["wanted[1]"]["output"] == {"passed": False}
    assert steps["each"]["output"] == {"count": 4}
    # After the loop, `steps.note` is the last iteration's.
    assert steps["after"]["output"] == {"result": "3/4: DELTA"}

    notes = [e for e in await hub.timeline(steps["contact"]["output"]["id"]) if e["kind"] == "note"]
    assert sorted(note["body"] for note in notes) == ["0/4: alpha", "2/4: gamma", "3/4: delta"]


async def test_publishing_refuses_loop_outside_a_loop_and_items_that_do_not_parse(
    hub: Hub,
) -> None:
    definition = _loop_flow()
    definition["steps"][1]["items"] = "{{ trigger.tags | nosuchfilter }}"
    definition["steps"][2]["input"]["value"] = "{{ loop.item }}"
    created = await hub.post("/flows", {"name": "Bad loop", "definition": definition})
    refused = await hub.post(f"/flows/{created['flow']['id']}/publish", status=422)
    text = str(refused)
    assert "steps.each.items: does not parse" in text, refused
    assert "steps.after.input.value: uses loop, which is defined only inside a loop" in text


LOOP = FlowDefinition.model_validate(
    {
        "trigger": {"key": "contacts.contact.created"},
        "steps": [
            {
                "type": "loop",
                "id": "each",
                "items": ["a", "b", "c"],
                "steps": [
                    {
                        "type": "action",
                        "id": "task",
                        "action": "mailsuite.task.create",
                        "input": {"title": "{{ trigger.firstName }} {{ loop.item }}"},
                    }
                ],
            }
        ],
    }
)


async def test_a_run_taken_over_inside_a_loop_does_only_the_iterations_not_done(
    quiet_db: Database, quiet_tenant: Tenant, outbound_http: httpx.AsyncClient
) -> None:
    async with quiet_db.unit_of_work() as uow:
        flow = await service.create_flow(uow, quiet_tenant.location_id, "Loop", LOOP)
        await service.publish(uow, quiet_tenant.location_id, flow.id)
        await service.set_enabled(uow, quiet_tenant.location_id, flow.id, True)
    await _contacts(quiet_db, quiet_tenant, "Gil")
    await consume(quiet_db)
    while await executor(quiet_db, outbound_http, "first-worker").run_once():
        pass

    # The state a worker leaves when it dies after committing the second iteration.
    async with quiet_db.unit_of_work() as uow:
        run = await uow.session.scalar(select(FlowRun).where(FlowRun.flow_id == flow.id))
        assert run is not None
        rows = {
            row.step_id: row
            for row in await uow.session.scalars(select(StepRun).where(StepRun.run_id == run.id))
        }
        assert set(rows) == {"task[0]", "task[1]", "task[2]", "each"}
        done = {step_id: (rows[step_id].output or {})["id"] for step_id in ("task[0]", "task[1]")}
        third = rows["task[2]"].output or {}
        await uow.session.delete(await uow.session.get(Task, third["id"]))
        await uow.session.delete(rows["task[2]"])
        await uow.session.delete(rows["each"])
        run.state, run.finished_at, run.lease_owner = "running", None, "died"
        run.lease_expires_at = run.next_attempt_at = utcnow() - timedelta(seconds=1)

    assert await executor(quiet_db, outbound_http, "second-worker").run_once() == 1
    async with quiet_db.reader() as session:
        finished = await session.get(FlowRun, run.id)
        assert finished is not None
        assert finished.state == "succeeded"
        after = {
            row.step_id: row
            for row in await session.scalars(select(StepRun).where(StepRun.run_id == run.id))
        }
    assert {step_id: (after[step_id].output or {})["id"] for step_id in done} == done
    assert all(after[step_id].attempts == 1 for step_id in ("task[0]", "task[1]", "task[2]"))
    assert (after["task[2]"].output or {})["id"] != third["id"]
    assert after["each"].output == {"count": 3}
    assert await _tasks(quiet_db, quiet_tenant) == ["Gil a", "Gil b", "Gil c"]
