"""Each contact's wire JSON is stored by the change that makes it (ADR 0025): after every kind
of write the API takes, what a read sends is what the columns, tags and followers make, and
a contact with none stored is read from its columns."""

import httpx
from sqlalchemy import select, update

from contactflow.contacts.models import Contact
from contactflow.platform.db import Database
from tests.contacts.helpers import Json, json_of
from tests.support import Tenant, stale_stored_wires


async def _stored(db: Database, contact_id: str) -> str | None:
    async with db.reader() as session:
        return await session.scalar(select(Contact.wire).where(Contact.id == contact_id))


async def _ok(response: httpx.Response) -> Json:
    assert response.status_code in (200, 201), response.text
    return json_of(response)


async def test_every_write_stores_the_wire_a_read_sends(
    client: httpx.AsyncClient, tenant: Tenant, db: Database
) -> None:
    made = await _ok(
        await client.post(
            "/contacts/", json={"firstName": "Stored", "email": "stored@example.com", "tags": ["a"]}
        )
    )
    contact_id = made["contact"]["id"]
    business = await _ok(
        await client.post(
            "/businesses/", json={"name": "Stored Ltd", "locationId": tenant.location_id}
        )
    )
    business_id = business["business"]["id"]
    writes = [
        (
            "PUT",
            f"/contacts/{contact_id}",
            {"lastName": "Wire", "customFields": [{"id": "k", "value": 1}]},
        ),
        ("POST", f"/contacts/{contact_id}/tags", {"tags": ["b", "c"]}),
        ("DELETE", f"/contacts/{contact_id}/tags", {"tags": ["a"]}),
        ("POST", f"/contacts/{contact_id}/followers", {"followers": tenant.user_ids}),
        ("DELETE", f"/contacts/{contact_id}/followers", {"followers": tenant.user_ids[:1]}),
        ("POST", "/contacts/bulk/tags/update/add", {"contacts": [contact_id], "tags": ["d"]}),
        ("POST", "/contacts/bulk/business", {"ids": [contact_id], "businessId": business_id}),
        ("POST", "/contacts/upsert", {"email": "stored@example.com", "phone": "+14155550123"}),
        ("DELETE", f"/businesses/{business_id}", None),
        (
            "POST",
            "/contacts/bulk/tags/update/remove",
            {"contacts": [contact_id], "tags": [], "removeAllTags": True},
        ),
    ]
    for method, path, body in writes:
        before = await _stored(db, contact_id)
        await _ok(await client.request(method, path, json=body))
        after = await _stored(db, contact_id)
        assert after is not None, f"{method} {path}"
        assert after != before, f"{method} {path} left the stored wire"
        read = await client.get(f"/contacts/{contact_id}")
        assert read.content == f'{{"contact":{after}}}'.encode(), f"{method} {path}"
    final = (await client.get(f"/contacts/{contact_id}")).json()["contact"]
    assert final["lastName"] == "Wire"
    assert final["phone"] == "+14155550123"
    assert final["tags"] == []
    assert final["followers"] == tenant.user_ids[1:]
    assert final["businessId"] is None
    assert contact_id not in await stale_stored_wires(db)


async def test_a_contact_without_a_stored_wire_is_read_from_its_columns(
    client: httpx.AsyncClient, tenant: Tenant, db: Database
) -> None:
    made = await _ok(
        await client.post("/contacts/", json={"firstName": "Unstored", "tags": ["x", "y"]})
    )
    contact_id = made["contact"]["id"]
    await _ok(
        await client.post(f"/contacts/{contact_id}/followers", json={"followers": tenant.user_ids})
    )
    stored = await _stored(db, contact_id)
    async with db.unit_of_work() as uow:
        await uow.session.execute(update(Contact).where(Contact.id == contact_id).values(wire=None))

    one = await client.get(f"/contacts/{contact_id}")
    assert one.content == f'{{"contact":{stored}}}'.encode()
    listed = (await client.get("/contacts/", params={"limit": 100})).json()["contacts"]
    searched = (await _ok(await client.post("/contacts/search", json={"query": "unstored"})))[
        "contacts"
    ]
    assert [c for c in listed if c["id"] == contact_id] == [one.json()["contact"]]
    assert [{k: v for k, v in c.items() if k != "searchAfter"} for c in searched] == [
        one.json()["contact"]
    ]
