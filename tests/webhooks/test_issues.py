"""The issues inbox over the API, fed by real deliveries to a receiver on loopback: a
receiver that fails opens its endpoint's issue (IssueOpened in the log), every failed
attempt counts and names its delivery, the next delivery that succeeds resolves it
(IssueResolved), and only the endpoints that pick these events get them; a person
acknowledges, resolves and re-opens through the API; scopes and another location's issues
are refused."""

import json
from collections.abc import Callable

import httpx

from tests.conftest import TenantFactory
from tests.receiver import Receiver, wait_for
from tests.support import LiveServer, api_client
from tests.webhooks.helpers import (
    Json,
    add_endpoint,
    assert_error,
    create_contact,
    deliveries,
    json_of,
    log_events,
    poll,
)


async def issues_of(client: httpx.AsyncClient, **params: str) -> list[Json]:
    response = await client.get("/issues", params=params)
    assert response.status_code == 200, response.text
    rows: list[Json] = json_of(response)["issues"]
    return rows


async def test_a_failing_receiver_opens_an_issue_that_its_recovery_resolves(
    client: httpx.AsyncClient, hook: Receiver, receivers: Callable[[], Receiver]
) -> None:
    endpoint, _ = await add_endpoint(client, hook.url(), eventTypes=["ContactCreate"])
    team = receivers()
    await add_endpoint(client, team.url(), eventTypes=["IssueOpened", "IssueResolved"])
    everything, _ = await add_endpoint(client, team.url("/everything"))
    hook.fail_next(*[500] * 20)
    await create_contact(client, firstName="Ann")
    [failed] = await poll(
        lambda: deliveries(client, endpoint["id"]),
        lambda rows: len(rows) == 1 and rows[0]["state"] == "failed",
    )
    [issue] = await issues_of(client)
    assert issue["kind"] == "webhook_endpoint"
    assert issue["subjectId"] == endpoint["id"]
    assert issue["subject"] == hook.url()
    assert issue["status"] == "open"
    assert issue["count"] == failed["attempts"] > 1
    assert issue["lastError"].startswith("answered 500")
    detail = json_of(await client.get(f"/issues/{issue['id']}"))
    assert {row["recordId"] for row in detail["recentFailures"]} == {failed["id"]}
    assert len(detail["recentFailures"]) == failed["attempts"]

    hook.plan.clear()
    await create_contact(client, firstName="Bob")
    [resolved] = await poll(lambda: issues_of(client), lambda rows: rows[0]["status"] == "resolved")
    assert resolved["resolvedAt"] is not None
    logged = [e for e in await log_events(client) if e["type"].startswith("Issue")]
    assert [e["type"] for e in logged] == ["IssueOpened", "IssueResolved"]
    assert logged[0]["subjectId"] == issue["id"]
    assert logged[1]["payload"]["resolvedBy"] == "recovery"
    await wait_for(lambda: len(team.bodies()) == 2)
    told = [json.loads(body)["type"] for body in team.bodies()]
    assert told == ["IssueOpened", "IssueResolved"]
    # Fanned out with the IssueResolved just delivered: every delivery there will be is made.
    sent = [row["eventType"] for row in await deliveries(client, everything["id"])]
    assert sorted(sent) == ["ContactCreate", "ContactCreate"]


async def test_a_person_acknowledges_resolves_and_reopens_through_the_api(
    server: LiveServer, client: httpx.AsyncClient, new_tenant: TenantFactory, hook: Receiver
) -> None:
    endpoint, _ = await add_endpoint(client, hook.url(), eventTypes=["ContactCreate"])
    hook.fail_next(410)
    await create_contact(client, firstName="Ann")
    [issue] = await poll(lambda: issues_of(client), lambda rows: len(rows) == 1)
    here = f"/issues/{issue['id']}"

    acknowledged = json_of(await client.post(f"{here}/acknowledge"))
    assert acknowledged["status"] == "acknowledged"
    assert await issues_of(client, status="open") == []
    assert [row["id"] for row in await issues_of(client, status="acknowledged")] == [issue["id"]]
    assert json_of(await client.post(f"{here}/resolve"))["status"] == "resolved"
    assert json_of(await client.post(f"{here}/reopen"))["status"] == "open"
    types = [e["type"] for e in await log_events(client) if e["type"].startswith("Issue")]
    assert types == ["IssueOpened", "IssueResolved", "IssueOpened"]

    assert_error(await client.get("/issues", params={"status": "closed"}), 422, "status")
    assert_error(await client.get("/issues", params={"cursor": "nope"}), 422, "cursor")
    assert (await client.get("/issues/nope")).status_code == 404
    other = await new_tenant()
    async with api_client(server.base_url, other.headers) as theirs:
        assert (await theirs.get(here)).status_code == 404
        assert (await theirs.post(f"{here}/resolve")).status_code == 404
        assert await issues_of(theirs) == []
    reader = await new_tenant(scopes=("issues.readonly",))
    async with api_client(server.base_url, reader.headers) as read_only:
        assert (await read_only.get("/issues")).status_code == 200
        refused = await read_only.post(f"/issues/{issue['id']}/resolve")
        assert refused.status_code == 401, refused.text
    assert endpoint["id"] == issue["subjectId"]
