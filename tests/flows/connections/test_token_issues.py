"""A connection whose OAuth token no longer refreshes is an issue of the inbox: against a
provider on loopback, a refresh refused (invalid_grant) or a renewed token still refused
counts against the connection, with the runs and tests behind it; the API lists it and the
dashboard links it to the connection with a reconnect hint; a call that works again, after a
refresh that works again, resolves it; a new refusal re-opens it, and connecting again
resolves it. A flow on `core.issue.opened` hears of each opening."""

from collections.abc import Iterator
from contextlib import AbstractContextManager
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.flows.connections.provider import Provider, running_provider
from tests.flows.helpers import Hub, Json
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, live_server
from tests.web.helpers import browser, make_person, signed_in


@pytest.fixture
def provider(flows_settings: Settings) -> Iterator[Provider]:
    with running_provider(flows_settings) as running:
        yield running


async def _connect(hub: Hub, connection_id: str) -> None:
    """Authorize through the provider: its authorization page is skipped, the callback is
    what it would send the browser back to."""
    started = await hub.http.get(f"/connections/{connection_id}/oauth/start")
    assert started.status_code == 302, started.text
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    client = httpx.AsyncClient(base_url=str(hub.http.base_url), timeout=CLIENT_TIMEOUT_SECONDS)
    async with client as back:
        page = await back.get("/connections/oauth/callback", params={"code": "c", "state": state})
    assert page.status_code == 200, page.text


async def _connection(hub: Hub, provider: Provider, token_url: str | None = None) -> str:
    created = await hub.post(
        "/connections",
        {
            "name": "Provider account",
            "kind": "http",
            "auth": "oauth",
            "baseUrl": provider.base_url,
            "clientId": "client-1",
            "clientSecret": "a-client-secret-of-some-length",
            "authorizeUrl": f"{provider.base_url}/oauth/authorize",
            "tokenUrl": token_url or f"{provider.base_url}/oauth/token",
            "scopes": ["contacts.readonly"],
        },
    )
    connection_id = str(created["connection"]["id"])
    await _connect(hub, connection_id)
    return connection_id


async def _remote_flow(hub: Hub, connection_id: str) -> Json:
    """A manual flow whose one step lists the contacts through the connection."""
    step = {
        "type": "action",
        "id": "list",
        "action": "core.http.request",
        "input": {"url": "/contacts/", "connectionId": connection_id},
    }
    return await hub.flow({"trigger": {"key": "core.manual"}, "steps": [step]}, name="Remote")


async def _run(hub: Hub, flow: Json, count: int) -> Json:
    """Run the flow once more; its `count`th run, finished."""
    await hub.post(f"/flows/{flow['id']}/run", {})
    runs = await hub.finished_runs(flow["id"], count=count)
    return max(runs, key=lambda run: str(run["createdAt"]))


async def _issue(hub: Hub) -> Json:
    rows: list[Json] = (await hub.get("/issues"))["issues"]
    [issue] = [row for row in rows if row["kind"] == "connection"]
    return issue


async def test_a_token_that_no_longer_refreshes_opens_the_connections_issue_until_it_works(
    hub: Hub, provider: Provider, flows_db: Database
) -> None:
    connection_id = await _connection(hub, provider)
    flow = await _remote_flow(hub, connection_id)
    # The team's flow: told of the connections' issues only (the step's own is another kind).
    seen = {"type": "filter", "id": "seen", "conditions": {"conditions": []}}
    trigger = {"key": "core.issue.opened", "options": {"kind": "connection"}}
    notifier = await hub.flow({"trigger": trigger, "steps": [seen]}, name="Tell the team")
    assert (await _run(hub, flow, 1))["state"] == "succeeded"
    assert (await hub.get("/issues"))["issues"] == []

    # The provider revokes the token and refuses to renew it.
    provider.revoke()
    provider.refusing_refresh = True
    refused = await _run(hub, flow, 2)
    assert refused["state"] == "failed"
    issue = await _issue(hub)
    assert issue["subjectId"] == connection_id
    assert issue["subject"] == "Provider account"
    assert (issue["status"], issue["count"]) == ("open", 1)
    assert issue["lastError"] == "The token endpoint refused: invalid_grant"
    assert issue["firstFailedAt"] == issue["lastFailedAt"]
    location = hub.tenant.location_id
    connection_page = f"/app/l/{location}/connections#connection-{connection_id}"
    connect_page = f"/app/l/{location}/connections/{connection_id}/connect"
    assert (issue["subjectUrl"], issue["reconnectUrl"]) == (connection_page, connect_page)
    [told] = await hub.finished_runs(notifier["id"])
    assert told["input"]["issueId"] == issue["id"]
    assert (told["input"]["kind"], told["input"]["reopened"]) == ("connection", False)
    assert told["input"]["lastError"] == "The token endpoint refused: invalid_grant"

    # It renews the token again, but refuses the renewed one too.
    provider.refusing_refresh, provider.refusing_tokens = False, True
    still = await _run(hub, flow, 3)
    assert still["state"] == "failed"
    issue = await _issue(hub)
    assert (issue["status"], issue["count"]) == ("open", 2)
    assert issue["lastError"].startswith("The renewed token was refused too: 401")
    assert issue["firstFailedAt"] < issue["lastFailedAt"]
    detail = await hub.get(f"/issues/{issue['id']}")
    assert [(row["record"], row["recordId"]) for row in detail["recentFailures"]] == [
        ("run", still["id"]),
        ("run", refused["id"]),
    ]

    person = await make_person(flows_db, location)
    async with browser(str(hub.http.base_url)) as http:
        await signed_in(http, person)
        inbox = await http.get(f"/app/l/{location}/issues")
        assert f'data-issue-id="{issue["id"]}"' in inbox.text
        assert "Provider account" in inbox.text
        assert f'href="{connect_page}">Reconnect the connection</a>' in inbox.text
        page = await http.get(f"/app/l/{location}/issues/{issue['id']}")
        assert f'href="{connection_page}"' in page.text
        assert f'href="{connect_page}"' in page.text
        for run in (refused, still):
            assert f'href="/app/l/{location}/runs/{run["id"]}"' in page.text
        listing = await http.get(connection_page.split("#")[0])
        assert f'id="connection-{connection_id}"' in listing.text

    # Renewing works again and the renewed token is taken: the issue resolves.
    provider.refusing_tokens = False
    provider.revoke()
    refreshes = provider.refreshes
    assert (await _run(hub, flow, 4))["state"] == "succeeded"
    assert provider.refreshes == refreshes + 1
    resolved = await _issue(hub)
    assert (resolved["id"], resolved["status"], resolved["count"]) == (issue["id"], "resolved", 2)
    assert resolved["reconnectUrl"] is None

    # Refused again: the same issue re-opens; a connection test counts too.
    provider.revoke()
    provider.refusing_refresh = True
    assert (await _run(hub, flow, 5))["state"] == "failed"
    report = await hub.post(f"/connections/{connection_id}/test", status=200)
    assert report["ok"] is False, report
    reopened = await _issue(hub)
    assert (reopened["id"], reopened["status"], reopened["count"]) == (issue["id"], "open", 4)
    detail = await hub.get(f"/issues/{issue['id']}")
    assert detail["recentFailures"][0]["record"] == "test"
    assert detail["recentFailures"][0]["recordId"] == connection_id

    # Connecting again is the remedy the inbox gives: it resolves the issue.
    provider.refusing_refresh = False
    await _connect(hub, connection_id)
    assert (await _issue(hub))["status"] == "resolved"
    logged = [
        (event["type"], event["payload"].get("reopened"), event["payload"].get("resolvedBy"))
        for event in (await hub.get("/events", types="IssueOpened,IssueResolved"))["events"]
        if event["payload"]["kind"] == "connection"
    ]
    told_again = await hub.finished_runs(notifier["id"], count=2)
    assert sorted(run["input"]["reopened"] for run in told_again) == [False, True]
    assert logged == [
        ("IssueOpened", False, None),
        ("IssueResolved", None, "recovery"),
        ("IssueOpened", True, None),
        ("IssueResolved", None, "recovery"),
    ]


def _token_relay(settings: Settings, provider: Provider) -> AbstractContextManager[LiveServer]:
    """A server of its own in front of the provider's token endpoint, which a test stops to
    make that endpoint unreachable."""

    async def relay(request: Request) -> Response:
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS) as http:
            answer = await http.post(
                f"{provider.base_url}/oauth/token", data=dict(await request.form())
            )
        return Response(answer.content, answer.status_code, media_type="application/json")

    return live_server(
        settings, app=Starlette(routes=[Route("/oauth/token", relay, methods=["POST"])])
    )


async def test_a_token_endpoint_down_or_out_of_reach_opens_the_issue_without_asking_to_reconnect(
    hub: Hub, provider: Provider, flows_settings: Settings, flows_db: Database
) -> None:
    with _token_relay(flows_settings, provider) as relay:
        connection_id = await _connection(hub, provider, f"{relay.base_url}/oauth/token")
        flow = await _remote_flow(hub, connection_id)
        provider.revoke()
        provider.unavailable = True
        assert (await _run(hub, flow, 1))["state"] == "failed"
        issue = await _issue(hub)
        assert (issue["subjectId"], issue["status"], issue["count"]) == (connection_id, "open", 1)
        assert issue["lastError"] == "The token endpoint could not answer: 503"
        assert issue["reconnectUrl"] is None
    provider.unavailable = False
    assert (await _run(hub, flow, 2))["state"] == "failed"
    issue = await _issue(hub)
    assert (issue["status"], issue["count"]) == ("open", 2)
    assert issue["lastError"].startswith("The token endpoint could not be reached")
    # Connecting again would not help: the inbox does not ask for it.
    assert issue["reconnectUrl"] is None
    location = hub.tenant.location_id
    async with browser(str(hub.http.base_url)) as http:
        await signed_in(http, await make_person(flows_db, location))
        inbox = await http.get(f"/app/l/{location}/issues")
        assert f'data-issue-id="{issue["id"]}"' in inbox.text
        assert "Reconnect the connection" not in inbox.text
        page = await http.get(f"/app/l/{location}/issues/{issue['id']}")
        assert "could not be renewed" in page.text
        assert f"/connections/{connection_id}/connect" not in page.text

    # The endpoint's address is put right, which asks for the connection to be authorized
    # again; until it is, its calls count against the issue, and connecting resolves it.
    token_url = f"{provider.base_url}/oauth/token"
    await hub.call("PUT", f"/connections/{connection_id}", 200, json={"tokenUrl": token_url})
    assert (await _run(hub, flow, 3))["state"] == "failed"
    unauthorized = await _issue(hub)
    assert (unauthorized["status"], unauthorized["count"]) == ("open", 3)
    assert unauthorized["reconnectUrl"] == f"/app/l/{location}/connections/{connection_id}/connect"
    await _connect(hub, connection_id)
    assert (await _issue(hub))["status"] == "resolved"
    assert (await _run(hub, flow, 4))["state"] == "succeeded"
