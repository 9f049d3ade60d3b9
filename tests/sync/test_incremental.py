"""Incremental sync from the event log: a change on either side reaches the other once, new
contacts on either side are linked, and the sync's own writes coming back are recognised, so
the event log settles (no loop)."""

from typing import Any

import httpx
from sqlalchemy import func, select

from contactflow.platform.db import Database
from contactflow.platform.event_types import CONTACT_UPDATE, MAILSUITE_CONTACT_UPSERT
from contactflow.platform.events import Event
from contactflow.sync.models import Sync
from contactflow.sync.pairs import pairs_for
from tests.contacts.helpers import create_contact, get_contact
from tests.mailsuite.helpers import json_of, poll
from tests.support import Tenant
from tests.sync.helpers import SYNCS, Json, linked_partner, settled, wait_backfilled

MAIL = "/mailsuite/v1/contacts"


async def _mail(client: httpx.AsyncClient, contact_id: str) -> Json:
    response = await client.get(f"{MAIL}/{contact_id}")
    assert response.status_code == 200, response.text
    contact: Json = json_of(response)["contact"]
    return contact


async def _events(db: Database, event_type: str, subject_id: str) -> int:
    async with db.reader() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.type == event_type, Event.subject_id == subject_id)
        )
    return count or 0


async def test_changes_on_each_side_propagate_once_and_settle(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    ada = await create_contact(
        client, firstName="Ada", lastName="Lovelace", email="ada@example.com", tags=["vip"]
    )
    sync_id = json_of(await client.post(SYNCS, json={}))["sync"]["id"]
    await wait_backfilled(client, sync_id)
    mail_id = await linked_partner(db, sync_id, ada["id"])

    changed = await client.put(
        f"/contacts/{ada['id']}", json={"firstName": "Augusta", "tags": ["vip", "math"]}
    )
    assert changed.status_code == 200, changed.text

    def augusta(contact: Json) -> bool:
        tags = {"tags": "vip, math"}
        return bool(contact["firstName"] == "Augusta" and contact["customFields"] == tags)

    await poll(lambda: _mail(client, mail_id), augusta)

    changed = await client.put(f"{MAIL}/{mail_id}", json={"lastName": "King"})
    assert changed.status_code == 200, changed.text
    await poll(lambda: get_contact(client, ada["id"]), lambda c: c["lastName"] == "King")

    bob = await create_contact(client, firstName="Bob", email="bob@example.com")
    bob_mail = await _mail(client, await linked_partner(db, sync_id, bob["id"]))
    assert bob_mail["firstName"] == "Bob"
    cy = await client.post(MAIL, json={"email": "cy@example.com", "firstName": "Cy"})
    assert cy.status_code == 201, cy.text

    async def cy_in_crm() -> list[Any]:
        found = await client.get("/contacts/", params={"query": "cy@example.com"})
        contacts: list[Any] = json_of(found)["contacts"]
        return contacts

    [crm_cy] = await poll(cy_in_crm, lambda found: len(found) == 1)
    assert crm_cy["firstName"] == "Cy"

    await settled(db, sync_id, tenant.location_id)
    # Ada: our change, then the sync's write of the last name; its Mailsuite contact: made by
    # the backfill, the sync's write of the first name and tags, our change.
    assert await _events(db, CONTACT_UPDATE, ada["id"]) == 2
    assert await _events(db, MAILSUITE_CONTACT_UPSERT, mail_id) == 3
    # Whatever carries it, a record as the sync last wrote it is no change to sync.
    async with db.unit_of_work() as uow:
        sync = await uow.session.get(Sync, sync_id)
        assert sync is not None
        pairs = pairs_for(uow, sync, "US")
        assert (await pairs.changed("mailsuite", mail_id, "mailsuite")).kind == "unchanged"
        assert (await pairs.changed("crm", ada["id"], "crm")).kind == "unchanged"


async def test_a_paused_sync_syncs_its_waiting_changes_when_resumed(
    db: Database, client: httpx.AsyncClient
) -> None:
    dee = await create_contact(client, firstName="Dee", email="dee@example.com")
    sync_id = json_of(await client.post(SYNCS, json={"direction": "crmToMailsuite"}))["sync"]["id"]
    await wait_backfilled(client, sync_id)
    mail_id = await linked_partner(db, sync_id, dee["id"])

    paused = await client.post(f"{SYNCS}/{sync_id}/pause")
    assert json_of(paused)["sync"]["status"] == "paused"
    await client.put(f"/contacts/{dee['id']}", json={"firstName": "Deirdre"})
    # One way only: a Mailsuite change stays there.
    await client.put(f"{MAIL}/{mail_id}", json={"lastName": "Mailsuite"})
    resumed = await client.post(f"{SYNCS}/{sync_id}/resume")
    assert json_of(resumed)["sync"]["status"] == "active"

    contact = await poll(lambda: _mail(client, mail_id), lambda c: c["firstName"] == "Deirdre")
    assert contact["lastName"] == "Mailsuite"
    assert (await get_contact(client, dee["id"]))["lastName"] is None


async def test_a_change_a_side_refuses_is_reported_and_the_sync_goes_on(
    db: Database, client: httpx.AsyncClient
) -> None:
    eve = await create_contact(client, firstName="Eve", email="eve@example.com")
    fay = await create_contact(client, firstName="Fay", email="fay@example.com")
    sync_id = json_of(await client.post(SYNCS, json={"direction": "crmToMailsuite"}))["sync"]["id"]
    await wait_backfilled(client, sync_id)
    fay_mail = await linked_partner(db, sync_id, fay["id"])
    # An address only Mailsuite has (a one-way sync makes no contact of it)...
    taken = await client.post(MAIL, json={"email": "taken@example.com"})
    assert taken.status_code == 201, taken.text
    # ...given to Eve: Mailsuite refuses it for Eve's Mailsuite contact.
    await client.put(f"/contacts/{eve['id']}", json={"email": "taken@example.com"})
    await client.put(f"/contacts/{fay['id']}", json={"firstName": "Faith"})

    async def fetch() -> Json:
        body: Json = json_of(await client.get(f"{SYNCS}/{sync_id}"))["sync"]
        return body

    sync = await poll(fetch, lambda found: found["lastError"] is not None)
    assert sync["lastError"].startswith(f"crm record {eve['id']}: ")
    assert "taken@example.com already exists" in sync["lastError"]
    await poll(lambda: _mail(client, fay_mail), lambda c: c["firstName"] == "Faith")
    history = json_of(await client.get(f"{SYNCS}/{sync_id}/links/{eve['id']}/history"))
    [refused] = history["changes"]
    assert (refused["direction"], refused["result"]) == ("crmToMailsuite", "refused")
    assert "taken@example.com already exists" in refused["reason"]
