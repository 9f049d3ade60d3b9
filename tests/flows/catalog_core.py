"""How each entry of the built-in app, and each record-relative trigger, is tried by the
generated catalog tests: recipes for its actions (registered with the Contacts API's and
Mailsuite's), causes for its triggers, and cases for the steps the engine itself performs."""

import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from contactflow.flows import keyvalue
from contactflow.flows.keyvalue import SeenKey
from contactflow.flows.models import FlowTimer
from contactflow.platform.clock import to_iso, utcnow
from tests.flows.catalog_actions import Case, recipe
from tests.flows.catalog_triggers import cause
from tests.flows.catalog_world import World
from tests.flows.helpers import Json, failing_flow
from tests.mailsuite.helpers import poll
from tests.mailsuite.smtpd import Received

# Data ---------------------------------------------------------------------------------------


@recipe("core.lookup")
async def _(w: World) -> Case:
    async def check(out: Json) -> None:
        assert out == {"result": "VIP", "found": True}

    table = {"gold": "VIP", "silver": "Member"}
    return {"key": "GOLD", "table": table, "caseSensitive": False}, check


@recipe("core.json.parse")
async def _(w: World) -> Case:
    async def check(out: Json) -> None:
        assert out == {"result": {"plan": "gold", "seats": [1, 2]}}

    return {"text": '{"plan": "gold", "seats": [1, 2]}'}, check


@recipe("core.json.build")
async def _(w: World) -> Case:
    async def check(out: Json) -> None:
        assert out["result"] == {"name": "ADA", "seats": 3}
        assert json.loads(out["text"]) == out["result"]

    return {"value": {"name": "{{ 'ada' | upper }}", "seats": 3}}, check


# Formatters ---------------------------------------------------------------------------------


@recipe("core.text.format")
async def _(w: World) -> Case:
    async def check(out: Json) -> None:
        assert out == {
            "result": "Ada King Lovelace",
            "firstName": "Ada",
            "lastName": "King Lovelace",
        }

    return {"operation": "splitName", "value": "  Ada   King Lovelace "}, check


@recipe("core.number.format")
async def _(w: World) -> Case:
    async def check(out: Json) -> None:
        assert out == {"result": "1.234,50"}

    values = {"decimalSeparator": ",", "thousandsSeparator": "."}
    return {"operation": "format", "value": 1234.5, **values}, check


@recipe("core.date.format")
async def _(w: World) -> Case:
    async def check(out: Json) -> None:
        assert out == {"result": "2026-12-03T10:00:00+01:00"}

    return {"operation": "convert", "value": "2026-12-03T09:00:00Z", "timezone": "Europe/Paris"}, (
        check
    )


@recipe("core.phone.format")
async def _(w: World) -> Case:
    async def check(out: Json) -> None:
        assert out == {"result": "+14155550100", "valid": True}

    return {"value": "(415) 555-0100", "region": "US"}, check


# Calls out ----------------------------------------------------------------------------------


@recipe("core.http.request")
async def _(w: World) -> Case:
    path = f"/api/{w.unique('orders')}"

    async def check(out: Json) -> None:
        (arrival,) = [arrival for arrival in w.receiver.arrivals if arrival.path == path]
        assert json.loads(arrival.body) == {"order": 1042}
        assert arrival.headers["authorization"] == "Bearer s3cret"
        assert out["status"] == 200

    auth = {"type": "bearer", "token": "s3cret"}
    return {"method": "POST", "url": w.receiver.url(path), "json": {"order": 1042}, "auth": auth}, (
        check
    )


@recipe("core.webhook.send")
async def _(w: World) -> Case:
    path = f"/hooks/{w.unique('signed')}"
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789").decode()

    async def check(out: Json) -> None:
        (arrival,) = [arrival for arrival in w.receiver.arrivals if arrival.path == path]
        assert Webhook(secret).verify(arrival.body, arrival.headers) == {"plan": "pro"}
        assert arrival.headers["webhook-id"] == out["messageId"]

    return {"url": w.receiver.url(path), "payload": {"plan": "pro"}, "secret": secret}, check


@recipe("core.notify")
async def _(w: World) -> Case:
    team = f"{w.unique('team')}@acme.example.org"

    async def check(out: Json) -> None:
        assert out["count"] == 1

        async def arrived() -> list[Received]:
            return w.mailbox.to(team)

        (message,) = await poll(arrived, bool, within=15)
        assert message.message["Subject"] == "Signup"

    sender = await w.sender()
    return {"senderId": sender["id"], "to": [team], "subject": "Signup", "text": "Hello"}, check


# What flows remember ------------------------------------------------------------------------


async def _stored(w: World, key: str) -> object:
    """The value stored under `key` in the world's location, read from the database (no API
    shows it); None when there is none."""
    async with w.db.unit_of_work() as uow:
        row = await keyvalue.get_value(uow, w.hub.tenant.location_id, key)
        return None if row is None else row.value


async def _store(w: World, key: str, value: object) -> None:
    async with w.db.unit_of_work() as uow:
        await keyvalue.set_value(uow, w.hub.tenant.location_id, key, value)


@recipe("core.storage.get")
async def _(w: World) -> Case:
    key = w.unique("last-order")
    await _store(w, key, {"id": "ord_1"})

    async def check(out: Json) -> None:
        assert out == {"key": key, "value": {"id": "ord_1"}, "found": True}

    return {"key": key}, check


@recipe("core.storage.set")
async def _(w: World) -> Case:
    key = w.unique("last-order")

    async def check(out: Json) -> None:
        assert await _stored(w, key) == ["ord_1", 2]

    return {"key": key, "value": ["ord_1", 2]}, check


@recipe("core.storage.delete")
async def _(w: World) -> Case:
    key = w.unique("last-order")
    await _store(w, key, "ord_1")

    async def check(out: Json) -> None:
        assert out["found"] is True
        assert await _stored(w, key) is None

    return {"key": key}, check


@recipe("core.storage.increment")
async def _(w: World) -> Case:
    key = w.unique("signups")
    await _store(w, key, 41)

    async def check(out: Json) -> None:
        assert out == {"key": key, "value": 43.5}
        assert await _stored(w, key) == 43.5

    return {"key": key, "by": 2.5}, check


@recipe("core.dedupe")
async def _(w: World) -> Case:
    key = w.unique("ada@example.com")

    async def check(out: Json) -> None:
        assert out == {"key": key, "duplicate": False}
        async with w.db.reader() as session:
            assert await session.scalar(select(SeenKey.key).where(SeenKey.key == key)) == key

    return {"key": key, "window": {"hours": 24}}, check


# Triggers without events --------------------------------------------------------------------


@cause("core.manual")
async def _(w: World, flow: Json) -> Json:
    data = {"email": "ada@example.com", "plan": "pro"}
    await w.hub.post(f"/flows/{flow['id']}/run", data)
    return data


HOOK_SECRET = "a-shared-secret-of-some-length"


@cause("core.webhook", secret=HOOK_SECRET)
async def _(w: World, flow: Json) -> Json:
    body = json.dumps({"order": 1042}).encode()
    signature = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Authorization": "", "Content-Type": "application/json"}
    response = await w.hub.http.post(
        flow["hookPath"], content=body, headers={**headers, "X-Signature-256": signature}
    )
    assert response.status_code == 202, response.text
    return {"body": {"order": 1042}}


@cause("core.schedule", cron="0 9 * * 1-5", timezone="Europe/Paris")
async def _(w: World, flow: Json) -> Json:
    # The next weekday at 9 in Paris comes now: the server's timer loop fires it.
    async with w.db.unit_of_work() as uow:
        timer = await uow.session.scalar(select(FlowTimer).where(FlowTimer.flow_id == flow["id"]))
        assert timer is not None
        timer.due_at = utcnow()
    return {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}


async def _failing_flow(w: World, then: str = "stop") -> Json:
    return await w.hub.flow(failing_flow(then=then), name="Failing")


@cause("core.error")
async def _(w: World, flow: Json) -> Json:
    failing = await _failing_flow(w, then="errorFlow")
    await w.hub.call("PUT", f"/flows/{failing['id']}", 200, json={"errorFlowId": flow["id"]})
    await w.hub.post(f"/flows/{failing['id']}/run", {"email": "ada@example.com"})
    return {"flowId": failing["id"], "flowName": "Failing", "stepId": "note"}


@cause("core.flow.run_failed")
async def _(w: World, flow: Json) -> Json:
    failing = await _failing_flow(w)
    await w.hub.post(f"/flows/{failing['id']}/run", {})
    [run] = await w.hub.finished_runs(failing["id"])
    return {
        "flowId": failing["id"],
        "runId": run["id"],
        "trigger": "core.manual",
        "stepId": "note",
        "error": run["error"],
    }


@cause("core.issue.opened", kind="flow_step")
async def _(w: World, flow: Json) -> Json:
    failing = await _failing_flow(w)
    await w.hub.post(f"/flows/{failing['id']}/run", {})
    return {"kind": "flow_step", "subjectId": f"{failing['id']}/note", "reopened": False}


@cause("core.issue.resolved")
async def _(w: World, flow: Json) -> Json:
    failing = await _failing_flow(w)
    await w.hub.post(f"/flows/{failing['id']}/run", {})
    [run] = await w.hub.finished_runs(failing["id"])
    assert run["state"] == "failed", run
    [issue] = (await w.hub.get("/issues"))["issues"]
    await w.hub.post(f"/issues/{issue['id']}/resolve", status=200)
    return {"issueId": issue["id"], "kind": "flow_step", "count": 1, "resolvedBy": "person"}


# Times relative to records ------------------------------------------------------------------


def _soon(minutes: int) -> str:
    return to_iso(utcnow().replace(microsecond=0) + timedelta(minutes=minutes))


def _earlier(moment: str, **before: float) -> str:
    return to_iso(_parsed(moment) - timedelta(**before))


def _parsed(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


@cause("contacts.task.due", before={"hours": 2})
async def _(w: World, flow: Json) -> Json:
    # Due in an hour, 2 h ahead: the planned time has passed, so it fires at once.
    contact = await w.contact()
    due = _soon(60)
    body = {"title": "Send the quote", "dueDate": due, "completed": False}
    task = (await w.hub.post(f"/contacts/{contact['id']}/tasks", body))["task"]
    return {"id": task["id"], "title": "Send the quote", "plannedAt": _earlier(due, hours=2)}


@cause("contacts.appointment.starting", before={"minutes": 30})
async def _(w: World, flow: Json) -> Json:
    contact = await w.contact()
    start = _soon(10)
    body = {
        "calendarId": w.hub.tenant.calendar_id,
        "contactId": contact["id"],
        "startTime": start,
        "title": "Demo",
    }
    await w.hub.post("/calendars/events/appointments", body)
    return {"plannedAt": _earlier(start, minutes=30)}


# Steps the engine performs ------------------------------------------------------------------

# A step's fields (beside `type` and `id`), and what must then hold of the finished run.
StepCheck = Callable[[Json], Awaitable[None]]
STEPS: dict[str, tuple[Json, StepCheck]] = {}


def step(key: str, **fields: object) -> Callable[[StepCheck], StepCheck]:
    def register(function: StepCheck) -> StepCheck:
        STEPS[key] = (dict(fields), function)
        return function

    return register


def _build(step_id: str, value: object) -> Json:
    return {"type": "action", "id": step_id, "action": "core.json.build", "input": {"value": value}}


def _outputs(run: Json) -> dict[str, Json]:
    return {found["stepId"]: found["output"] for found in run["steps"]}


@step(
    "core.filter", conditions={"conditions": [{"field": "trigger.contactId", "operator": "exists"}]}
)
async def _(run: Json) -> None:
    assert _outputs(run)["it"] == {"passed": True}


@step(
    "core.paths",
    paths=[
        {
            "name": "vip",
            "conditions": {"conditions": [{"field": "trigger.contactId", "operator": "notExists"}]},
            "steps": [_build("vip", {"path": "vip"})],
        },
        {"name": "everyone", "steps": [_build("everyone", {"path": "everyone"})]},
    ],
)
async def _(run: Json) -> None:
    outputs = _outputs(run)
    assert outputs["it"] == {"path": "everyone"}
    assert outputs["everyone"]["result"] == {"path": "everyone"}
    assert "vip" not in outputs


@step("core.delay", **{"for": {"seconds": 1}})
async def _(run: Json) -> None:
    # The run waited: a second after it was queued, and it ended only after that.
    resumed = _parsed(_outputs(run)["it"]["resumeAt"])
    assert resumed - _parsed(run["run"]["createdAt"]) >= timedelta(seconds=1)
    assert _parsed(run["run"]["finishedAt"]) >= resumed


@step(
    "core.loop",
    items=["a", "b", "c"],
    steps=[_build("each", {"at": "{{ loop.index }}-{{ loop.item }}"})],
)
async def _(run: Json) -> None:
    outputs = _outputs(run)
    assert outputs["it"] == {"count": 3}
    built = [outputs[f"each[{index}]"]["result"]["at"] for index in range(3)]
    assert built == ["0-a", "1-b", "2-c"]
