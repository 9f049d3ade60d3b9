"""The reads and the create serialise their wire dicts straight to JSON (ADR 0012): the bytes
must be those the response models give, for a contact with every kind of value a field can
hold (text beyond ASCII, numbers, nested objects, tags, followers)."""

import httpx

from contactflow.contacts import search, service
from contactflow.contacts.schemas import (
    ContactEnvelope,
    ContactList,
    ListMeta,
    SearchBody,
    SearchedContact,
    SearchResult,
)
from contactflow.contacts.wire import contact_out
from contactflow.platform.db import Database
from tests.support import Tenant

FULL = {
    "firstName": "Zoë",
    "lastName": 'Ångström \u2014 "quoted" \\ tab\t',
    "email": "zoe.wire@example.com",
    "phone": "+14155550199",
    "companyName": "Søren & Co </script>",
    "city": "東京",
    "website": "https://example.com/a?b=c&d=é",
    "tags": ["VIP", "lead", "ünïcode"],
    "dateOfBirth": "1990-02-03",
    "dndSettings": {"Email": {"status": "active", "message": "no mail", "code": "x1"}},
    "customFields": [
        {"id": "text", "value": "ok \U0001f600"},
        {"id": "int", "value": 42},
        {"id": "float", "value": 0.1},
        {"id": "small", "value": 1e-7},
        {"id": "big", "value": 12345678901234567},
        {"id": "flag", "value": True},
        {"id": "list", "value": ["a", "b"]},
        {"id": "object", "value": {"k": "v", "n": 1.5}},
    ],
    "attributionSource": {"url": "https://example.com/landing", "campaign": "spring", "x": 1},
}


async def test_reads_and_create_send_the_bytes_of_their_response_models(
    client: httpx.AsyncClient, tenant: Tenant, db: Database
) -> None:
    created = await client.post("/contacts/", json=FULL)
    assert created.status_code == 201, created.text
    contact_id = created.json()["contact"]["id"]
    followed = await client.post(
        f"/contacts/{contact_id}/followers", json={"followers": tenant.user_ids}
    )
    assert followed.status_code == 201, followed.text
    plain = await client.post("/contacts/", json={"firstName": "Plain"})
    assert plain.status_code == 201, plain.text

    async with db.reader() as session:
        row = await service.find_contact(session, tenant.location_id, contact_id)
        listed = [
            row,
            await service.find_contact(session, tenant.location_id, plain.json()["contact"]["id"]),
        ]
        body = SearchBody.model_validate(
            {"filters": [{"field": "tags", "operator": "eq", "value": "vip"}]}
        )
        page = await search.search_contacts(session, tenant.location_id, body)
        expected_search = SearchResult(
            contacts=[
                SearchedContact(**contact_out(found).model_dump(), search_after=cursor)
                for found, cursor in page.contacts
            ],
            total=page.total,
        ).model_dump_json(by_alias=True)
        created_row = await service.find_contact(
            session, tenant.location_id, plain.json()["contact"]["id"]
        )
        expected_created = ContactEnvelope(contact=contact_out(created_row)).model_dump_json(
            by_alias=True
        )
        expected_one = ContactEnvelope(contact=contact_out(row)).model_dump_json(by_alias=True)

    assert plain.content == expected_created.encode()
    one = await client.get(f"/contacts/{contact_id}")
    assert one.status_code == 200
    assert one.content == expected_one.encode()

    listing = await client.get("/contacts/", params={"limit": 1})
    assert listing.status_code == 200
    meta = ListMeta.model_validate(listing.json()["meta"])
    expected_list = ContactList(contacts=[contact_out(row)], meta=meta)
    assert listing.content == expected_list.model_dump_json(by_alias=True).encode()
    second = await client.get("/contacts/", params={"limit": 1, "startAfterId": contact_id})
    expected_second = ContactList(
        contacts=[contact_out(listed[1])], meta=ListMeta.model_validate(second.json()["meta"])
    )
    assert second.content == expected_second.model_dump_json(by_alias=True).encode()

    searched = await client.post(
        "/contacts/search", json={"filters": [{"field": "tags", "operator": "eq", "value": "vip"}]}
    )
    assert searched.status_code == 200
    assert searched.content == expected_search.encode()
