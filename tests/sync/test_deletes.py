"""A contact deleted on one side under each delete policy: `propagate` deletes its partner
(both ways) and the link; `ignore` keeps the partner and is no finding; `hold` keeps it
until a person approves (the partner is deleted) or rejects (it stays); a decided delete is
not decided twice; a reconciliation afterwards finds nothing."""

import httpx
from sqlalchemy import func, select

from contactflow.mailsuite import contacts as mailsuite
from contactflow.platform.db import Database
from contactflow.sync.models import SyncLink
from tests.contacts.helpers import create_contact
from tests.mailsuite.helpers import error_lines, json_of, poll
from tests.support import Tenant
from tests.sync.helpers import SYNCS, Json, settled, wait_backfilled
from tests.sync.test_reconciliations import NO_FINDINGS, reconciled

MAIL = "/mailsuite/v1/contacts"


async def _synced(client: httpx.AsyncClient, policy: str, *names: str) -> tuple[str, list[str]]:
    made = [(await create_contact(client, email=f"{name}@example.com"))["id"] for name in names]
    created = await client.post(SYNCS, json={"onDelete": policy})
    sync: Json = json_of(created)["sync"]
    assert sync["onDelete"] == policy
    await wait_backfilled(client, sync["id"])
    return sync["id"], made


async def _partner(db: Database, sync_id: str, crm_id: str) -> str | None:
    async with db.reader() as session:
        return await session.scalar(
            select(SyncLink.mailsuite_id).where(
                SyncLink.sync_id == sync_id, SyncLink.crm_id == crm_id
            )
        )


async def _links(db: Database, sync_id: str) -> int:
    async with db.reader() as session:
        count = await session.scalar(
            select(func.count()).select_from(SyncLink).where(SyncLink.sync_id == sync_id)
        )
    return count or 0


async def _gone(client: httpx.AsyncClient, path: str) -> None:
    await poll(lambda: client.get(path), lambda response: response.status_code == 404)


async def test_propagate_deletes_the_partner_both_ways(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sync_id, (ann, ben) = await _synced(client, "propagate", "ann", "ben")
    ann_mail, ben_mail = await _partner(db, sync_id, ann), await _partner(db, sync_id, ben)
    assert (await client.delete(f"/contacts/{ann}")).status_code == 200
    await _gone(client, f"{MAIL}/{ann_mail}")
    assert ben_mail is not None
    async with db.unit_of_work() as uow:  # Mailsuite's own delete (its API has none)
        await mailsuite.delete_contact(uow, tenant.location_id, ben_mail)
    await _gone(client, f"/contacts/{ben}")
    await settled(db, sync_id, tenant.location_id)
    assert await _links(db, sync_id) == 0
    assert (await reconciled(client, sync_id))["found"] == NO_FINDINGS


async def test_ignore_keeps_the_partner_and_finds_nothing(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sync_id, (cat,) = await _synced(client, "ignore", "cat")
    cat_mail = await _partner(db, sync_id, cat)
    assert (await client.delete(f"/contacts/{cat}")).status_code == 200
    await settled(db, sync_id, tenant.location_id)
    assert (await client.get(f"{MAIL}/{cat_mail}")).status_code == 200
    checked = await reconciled(client, sync_id)
    assert (checked["found"], checked["inSync"]) == (NO_FINDINGS, 0)


async def test_hold_waits_for_a_person_to_approve_or_reject(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sync_id, (dan, eli) = await _synced(client, "hold", "dan", "eli")
    dan_mail, eli_mail = await _partner(db, sync_id, dan), await _partner(db, sync_id, eli)
    await client.delete(f"/contacts/{dan}")
    await client.delete(f"/contacts/{eli}")
    here = f"{SYNCS}/{sync_id}/held-deletes"

    async def waiting() -> list[Json]:
        found: list[Json] = json_of(await client.get(here, params={"state": "held"}))["heldDeletes"]
        return found

    held = await poll(waiting, lambda rows: len(rows) == 2)
    by_record = {row["recordId"]: row for row in held}
    assert by_record[dan]["partnerId"] == dan_mail
    assert by_record[dan]["side"] == "crm"
    assert (await client.get(f"{MAIL}/{dan_mail}")).status_code == 200

    approved = await client.post(f"{here}/{by_record[dan]['id']}/approve")
    assert json_of(approved)["heldDelete"]["state"] == "approved"
    assert (await client.get(f"{MAIL}/{dan_mail}")).status_code == 404
    rejected = await client.post(f"{here}/{by_record[eli]['id']}/reject")
    assert json_of(rejected)["heldDelete"]["outcome"] == "its partner is kept"
    assert (await client.get(f"{MAIL}/{eli_mail}")).status_code == 200
    again = await client.post(f"{here}/{by_record[eli]['id']}/approve")
    assert error_lines(again, 409) == ["heldDelete: it was rejected already"]
    assert (await client.post(f"{here}/nothing/approve")).status_code == 404
    assert await waiting() == []

    await settled(db, sync_id, tenant.location_id)
    assert (await reconciled(client, sync_id))["found"] == NO_FINDINGS
