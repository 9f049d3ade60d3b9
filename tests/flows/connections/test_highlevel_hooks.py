"""Webhooks from a remote account: the remote server's own signed deliveries land in the
log and trigger a flow listening to that connection (and not one listening to this
workspace); bad or missing signatures are refused with nothing stored; a repeated webhookId
is acknowledged once more and ignored."""

import base64
import json

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contactflow.platform.db import Database
from tests.flows.connections.helpers import event_count, remote_events
from tests.flows.helpers import Hub
from tests.mailsuite.helpers import poll
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant


def _flow(connection_id: str | None) -> dict[str, object]:
    options = {"connectionId": connection_id} if connection_id else {}
    return {
        "trigger": {"key": "contacts.contact.created", "options": options},
        "steps": [
            {
                "type": "action",
                "id": "task",
                "action": "mailsuite.task.create",
                "input": {"title": "Call {{ trigger.firstName }}"},
            }
        ],
    }


async def _hook_connection(hub: Hub, public_key: str, **more: object) -> str:
    body = {
        "name": "HighLevel",
        "kind": "contacts",
        "auth": "none",
        "baseUrl": "http://127.0.0.1:9",
        "webhookPublicKey": public_key,
        **more,
    }
    created = await hub.post("/connections", body)
    return str(created["connection"]["id"])


async def test_the_remote_servers_signed_webhooks_trigger_the_connections_flow(
    hub: Hub, server: LiveServer, tenant: Tenant, client: httpx.AsyncClient, flows_db: Database
) -> None:
    public_key = (await client.get("/webhooks/public-key")).json()["publicKey"]
    connection_id = await _hook_connection(hub, public_key)
    remote_flow = await hub.flow(_flow(connection_id), name="Remote contacts")
    local_flow = await hub.flow(_flow(None), name="Local contacts")
    endpoint = await client.post(
        "/webhooks",
        json={
            "url": str(hub.http.base_url.join(f"/hooks/highlevel/{connection_id}")),
            "eventTypes": ["ContactCreate"],
        },
    )
    assert endpoint.status_code == 201, endpoint.text
    made = await client.post("/contacts/", json={"firstName": "Rita", "email": "rita@remote.io"})
    assert made.status_code == 201, made.text

    events = await poll(
        lambda: remote_events(flows_db, hub.tenant.location_id, connection_id),
        lambda found: len(found) == 1,
    )
    assert events[0].type == "ContactCreate"
    assert events[0].payload["id"] == made.json()["contact"]["id"]
    assert events[0].payload["locationId"] == tenant.location_id
    runs = await hub.finished_runs(remote_flow["id"])
    assert [run["state"] for run in runs] == ["succeeded"]
    tasks = await hub.mail_tasks()
    assert [task["title"] for task in tasks] == ["Call Rita"]
    # A local contact triggers the local flow only.
    await hub.crm_contact(firstName="Lou")
    assert len(await hub.finished_runs(local_flow["id"])) == 1
    assert len(await hub.runs(remote_flow["id"])) == 1
    assert len(await hub.runs(local_flow["id"])) == 1


async def test_signatures_are_checked_and_repeats_ignored(hub: Hub, flows_db: Database) -> None:
    key = Ed25519PrivateKey.generate()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    connection_id = await _hook_connection(hub, pem)
    location = hub.tenant.location_id
    body = json.dumps(
        {
            "type": "TaskCreate",
            "locationId": "remote-location",
            "id": "task-1",
            "contactId": "contact-1",
            "title": "Call back",
            "webhookId": "wh-1",
        }
    ).encode()
    signature = base64.b64encode(key.sign(body)).decode()
    path = f"/hooks/highlevel/{connection_id}"
    before = await event_count(flows_db, location)

    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=str(hub.http.base_url)
    ) as anonymous:
        other = base64.b64encode(Ed25519PrivateKey.generate().sign(body)).decode()
        for headers in ({}, {"x-ghl-signature": other}, {"x-ghl-signature": "not base64!"}):
            refused = await anonymous.post(path, content=body, headers=headers)
            assert refused.status_code == 401, refused.text
        tampered = body.replace(b"Call back", b"Call me")
        refused = await anonymous.post(
            path, content=tampered, headers={"x-ghl-signature": signature}
        )
        assert refused.status_code == 401, refused.text
        assert await event_count(flows_db, location) == before

        for expected in (True, False):
            accepted = await anonymous.post(
                path, content=body, headers={"x-ghl-signature": signature}
            )
            assert accepted.status_code == 200, accepted.text
            assert accepted.json() == {"received": True, "stored": expected}
        unknown = await anonymous.post(
            "/hooks/highlevel/nosuchconnection",
            content=body,
            headers={"x-ghl-signature": signature},
        )
        assert unknown.status_code == 401
    events = await remote_events(flows_db, location, connection_id)
    assert [(event.type, event.subject_id) for event in events] == [("TaskCreate", "contact-1")]
    assert events[0].payload["title"] == "Call back"
    assert await event_count(flows_db, location) == before + 1
