"""How each sync trigger of the built-in app is caused for the generated catalog tests: a
sync of the test's location, backfilled, then a record a side refuses, a field changed on
both sides while it was paused, a reconciliation, links lost behind its back."""

from sqlalchemy import delete

from contactflow.sync.models import SyncLink
from tests.flows.catalog_triggers import cause
from tests.flows.catalog_world import World
from tests.flows.helpers import Json
from tests.mailsuite.helpers import poll
from tests.sync.helpers import linked_partner

SYNCS = "/sync/v1/syncs"
MAIL = "/mailsuite/v1/contacts"
SYNC_TRIGGERS = (
    "core.sync.failed",
    "core.sync.conflict",
    "core.sync.reconciliation_finished",
    "core.sync.drift_found",
)


async def _backfilled(w: World) -> str:
    """A two-way sync of the location's contacts, its backfill finished."""
    sync_id: str = (await w.hub.post(SYNCS, {}))["sync"]["id"]

    async def fetch() -> Json:
        body: Json = (await w.hub.get(f"{SYNCS}/{sync_id}"))["sync"]
        return body

    await poll(fetch, lambda sync: sync["backfill"]["state"] == "finished", within=30)
    return sync_id


async def _reconciled(w: World, sync_id: str) -> str:
    made = await w.hub.post(f"{SYNCS}/{sync_id}/reconciliations", status=202)
    here = f"{SYNCS}/{sync_id}/reconciliations/{made['reconciliation']['id']}"

    async def fetch() -> Json:
        body: Json = (await w.hub.get(here))["reconciliation"]
        return body

    await poll(fetch, lambda found: found["state"] == "finished", within=30)
    return str(made["reconciliation"]["id"])


@cause("core.sync.failed")
async def _(w: World, flow: Json) -> Json:
    contact = await w.contact()
    sync_id = await _backfilled(w)
    await linked_partner(w.db, sync_id, contact["id"], within=30)
    await w.hub.post(f"{SYNCS}/{sync_id}/pause", status=200)
    # The contact takes an address first, then Mailsuite's new contact has it too: Mailsuite
    # refuses the address to the contact's partner.
    taken = f"{w.unique('taken')}@example.com"
    await w.hub.call("PUT", f"/contacts/{contact['id']}", 200, json={"email": taken})
    await w.hub.post(MAIL, {"email": taken})
    await w.hub.post(f"{SYNCS}/{sync_id}/resume", status=200)
    return {"syncId": sync_id, "side": "crm", "recordId": contact["id"]}


@cause("core.sync.conflict")
async def _(w: World, flow: Json) -> Json:
    contact = await w.contact()
    sync_id = await _backfilled(w)
    partner = await linked_partner(w.db, sync_id, contact["id"], within=30)
    await w.hub.post(f"{SYNCS}/{sync_id}/pause", status=200)
    await w.hub.call("PUT", f"/contacts/{contact['id']}", 200, json={"firstName": "Augusta"})
    await w.hub.call("PUT", f"{MAIL}/{partner}", 200, json={"firstName": "Ada B."})
    await w.hub.post(f"{SYNCS}/{sync_id}/resume", status=200)
    return {
        "syncId": sync_id,
        "crmId": contact["id"],
        "mailsuiteId": partner,
        "winners": {"firstName": "mailsuite"},
    }


@cause("core.sync.reconciliation_finished")
async def _(w: World, flow: Json) -> Json:
    await w.contact()
    sync_id = await _backfilled(w)
    reconciliation_id = await _reconciled(w, sync_id)
    return {"syncId": sync_id, "reconciliationId": reconciliation_id, "findings": 0}


@cause("core.sync.drift_found")
async def _(w: World, flow: Json) -> Json:
    contact = await w.contact()
    sync_id = await _backfilled(w)
    await linked_partner(w.db, sync_id, contact["id"], within=30)
    async with w.db.unit_of_work() as uow:
        await uow.session.execute(delete(SyncLink).where(SyncLink.sync_id == sync_id))
    reconciliation_id = await _reconciled(w, sync_id)
    found = {"missingInCrm": 1, "missingInMailsuite": 1, "differs": 0, "conflict": 0, "orphan": 0}
    return {"syncId": sync_id, "reconciliationId": reconciliation_id, "found": found}
