"""Error policies, conditions, filters, paths, delays and replays on the live server."""

from datetime import datetime

from tests.flows.helpers import Hub, Json
from tests.mailsuite.helpers import poll
from tests.mailsuite.smtpd import Mailbox


def _contact_flow(*steps: Json, conditions: Json | None = None) -> Json:
    definition: Json = {"trigger": {"key": "contacts.contact.created"}, "steps": list(steps)}
    if conditions is not None:
        definition["conditions"] = conditions
    return definition


def _task(step_id: str, title: str, **extra: object) -> Json:
    return {
        "type": "action",
        "id": step_id,
        "action": "mailsuite.task.create",
        "input": {"title": title},
        **extra,
    }


async def test_a_failing_step_is_retried_and_acts_once_when_it_succeeds(
    hub: Hub, smtp: Mailbox
) -> None:
    sender = await hub.mail_sender(smtp.host, smtp.port)
    # The address has unsubscribed: sending to it fails until it subscribes again.
    mail_contact = (
        await hub.post(
            "/mailsuite/v1/contacts",
            {"email": "bea@example.com", "subscriptionStatus": "unsubscribed"},
        )
    )["contact"]
    flow = await hub.flow(
        _contact_flow(
            {
                "type": "action",
                "id": "welcome",
                "action": "mailsuite.email.send",
                "input": {
                    "senderId": sender["id"],
                    "to": "{{ trigger.email }}",
                    "subject": "Welcome",
                    "html": "<p>Hi</p>",
                },
                "onError": {"retries": 20, "backoffSeconds": 0.1},
            }
        )
    )
    await hub.crm_contact(firstName="Bea", email="bea@example.com")

    async def first_run() -> Json:
        runs = await hub.runs(flow["id"])
        return await hub.run(runs[0]["id"]) if runs else {"steps": []}

    failed = await poll(first_run, lambda detail: bool(detail["steps"]))
    (step,) = failed["steps"]
    assert step["state"] == "failed"
    assert "unsubscribed" in step["error"]
    assert failed["run"]["state"] in ("queued", "running")

    await hub.call(
        "PUT",
        f"/mailsuite/v1/contacts/{mail_contact['id']}",
        200,
        json={"subscriptionStatus": "subscribed"},
    )
    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert detail["run"]["state"] == "succeeded"
    (step,) = detail["steps"]
    assert step["state"] == "succeeded"
    assert step["attempts"] >= 2
    assert step["error"] is None
    emails = await hub.mail_emails(contactId=mail_contact["id"])
    assert [email["id"] for email in emails] == [step["output"]["id"]]
    received = await poll(lambda: _value(list(smtp.received)), lambda got: len(got) >= 1)
    assert len(received) == 1


async def _value(value: list[object]) -> list[object]:
    return value


async def test_after_its_retries_a_step_stops_the_run_or_lets_it_continue(hub: Hub) -> None:
    missing = {"type": "action", "id": "change", "action": "mailsuite.task.update"}
    stopping = await hub.flow(
        _contact_flow(
            {**missing, "input": {"taskId": "nope", "title": "x"}},
            _task("after", "never made"),
        )
    )
    continuing = await hub.flow(
        _contact_flow(
            {
                **missing,
                "input": {"taskId": "nope", "title": "x"},
                "onError": {"retries": 1, "backoffSeconds": 0.05, "then": "continue"},
            },
            _task("after", "made anyway"),
        )
    )
    await hub.crm_contact(firstName="Cy", email="cy@example.com")

    (stopped,) = await hub.finished_runs(stopping["id"])
    detail = await hub.run(stopped["id"])
    assert detail["run"]["state"] == "failed"
    assert detail["run"]["error"] == "step change: Task not found"
    failed = (await hub.get("/events", types="FlowRunFailed"))["events"]
    assert [event["payload"]["error"] for event in failed] == ["step change: Task not found"]
    assert [(s["stepId"], s["state"], s["attempts"]) for s in detail["steps"]] == [
        ("change", "failed", 1)
    ]

    (continued,) = await hub.finished_runs(continuing["id"])
    detail = await hub.run(continued["id"])
    assert detail["run"]["state"] == "succeeded"
    assert [(s["stepId"], s["state"], s["attempts"]) for s in detail["steps"]] == [
        ("change", "failed", 2),
        ("after", "succeeded", 1),
    ]
    titles = [task["title"] for task in await hub.mail_tasks()]
    assert titles == ["made anyway"]


async def test_trigger_conditions_choose_which_events_run(hub: Hub) -> None:
    flow = await hub.flow(
        _contact_flow(
            _task("task", "VIP {{ trigger.email }}"),
            conditions={
                "match": "all",
                "conditions": [
                    {"field": "trigger.tags", "operator": "tagPresent", "value": "VIP"},
                    {"field": "trigger.email", "operator": "contains", "value": "@"},
                ],
            },
        )
    )
    await hub.crm_contact(email="plain@example.com", tags=["lead"])
    await hub.crm_contact(email="vip@example.com", tags=["vip"])
    (run,) = await hub.finished_runs(flow["id"])
    assert run["input"]["email"] == "vip@example.com"
    assert [task["title"] for task in await hub.mail_tasks()] == ["VIP vip@example.com"]


async def test_filters_paths_and_delays(hub: Hub) -> None:
    flow = await hub.flow(
        _contact_flow(
            {
                "type": "filter",
                "id": "has_email",
                "conditions": {"conditions": [{"field": "trigger.email", "operator": "exists"}]},
            },
            {
                "type": "paths",
                "id": "route",
                "paths": [
                    {
                        "name": "vip",
                        "conditions": {
                            "conditions": [
                                {"field": "trigger.tags", "operator": "tagPresent", "value": "vip"}
                            ]
                        },
                        "steps": [_task("vip_task", "VIP")],
                    },
                    {
                        "name": "others",
                        "steps": [
                            {"type": "delay", "id": "pause", "for": {"seconds": 0.3}},
                            _task("later_task", "Regular"),
                        ],
                    },
                ],
            },
        )
    )
    await hub.crm_contact(firstName="No", lastName="Email", phone="+14155552671")
    await hub.crm_contact(email="vip@example.com", tags=["vip"])
    await hub.crm_contact(email="reg@example.com")
    runs = await hub.finished_runs(flow["id"], count=3)
    by_email = {run["input"].get("email"): await hub.run(run["id"]) for run in runs}

    filtered = by_email[None]
    assert filtered["run"]["state"] == "succeeded"
    assert [(s["stepId"], s["output"]) for s in filtered["steps"]] == [
        ("has_email", {"passed": False})
    ]
    vip = by_email["vip@example.com"]
    assert [s["stepId"] for s in vip["steps"]] == ["has_email", "route", "vip_task"]
    assert vip["steps"][1]["output"] == {"path": "vip"}
    regular = by_email["reg@example.com"]
    assert [s["stepId"] for s in regular["steps"]] == ["has_email", "route", "pause", "later_task"]
    pause = regular["steps"][2]
    assert pause["state"] == "succeeded"
    resume_at = datetime.fromisoformat(pause["resumeAt"].replace("Z", "+00:00"))
    task_started = regular["steps"][3]["startedAt"]
    assert datetime.fromisoformat(task_started.replace("Z", "+00:00")) >= resume_at
    assert sorted(task["title"] for task in await hub.mail_tasks()) == ["Regular", "VIP"]


async def test_a_replay_runs_the_same_version_again_on_the_same_data(hub: Hub) -> None:
    flow = await hub.flow(_contact_flow(_task("task", "Call {{ trigger.firstName }}")))
    await hub.crm_contact(firstName="Di", email="di@example.com")
    (first,) = await hub.finished_runs(flow["id"])
    replayed = await hub.post(f"/flows/runs/{first['id']}/replay")
    assert replayed["run"]["replayOf"] == first["id"]
    assert replayed["run"]["eventId"] is None
    runs = await hub.finished_runs(flow["id"], count=2)
    assert {run["state"] for run in runs} == {"succeeded"}
    assert [task["title"] for task in await hub.mail_tasks()] == ["Call Di", "Call Di"]
