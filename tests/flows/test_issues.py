"""A flow step that fails opens its issue, named by the flow and step and linked to the
runs behind it; the step's next success in a later run resolves it."""

from collections.abc import Iterator

import pytest

from tests.flows.helpers import Hub, Json
from tests.receiver import Receiver, running_receiver
from tests.webhooks.helpers import poll


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


async def test_a_failing_step_opens_an_issue_and_its_next_success_resolves_it(
    hub: Hub, receiver: Receiver
) -> None:
    receiver.fail_next(503)
    step = {
        "type": "action",
        "id": "notify",
        "action": "core.http.request",
        "input": {"method": "POST", "url": receiver.url()},
    }
    flow = await hub.flow({"trigger": {"key": "contacts.contact.created"}, "steps": [step]})
    await hub.crm_contact(name="Ada", email="ada@example.com")
    [failed] = await hub.finished_runs(flow["id"])
    assert failed["state"] == "failed"

    [issue] = (await hub.get("/issues"))["issues"]
    assert issue["kind"] == "flow_step"
    assert issue["subjectId"] == f"{flow['id']}/notify"
    assert issue["flowId"] == flow["id"]
    assert issue["subject"] == "step notify (core.http.request)"
    assert (issue["status"], issue["count"]) == ("open", 1)
    detail = await hub.get(f"/issues/{issue['id']}")
    assert [row["recordId"] for row in detail["recentFailures"]] == [failed["id"]]
    assert [row["record"] for row in detail["recentFailures"]] == ["run"]

    await hub.crm_contact(name="Bob", email="bob@example.com")

    async def issues() -> list[Json]:
        rows: list[Json] = (await hub.get("/issues"))["issues"]
        return rows

    [resolved] = await poll(issues, lambda rows: rows[0]["status"] == "resolved", within=15)
    assert resolved["count"] == 1
    types = [event["type"] for event in (await hub.get("/events", limit=1000))["events"]]
    assert [name for name in types if name.startswith("Issue")] == ["IssueOpened", "IssueResolved"]
