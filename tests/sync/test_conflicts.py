"""A field whose policy is `manual`, changed on both sides: nothing is written to it, one
open conflict waits (brought up to date when a side changes again) while the pair's other
fields sync; a person resolves it through the API, the kept value reaches the other side
once and the log settles. The pair's history tells what the sync carried."""

import httpx
from sqlalchemy import func, select

from contactflow.platform.db import Database
from contactflow.platform.event_types import CONTACT_UPDATE, SYNC_CONFLICT
from contactflow.platform.events import Event
from contactflow.sync.models import SyncLink
from tests.contacts.helpers import create_contact, get_contact
from tests.mailsuite.helpers import error_lines, json_of, poll
from tests.support import Tenant, cli_output
from tests.sync.helpers import SYNCS, Json, settled, wait_backfilled

MAIL = "/mailsuite/v1/contacts"
MAPPING = [
    {"crm": "firstName", "mailsuite": "firstName", "conflict": "manual"},
    {"crm": "lastName", "mailsuite": "lastName"},
    {"crm": "email", "mailsuite": "email"},
]


async def _count(db: Database, location_id: str, event_type: str) -> int:
    async with db.reader() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.location_id == location_id, Event.type == event_type)
        )
    return found or 0


async def _while_paused(
    client: httpx.AsyncClient, sync_id: str, *changes: tuple[str, Json]
) -> None:
    """Changes made while the sync waits, so it reads them together: both sides changed."""
    assert (await client.post(f"{SYNCS}/{sync_id}/pause")).status_code == 200
    for path, body in changes:
        response = await client.put(path, json=body)
        assert response.status_code == 200, response.text
    assert (await client.post(f"{SYNCS}/{sync_id}/resume")).status_code == 200


async def _open(client: httpx.AsyncClient, sync_id: str) -> list[Json]:
    response = await client.get(f"{SYNCS}/{sync_id}/conflicts", params={"state": "open"})
    assert response.status_code == 200, response.text
    rows: list[Json] = json_of(response)["conflicts"]
    return rows


async def _mail(client: httpx.AsyncClient, mail_id: str) -> Json:
    contact: Json = json_of(await client.get(f"{MAIL}/{mail_id}"))["contact"]
    return contact


async def test_a_manual_conflict_waits_for_a_person_and_settles_once_resolved(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    ada = await create_contact(client, firstName="Ada", lastName="B", email="ada@example.com")
    created = await client.post(SYNCS, json={"mapping": MAPPING})
    assert created.status_code == 201, created.text
    sync_id = json_of(created)["sync"]["id"]
    await wait_backfilled(client, sync_id)
    async with db.reader() as session:
        mail_id = await session.scalar(
            select(SyncLink.mailsuite_id).where(SyncLink.crm_id == ada["id"])
        )
    assert mail_id is not None
    crm_path, mail_path = f"/contacts/{ada['id']}", f"{MAIL}/{mail_id}"

    await _while_paused(
        client,
        sync_id,
        (crm_path, {"firstName": "Augusta", "lastName": "King"}),
        (mail_path, {"firstName": "Ada L."}),
    )
    [held] = await poll(lambda: _open(client, sync_id), lambda rows: len(rows) == 1)
    assert (held["field"], held["crmValue"], held["mailsuiteValue"]) == (
        "firstName",
        "Augusta",
        "Ada L.",
    )
    await poll(lambda: _mail(client, mail_id), lambda contact: contact["lastName"] == "King")
    assert (await _mail(client, mail_id))["firstName"] == "Ada L."
    assert (await get_contact(client, ada["id"]))["firstName"] == "Augusta"
    assert json_of(await client.get(f"{SYNCS}/{sync_id}"))["sync"]["openConflicts"] == 1

    # A side changing again brings the same conflict up to date.
    await _while_paused(client, sync_id, (crm_path, {"firstName": "Augusta A."}))
    [again] = await poll(
        lambda: _open(client, sync_id), lambda rows: rows[0]["crmValue"] == "Augusta A."
    )
    assert again["id"] == held["id"]
    await settled(db, sync_id, tenant.location_id)

    resolve = f"{SYNCS}/{sync_id}/conflicts/{held['id']}/resolve"
    assert any(
        line.startswith("keep")
        for line in error_lines(await client.post(resolve, json={"keep": "left"}), 422)
    )
    assert error_lines(await client.post(resolve, json={"keep": "crm", "value": "x"}), 422)
    missing = await client.post(f"{SYNCS}/{sync_id}/conflicts/nope/resolve", json={"keep": "crm"})
    assert missing.status_code == 404
    done = await client.post(resolve, json={"keep": "mailsuite"})
    assert done.status_code == 200, done.text
    assert json_of(done)["conflict"]["state"] == "resolved"
    assert json_of(done)["conflict"]["chosen"] == "mailsuite"
    assert (await client.post(resolve, json={"keep": "crm"})).status_code == 409
    assert (await get_contact(client, ada["id"]))["firstName"] == "Ada L."
    await settled(db, sync_id, tenant.location_id)
    updates, conflicts = (
        await _count(db, tenant.location_id, CONTACT_UPDATE),
        await _count(db, tenant.location_id, SYNC_CONFLICT),
    )
    assert await _open(client, sync_id) == []
    assert json_of(await client.get(f"{SYNCS}/{sync_id}"))["sync"]["openConflicts"] == 0
    assert (await _mail(client, mail_id))["firstName"] == "Ada L."
    # Held, brought up to date, resolved: three conflict events, and nothing came back.
    assert conflicts == 3
    await settled(db, sync_id, tenant.location_id)
    assert await _count(db, tenant.location_id, CONTACT_UPDATE) == updates

    history = await client.get(f"{SYNCS}/{sync_id}/links/{ada['id']}/history")
    assert history.status_code == 200, history.text
    changes = json_of(history)["changes"]
    seen = [(c["direction"], c["fields"], c["result"]) for c in changes]
    assert seen[0] == ("mailsuiteToCrm", ["firstName"], "written")
    assert ("both", ["firstName"], "conflict") in seen
    assert ("crmToMailsuite", ["lastName"], "written") in seen
    other = await client.get(f"{SYNCS}/{sync_id}/links/none/history")
    assert other.status_code == 404


async def test_a_person_may_keep_a_value_of_their_own(
    database_url: str, db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    tags = [{"crm": "tags", "mailsuite": "customFields.tags", "conflict": "manual"}]
    cy = await create_contact(client, email="cy@example.com", tags=["a"])
    sync_id = json_of(await client.post(SYNCS, json={"mapping": [*MAPPING[2:], *tags]}))["sync"][
        "id"
    ]
    await wait_backfilled(client, sync_id)
    async with db.reader() as session:
        mail_id = await session.scalar(
            select(SyncLink.mailsuite_id).where(SyncLink.crm_id == cy["id"])
        )
    await _while_paused(
        client,
        sync_id,
        (f"/contacts/{cy['id']}", {"tags": ["b"]}),
        (f"{MAIL}/{mail_id}", {"customFields": {"tags": "c"}}),
    )
    [held] = await poll(lambda: _open(client, sync_id), lambda rows: len(rows) == 1)
    resolve = f"{SYNCS}/{sync_id}/conflicts/{held['id']}/resolve"
    wrong = await client.post(resolve, json={"keep": "value", "value": "b"})
    assert error_lines(wrong, 422) == ["value: tags takes a list of texts"]
    location = ("--location", tenant.location_id)
    listed = await cli_output(database_url, "sync", "conflicts", sync_id, *location)
    assert held["id"] in listed
    assert '["b"]' in listed
    done = await cli_output(
        database_url,
        "sync",
        "resolve",
        sync_id,
        held["id"],
        *location,
        "--keep",
        "value",
        "--value",
        '["b", "c"]',
    )
    assert done == f"conflict {held['id']} resolved: tags kept from value"
    assert (await get_contact(client, cy["id"]))["tags"] == ["b", "c"]
    assert (await _mail(client, str(mail_id)))["customFields"]["tags"] == "b, c"
    await settled(db, sync_id, tenant.location_id)
    assert await _open(client, sync_id) == []
