"""Idempotency-Key: a retried write gets the first response back and takes effect once; a key
reused for another request is refused; keys belong to the credential that sent them."""

import asyncio

import httpx

from contactflow.platform.auth.api_keys import create_key
from contactflow.platform.auth.scopes import DEFAULT_KEY_SCOPES
from contactflow.platform.db import Database
from tests.conftest import TenantFactory
from tests.contacts.helpers import assert_error, client_for, count_contacts, create_contact
from tests.support import LiveServer, Tenant

REPLAYED = "idempotent-replayed"


async def test_same_key_same_body_replays_the_first_response(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "create-ann-1"}
    body = {"firstName": "Ann", "email": "ann@x.io", "tags": ["a"]}
    first = await client.post("/contacts/", json=body, headers=headers)
    assert first.status_code == 201
    assert REPLAYED not in first.headers
    for _ in range(2):
        again = await client.post("/contacts/", json=body, headers=headers)
        assert again.status_code == 201
        assert again.headers[REPLAYED] == "true"
        assert again.content == first.content
        assert again.headers["content-type"] == first.headers["content-type"]
    assert await count_contacts(client) == 1
    # Without the key the same body is a new request (and here a duplicate).
    assert_error(await client.post("/contacts/", json=body), 400)


async def test_replay_covers_updates_deletes_and_upserts(client: httpx.AsyncClient) -> None:
    contact = await create_contact(client, firstName="Ann", email="ann@x.io")
    path = f"/contacts/{contact['id']}"

    tagged = await client.post(
        f"{path}/tags", json={"tags": ["once"]}, headers={"Idempotency-Key": "t"}
    )
    await client.request("DELETE", f"{path}/tags", json={"tags": ["once"]})
    tagged_again = await client.post(
        f"{path}/tags", json={"tags": ["once"]}, headers={"Idempotency-Key": "t"}
    )
    assert tagged_again.headers[REPLAYED] == "true"
    assert tagged_again.json() == tagged.json() == {"tags": ["once"]}
    # The replay did not add the tag again.
    assert (await client.get(path)).json()["contact"]["tags"] == []

    upsert = {"email": "new@x.io", "firstName": "New"}
    created = await client.post("/contacts/upsert", json=upsert, headers={"Idempotency-Key": "u"})
    replayed = await client.post("/contacts/upsert", json=upsert, headers={"Idempotency-Key": "u"})
    assert (created.status_code, replayed.status_code) == (201, 201)
    assert replayed.json() == created.json()
    assert replayed.json()["new"] is True

    deleted = await client.delete(path, headers={"Idempotency-Key": "d"})
    deleted_again = await client.delete(path, headers={"Idempotency-Key": "d"})
    assert deleted.status_code == deleted_again.status_code == 200
    assert deleted_again.headers[REPLAYED] == "true"
    assert deleted_again.content == deleted.content
    assert_error(await client.delete(path, headers={"Idempotency-Key": "d2"}), 404)
    assert await count_contacts(client) == 1


async def test_same_key_different_request_is_422(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "reused"}
    first = await client.post("/contacts/", json={"firstName": "Ann"}, headers=headers)
    assert first.status_code == 201
    other_body = await client.post("/contacts/", json={"firstName": "Bob"}, headers=headers)
    assert_error(other_body, 422, "Idempotency-Key")
    other_path = await client.post("/contacts/upsert", json={"firstName": "Ann"}, headers=headers)
    assert_error(other_path, 422, "Idempotency-Key")
    other_method = await client.put(
        f"/contacts/{first.json()['contact']['id']}", json={"firstName": "Ann"}, headers=headers
    )
    assert_error(other_method, 422, "Idempotency-Key")
    assert await count_contacts(client) == 1
    contacts = (await client.get("/contacts/")).json()["contacts"]
    assert [contact["firstName"] for contact in contacts] == ["Ann"]


async def test_keys_are_per_credential(
    server: LiveServer,
    client: httpx.AsyncClient,
    tenant: Tenant,
    new_tenant: TenantFactory,
    db: Database,
) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    body = {"firstName": "Ann", "email": "ann@x.io"}
    mine = await client.post("/contacts/", json=body, headers=headers)
    assert mine.status_code == 201

    other = await new_tenant()
    async with client_for(server, other) as http:
        theirs = await http.post("/contacts/", json=body, headers=headers)
        assert theirs.status_code == 201
        assert REPLAYED not in theirs.headers
        assert theirs.json()["contact"]["id"] != mine.json()["contact"]["id"]
        assert theirs.json()["contact"]["locationId"] == other.location_id
        assert await count_contacts(http) == 1
        # Within that credential the key is now bound to its own first request.
        different = await http.post("/contacts/", json={"firstName": "Zed"}, headers=headers)
        assert_error(different, 422, "Idempotency-Key")

    # A second key of the same location is another credential: its key space is its own.
    async with db.unit_of_work() as uow:
        _, second_key = await create_key(uow, tenant.location_id, list(DEFAULT_KEY_SCOPES))
    second = Tenant(
        company_id=tenant.company_id,
        location_id=tenant.location_id,
        key=second_key,
        user_ids=tenant.user_ids,
        calendar_id=tenant.calendar_id,
    )
    async with client_for(server, second) as http:
        fresh = await http.post("/contacts/", json={"firstName": "Bob"}, headers=headers)
        assert fresh.status_code == 201
        assert REPLAYED not in fresh.headers
    assert await count_contacts(client) == 2


async def test_concurrent_retries_take_effect_once(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "burst"}
    body = {"firstName": "Burst"}
    responses = await asyncio.gather(
        *(client.post("/contacts/", json=body, headers=headers) for _ in range(6))
    )
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {201, 409}, [response.text for response in responses]
    done = [response for response in responses if response.status_code == 201]
    assert done
    assert len({response.content for response in done}) == 1
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409)
    assert await count_contacts(client) == 1
