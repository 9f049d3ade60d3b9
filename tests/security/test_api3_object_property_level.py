"""API3:2023 Broken Object Property Level Authorization: the properties a server owns (`id`,
`locationId`, `dateAdded`, ...) cannot be written through a body, references in a body to
another location's objects are refused, unknown properties are a 422 rather than silently
kept, and responses carry no secret beyond the one moment it is issued."""

from typing import Any

import httpx

from tests.conftest import TenantFactory
from tests.contacts.helpers import assert_error, client_for, create_contact, get_contact, json_of
from tests.receiver import Receiver
from tests.support import LiveServer, Tenant

LOCATION_DENIED = "The token does not have access to this location"


async def test_server_owned_contact_properties_cannot_be_written(
    client: httpx.AsyncClient, tenant: Tenant, new_tenant: TenantFactory, server: LiveServer
) -> None:
    other = await new_tenant()
    contact = await create_contact(client, firstName="Ann", email="ann@a.io")
    path = f"/contacts/{contact['id']}"
    owned: dict[str, Any] = {
        "id": "chosenByTheCaller000000001",
        "locationId": other.location_id,
        "dateAdded": "2000-01-01T00:00:00.000Z",
        "dateUpdated": "2000-01-01T00:00:00.000Z",
        "emailLowerCase": "someone@else.io",
        "followers": other.user_ids,
        "isAdmin": True,
    }
    for name, value in owned.items():
        assert_error(await client.put(path, json={"firstName": "X", name: value}), 422, name)
        for write in ("/contacts/", "/contacts/upsert"):
            response = await client.post(write, json={"email": "n@a.io", name: value})
            if name == "locationId":
                # Create and upsert take a locationId: naming another is forbidden.
                assert assert_error(response, 403)["message"] == LOCATION_DENIED
            else:
                assert_error(response, 422, name)
    assert await get_contact(client, contact["id"]) == contact
    listed = json_of(await client.get("/contacts/"))
    assert [item["id"] for item in listed["contacts"]] == [contact["id"]]
    async with client_for(server, other) as theirs:
        assert json_of(await theirs.get("/contacts/"))["meta"]["total"] == 0


async def test_references_to_another_locations_objects_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, new_tenant: TenantFactory, server: LiveServer
) -> None:
    other = await new_tenant()
    async with client_for(server, other) as theirs:
        business = json_of(await theirs.post("/businesses/", json={"name": "B"}))["business"]
    contact = await create_contact(client, firstName="Ann")
    path = f"/contacts/{contact['id']}"
    for body in (
        {"assignedTo": other.user_ids[0]},
        {"businessId": business["id"]},
    ):
        response = await client.put(path, json=body)
        assert response.status_code in (400, 404, 422), (body, response.text)
        created = await client.post("/contacts/", json={"firstName": "Z", **body})
        assert created.status_code in (400, 404, 422), (body, created.text)
    followers = await client.post(f"{path}/followers", json={"followers": other.user_ids})
    assert followers.status_code in (400, 404, 422), followers.text
    assert await get_contact(client, contact["id"]) == contact


async def test_webhook_endpoints_keep_their_location_and_hide_their_secret(
    client: httpx.AsyncClient, tenant: Tenant, new_tenant: TenantFactory, receiver: Receiver
) -> None:
    other = await new_tenant()
    created = json_of(await client.post("/webhooks", json={"url": receiver.url("/p")}))
    endpoint = created["endpoint"]
    assert created["secret"]
    path = f"/webhooks/{endpoint['id']}"
    for name, value in (
        ("locationId", other.location_id),
        ("id", "chosenByTheCaller000000001"),
        ("secret", "whsec_chosenByTheCaller"),
        ("createdAt", "2000-01-01T00:00:00.000Z"),
    ):
        assert_error(await client.put(path, json={name: value}), 422, name)
        assert_error(
            await client.post("/webhooks", json={"url": receiver.url("/q"), name: value}),
            422,
            name,
        )
    # The signing secret is shown once, at creation (and rotation), never when read.
    read = json_of(await client.get(path))
    assert read == {"endpoint": endpoint}
    listed = json_of(await client.get("/webhooks"))
    assert listed == {"endpoints": [endpoint]}
    assert created["secret"] not in str(read) + str(listed)
