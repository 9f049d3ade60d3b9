"""API1:2023 Broken Object Level Authorization. The Contacts API's cross-location checks
(every contact, task, note, business and appointment route; bulk operations; searches; naming
another locationId is 403) are in tests/contacts/test_tenancy.py. Here: webhook endpoints,
their deliveries and the event log, whose ids are no more reachable from another location."""

import httpx

from tests.conftest import TenantFactory
from tests.contacts.helpers import assert_error, client_for, create_contact, json_of, without_trace
from tests.receiver import Receiver
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant

MISSING = "doesNotExist0000000000000"


async def _endpoint_with_a_delivery(http: httpx.AsyncClient, receiver: Receiver) -> tuple[str, str]:
    """An endpoint of the client's location with one test delivery: their ids."""
    created = await http.post("/webhooks", json={"url": receiver.url("/b"), "description": "B"})
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["endpoint"]["id"]
    sent = await http.post(f"/webhooks/{endpoint_id}/test")
    assert sent.status_code == 202, sent.text
    return endpoint_id, sent.json()["delivery"]["id"]


async def test_another_locations_webhook_ids_are_not_found(
    client: httpx.AsyncClient, server: LiveServer, new_tenant: TenantFactory, receiver: Receiver
) -> None:
    other = await new_tenant()
    async with client_for(server, other) as theirs:
        endpoint_id, delivery_id = await _endpoint_with_a_delivery(theirs, receiver)
        before = json_of(await theirs.get(f"/webhooks/{endpoint_id}"))
        mine = json_of(await client.post("/webhooks", json={"url": receiver.url("/a")}))
        my_endpoint = mine["endpoint"]["id"]
        deliveries = "/webhooks/{id}/deliveries"
        for method, path, body in [
            ("GET", "/webhooks/{id}", None),
            ("PUT", "/webhooks/{id}", {"url": receiver.url("/stolen"), "enabled": False}),
            ("DELETE", "/webhooks/{id}", None),
            ("POST", "/webhooks/{id}/rotate-secret", None),
            ("GET", deliveries, None),
            ("POST", "/webhooks/{id}/recover", {"since": "2020-01-01T00:00:00Z"}),
            ("POST", "/webhooks/{id}/test", None),
            ("GET", f"{deliveries}/{delivery_id}/attempts", None),
            ("POST", f"{deliveries}/{delivery_id}/resend", None),
        ]:
            seen = await client.request(method, path.format(id=endpoint_id), json=body)
            missing = await client.request(method, path.format(id=MISSING), json=body)
            assert_error(seen, 404)
            assert without_trace(json_of(seen)) == without_trace(json_of(missing)), path
        # B's delivery id under A's own endpoint is not found either.
        for method, path in [
            ("GET", f"/webhooks/{my_endpoint}/deliveries/{delivery_id}/attempts"),
            ("POST", f"/webhooks/{my_endpoint}/deliveries/{delivery_id}/resend"),
        ]:
            assert_error(await client.request(method, path), 404)
        listed = json_of(await client.get("/webhooks"))["endpoints"]
        assert [endpoint["id"] for endpoint in listed] == [my_endpoint]
        after = json_of(await theirs.get(f"/webhooks/{endpoint_id}"))
        assert after == before


async def test_the_event_log_shows_only_the_callers_location(
    client: httpx.AsyncClient, tenant: Tenant, server: LiveServer, new_tenant: TenantFactory
) -> None:
    other = await new_tenant()
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=other.headers
    ) as theirs:
        await create_contact(theirs, firstName="Bea")
        their_events = json_of(await theirs.get("/events"))["events"]
    assert their_events
    await create_contact(client, firstName="Ann")
    mine = json_of(await client.get("/events", params={"after": 0, "limit": 1000}))["events"]
    assert mine
    assert {event["locationId"] for event in mine} == {tenant.location_id}
    assert not {event["id"] for event in mine} & {event["id"] for event in their_events}
    # The per-location sequence numbers leak nothing of the other location's activity.
    assert [event["seq"] for event in mine] == list(range(1, len(mine) + 1))
