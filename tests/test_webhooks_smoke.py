import json

import httpx
from highlevel.webhook.webhook_manager import WebhookManager
from standardwebhooks.webhooks import Webhook

from tests.receiver import Receiver, wait_for
from tests.support import Tenant


async def test_contact_create_is_delivered_signed(
    client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver
) -> None:
    path = f"/{tenant.location_id}"
    created = await client.post("/webhooks", json={"url": receiver.url(path)})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    contact = await client.post("/contacts/", json={"firstName": "Ann", "email": "a@x.io"})
    assert contact.status_code == 201
    await wait_for(lambda: len(receiver.bodies(path)) >= 1)
    arrival = [a for a in receiver.arrivals if a.path == path][0]
    payload = Webhook(secret).verify(arrival.body, arrival.headers)
    assert payload["type"] == "ContactCreate"
    assert payload["id"] == contact.json()["contact"]["id"]
    key = (await client.get("/webhooks/public-key")).json()["publicKey"]
    verifier = WebhookManager.__new__(WebhookManager)
    verifier.logger = type("L", (), {"debug": print, "warn": print, "error": print})()
    assert verifier.verify_ed25519_signature(
        arrival.body.decode(), arrival.headers["x-ghl-signature"], key
    )
    assert json.loads(arrival.body)["webhookId"] == arrival.headers["webhook-id"]
