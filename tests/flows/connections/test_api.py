"""/connections: the built-in connections, create / change / delete with write-only secrets,
refusals naming their field, scopes; and testing a connection's scopes against a live server
with a key that may only read contacts."""

import httpx

from contactflow.platform.db import Database
from tests.flows.helpers import Hub
from tests.mailsuite.helpers import error_lines
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, make_tenant


async def test_every_location_has_its_local_connections(hub: Hub) -> None:
    listed = (await hub.get("/connections"))["connections"]
    assert [(row["kind"], row["auth"], row["builtin"]) for row in listed] == [
        ("contacts", "local", True),
        ("mailsuite", "local", True),
    ]
    # Listing again makes no more of them.
    assert len((await hub.get("/connections"))["connections"]) == 2
    builtin = listed[0]["id"]
    assert (await hub.post(f"/connections/{builtin}/test", status=200)) == {
        "ok": True,
        "scopes": [],
    }
    await hub.call("DELETE", f"/connections/{builtin}", 400)
    await hub.call("PUT", f"/connections/{builtin}", 400, json={"name": "Mine"})


async def test_create_change_and_delete_with_write_only_secrets(hub: Hub) -> None:
    created = await hub.post(
        "/connections",
        {
            "name": "Billing API",
            "kind": "http",
            "auth": "basic",
            "baseUrl": "http://127.0.0.1:9/api/",
            "username": "billing",
            "password": "s3cret-basic",
        },
    )
    connection = created["connection"]
    assert "s3cret-basic" not in str(created)
    assert connection["hasSecret"] is True
    assert connection["baseUrl"] == "http://127.0.0.1:9/api"
    path = f"/connections/{connection['id']}"
    changed = await hub.call(
        "PUT", path, 200, json={"auth": "header", "headerName": "X-Key", "headerValue": "hv-1"}
    )
    assert changed["connection"]["auth"] == "header"
    assert "hv-1" not in str(changed)
    got = await hub.get(path)
    assert got["connection"]["headerName"] == "X-Key"
    await hub.call("DELETE", path, 204)
    await hub.call("GET", path, 404)


async def test_refusals_name_the_field(hub: Hub) -> None:
    cases = [
        (
            {"name": "x", "kind": "contacts", "auth": "apiKey", "baseUrl": "http://127.0.0.1:9"},
            "apiKey: required for auth apiKey",
        ),
        ({"name": "x", "kind": "contacts", "auth": "apiKey"}, "baseUrl: required"),
        (
            {
                "name": "x",
                "kind": "http",
                "auth": "bearer",
                "baseUrl": "http://127.0.0.1:9",
                "apiKey": "k",
            },
            "apiKey: only for auth apiKey",
        ),
        (
            {
                "name": "x",
                "kind": "http",
                "auth": "none",
                "baseUrl": "http://127.0.0.1:9",
                "webhookPublicKey": "nope",
            },
            "webhookPublicKey: not a PEM public key",
        ),
        (
            {
                "name": "x",
                "kind": "http",
                "auth": "none",
                "baseUrl": "http://127.0.0.1:9",
                "poll": 5,
            },
            "poll: only a contacts connection can be polled",
        ),
        ({"name": "x", "kind": "http", "auth": "none", "baseUrl": "ftp://127.0.0.1"}, "baseUrl:"),
    ]
    for body, message in cases:
        response = await hub.http.post("/connections", json=body)
        lines = error_lines(response, 422)
        assert any(line.startswith(message) for line in lines), (body, lines)


async def test_connections_need_their_scopes(flows_server: LiveServer, flows_db: Database) -> None:
    reader = await make_tenant(flows_db, scopes=("connections.readonly",))
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=flows_server.base_url, headers=reader.headers
    ) as http:
        assert (await http.get("/connections")).status_code == 200
        refused = await http.post("/connections", json={"name": "x"})
        assert "connections.write" in error_lines(refused, 401)[0]


async def test_testing_a_connection_reports_each_scope(
    hub: Hub, server: LiveServer, db: Database
) -> None:
    remote = await make_tenant(db, scopes=("contacts.readonly",))
    created = await hub.post(
        "/connections",
        {
            "name": "Read-only key",
            "kind": "contacts",
            "auth": "apiKey",
            "baseUrl": server.base_url,
            "apiKey": remote.key,
            "scopes": ["contacts.readonly", "contacts.write"],
        },
    )
    report = await hub.post(f"/connections/{created['connection']['id']}/test", status=200)
    assert report["ok"] is False
    assert [(row["scope"], row["ok"], row["status"]) for row in report["scopes"]] == [
        ("contacts.readonly", True, 200),
        ("contacts.write", False, 401),
    ]
    assert "contacts.write" in report["scopes"][1]["message"]


async def test_a_flow_naming_a_connection_the_location_lacks_does_not_publish(
    hub: Hub, flows_db: Database
) -> None:
    elsewhere = await make_tenant(flows_db)
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=str(hub.http.base_url), headers=elsewhere.headers
    ) as other:
        theirs = (await other.get("/connections")).json()["connections"][0]["id"]
    ours = (await hub.get("/connections"))["connections"][0]["id"]

    def definition(trigger_connection: str, step_connection: str) -> dict[str, object]:
        call = {"url": "/contacts/", "connectionId": step_connection}
        return {
            "trigger": {
                "key": "contacts.contact.created",
                "options": {"connectionId": trigger_connection},
            },
            "steps": [
                {"type": "action", "id": "call", "action": "core.http.request", "input": call}
            ],
        }

    body = {"name": "Remote", "definition": definition("no-such-connection", theirs)}
    flow = (await hub.post("/flows", body))["flow"]
    refused = await hub.http.post(f"/flows/{flow['id']}/publish")
    assert error_lines(refused, 422) == [
        "trigger.options.connectionId: no connection 'no-such-connection' in this location",
        f"steps.call.input.connectionId: no connection '{theirs}' in this location",
    ]
    await hub.call("PUT", f"/flows/{flow['id']}", 200, json={"definition": definition(ours, ours)})
    await hub.post(f"/flows/{flow['id']}/publish", status=200)


async def test_a_connection_a_published_flow_uses_is_not_deleted(hub: Hub) -> None:
    created = await hub.post(
        "/connections",
        {"name": "Billing", "kind": "http", "auth": "none", "baseUrl": "http://127.0.0.1:9/"},
    )
    connection_id = created["connection"]["id"]
    call = {"url": "/ping", "connectionId": connection_id}
    definition = {
        "trigger": {"key": "contacts.contact.created"},
        "steps": [{"type": "action", "id": "call", "action": "core.http.request", "input": call}],
    }
    flow = (await hub.post("/flows", {"name": "Ping <billing>", "definition": definition}))["flow"]
    # A draft does not hold the connection; a published version does.
    await hub.post("/flows", {"name": "Draft", "definition": definition})
    await hub.post(f"/flows/{flow['id']}/publish", status=200)
    refused = await hub.http.delete(f"/connections/{connection_id}")
    assert error_lines(refused, 409) == [
        "The connection is used by published flows: 'Ping <billing>'"
    ]
    await hub.call("GET", f"/connections/{connection_id}", 200)
    await hub.call("DELETE", f"/flows/{flow['id']}", 204)
    await hub.call("DELETE", f"/connections/{connection_id}", 204)
