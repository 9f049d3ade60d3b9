"""Reconciliations as a user meets them: rows changed, unlinked and deleted in the database
behind the sync's back are found (a difference, a conflict, a record missing on each side,
an orphan link), listed a page at a time, repaired one at once and the rest as a job, and a
second reconciliation finds nothing; changes waiting in the event log are not judged; a sync
still backfilling, another location's sync, a bad filter are refused naming the field; a
scheduled reconciliation runs on its own."""

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, update

from contactflow.contacts.models import Contact
from contactflow.mailsuite.models import MailContact
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.sync.models import Sync, SyncLink
from tests.conftest import TenantFactory
from tests.contacts.helpers import create_contact, get_contact
from tests.mailsuite.helpers import error_lines, json_of, poll
from tests.support import LiveServer, Tenant, api_client, cli_output
from tests.sync.helpers import SYNCS, Json, paused_sync, settled, wait_backfilled

MAIL = "/mailsuite/v1/contacts"
NO_FINDINGS = {
    "missingInCrm": 0,
    "missingInMailsuite": 0,
    "differs": 0,
    "conflict": 0,
    "orphan": 0,
}


async def _links(db: Database, sync_id: str) -> dict[str, str]:
    """CRM id -> Mailsuite id of the sync's pairs."""
    async with db.reader() as session:
        rows = await session.execute(SyncLink.__table__.select().where(SyncLink.sync_id == sync_id))
        return {row.crm_id: row.mailsuite_id for row in rows}


async def reconciled(client: httpx.AsyncClient, sync_id: str) -> Json:
    """A reconciliation asked for and waited on until it has finished."""
    made = await client.post(f"{SYNCS}/{sync_id}/reconciliations")
    assert made.status_code == 202, made.text
    started: Json = json_of(made)["reconciliation"]
    here = f"{SYNCS}/{sync_id}/reconciliations/{started['id']}"

    async def fetch() -> Json:
        body: Json = json_of(await client.get(here))["reconciliation"]
        return body

    return await poll(fetch, lambda found: found["state"] == "finished", within=30)


async def _findings(client: httpx.AsyncClient, sync_id: str, reconciliation_id: str) -> list[Json]:
    """Every finding, two to a page."""
    found: list[Json] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(
            f"{SYNCS}/{sync_id}/reconciliations/{reconciliation_id}/findings", params=params
        )
        body = json_of(page)
        found += body["findings"]
        cursor = body["nextCursor"]
        if cursor is None:
            return found


async def _drift(db: Database, pairs: dict[str, str], ids: dict[str, str]) -> None:
    """What a person or a script does to the tables directly, with no event."""
    later = utcnow() + timedelta(minutes=1)
    async with db.unit_of_work() as uow:
        run = uow.session.execute
        # Ada's Mailsuite first name changes: a difference (Mailsuite's side changed).
        await run(
            update(MailContact)
            .where(MailContact.id == pairs[ids["ada"]])
            .values(first_name="Augusta", updated_at=later)
        )
        # Bob's first name changes on both sides, Mailsuite's last: a conflict it wins.
        await run(
            update(Contact)
            .where(Contact.id == ids["bob"])
            .values(first_name="Robert", wire=None, date_updated=utcnow())
        )
        await run(
            update(MailContact)
            .where(MailContact.id == pairs[ids["bob"]])
            .values(first_name="Bobby", updated_at=later)
        )
        # Cy's link is lost: Cy is missing in Mailsuite, its Mailsuite contact in the CRM.
        await run(delete(SyncLink).where(SyncLink.crm_id == ids["cy"]))
        # Dee's Mailsuite contact is deleted: its link is an orphan.
        await run(delete(MailContact).where(MailContact.id == pairs[ids["dee"]]))


async def test_drift_behind_the_syncs_back_is_found_repaired_and_gone(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    ids: dict[str, str] = {}
    for name in ("ada", "bob", "cy", "dee", "eve", "fay"):
        made = await create_contact(client, firstName=name.title(), email=f"{name}@example.com")
        ids[name] = made["id"]
    sync_id = json_of(await client.post(SYNCS, json={}))["sync"]["id"]
    await wait_backfilled(client, sync_id)
    await settled(db, sync_id, tenant.location_id)
    clean = await reconciled(client, sync_id)
    assert (clean["inSync"], clean["found"], clean["repair"]) == (6, NO_FINDINGS, None)
    pairs = await _links(db, sync_id)

    await _drift(db, pairs, ids)
    first = await reconciled(client, sync_id)
    assert first["inSync"] == 2
    assert first["found"] == {
        "missingInCrm": 1,
        "missingInMailsuite": 1,
        "differs": 1,
        "conflict": 1,
        "orphan": 1,
    }
    findings = await _findings(client, sync_id, first["id"])
    by_kind = {finding["kind"]: finding for finding in findings}
    assert len(findings) == 5
    assert by_kind["differs"]["crmId"] == ids["ada"]
    assert by_kind["differs"]["fields"] == ["firstName"]
    assert by_kind["conflict"]["detail"] == "changed on both sides; firstName: mailsuite wins"
    assert by_kind["missingInMailsuite"]["crmId"] == ids["cy"]
    assert by_kind["missingInCrm"]["mailsuiteId"] == pairs[ids["cy"]]
    assert (by_kind["orphan"]["crmId"], by_kind["orphan"]["detail"]) == (
        ids["dee"],
        "gone: mailsuite",
    )
    only_conflicts = await client.get(
        f"{SYNCS}/{sync_id}/reconciliations/{first['id']}/findings", params={"kind": "conflict"}
    )
    assert [f["id"] for f in json_of(only_conflicts)["findings"]] == [by_kind["conflict"]["id"]]

    here = f"{SYNCS}/{sync_id}/reconciliations/{first['id']}"
    one = await client.post(f"{here}/findings/{by_kind['differs']['id']}/repair")
    assert one.status_code == 200, one.text
    assert json_of(one)["finding"]["state"] == "repaired"
    assert (await get_contact(client, ids["ada"]))["firstName"] == "Augusta"

    started = await client.post(f"{here}/repair")
    assert started.status_code == 202, started.text
    assert json_of(started)["reconciliation"]["repair"]["total"] == 4

    async def fetch() -> Json:
        body: Json = json_of(await client.get(here))["reconciliation"]
        return body

    done = await poll(fetch, lambda found: found["repair"]["state"] == "finished", within=30)
    assert done["repair"] == {"state": "finished", "done": 4, "total": 4, "failed": 0}
    outcomes = {f["kind"]: f["outcome"] for f in await _findings(client, sync_id, first["id"])}
    # Whichever of Cy's two records is repaired first links both; the other is then in step.
    assert {outcomes["missingInMailsuite"], outcomes["missingInCrm"]} == {
        "linked to its match on the other side",
        "already in step",
    }
    assert outcomes["orphan"] == "the mailsuite record is gone: its partner is kept"
    assert (await get_contact(client, ids["bob"]))["firstName"] == "Bobby"
    assert (await _links(db, sync_id))[ids["cy"]] == pairs[ids["cy"]]

    await settled(db, sync_id, tenant.location_id)
    second = await reconciled(client, sync_id)
    assert (second["inSync"], second["found"]) == (5, NO_FINDINGS)


async def test_waiting_changes_are_not_judged_and_bad_requests_are_refused(
    db: Database,
    tenant: Tenant,
    server: LiveServer,
    client: httpx.AsyncClient,
    new_tenant: TenantFactory,
) -> None:
    gil = await create_contact(client, firstName="Gil", email="gil@example.com")
    sync_id = json_of(await client.post(SYNCS, json={}))["sync"]["id"]
    await wait_backfilled(client, sync_id)
    await client.post(f"{SYNCS}/{sync_id}/pause")
    await client.put(f"/contacts/{gil['id']}", json={"firstName": "Gilbert"})
    await create_contact(client, firstName="Hal", email="hal@example.com")
    waiting = await reconciled(client, sync_id)
    assert (waiting["inSync"], waiting["pending"], waiting["found"]) == (0, 2, NO_FINDINGS)

    here = f"{SYNCS}/{sync_id}/reconciliations"
    bad = await client.get(f"{here}/{waiting['id']}/findings", params={"kind": "odd"})
    assert any(line.startswith("kind:") for line in error_lines(bad, 422)), bad.text
    assert (await client.get(f"{here}/nothing")).status_code == 404
    assert (await client.post(f"{here}/{waiting['id']}/findings/nothing/repair")).status_code == 404
    listed = json_of(await client.get(here))["reconciliations"]
    assert [r["id"] for r in listed] == [waiting["id"]]
    other = await new_tenant()
    async with api_client(server.base_url, other.headers) as stranger:
        assert (await stranger.post(here)).status_code == 404
        assert (await stranger.get(f"{here}/{waiting['id']}")).status_code == 404

    assert (await client.delete(f"{SYNCS}/{sync_id}")).status_code == 204
    # A sync whose backfill has not begun has nothing to compare yet.
    fresh = await paused_sync(db, tenant.location_id)
    early = await client.post(f"{SYNCS}/{fresh.id}/reconciliations")
    assert error_lines(early, 409) == [
        "sync: its backfill is still running; reconcile it once the backfill finished"
    ]


async def test_a_scheduled_reconciliation_runs_on_its_own(
    db: Database, client: httpx.AsyncClient
) -> None:
    await create_contact(client, firstName="Ida", email="ida@example.com")
    made = await client.post(SYNCS, json={"reconcileEveryMinutes": 60})
    sync = json_of(made)["sync"]
    assert sync["reconcileEveryMinutes"] == 60
    assert sync["nextReconciliationAt"] is not None
    await wait_backfilled(client, sync["id"])
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(Sync)
            .where(Sync.id == sync["id"])
            .values(reconcile_due_at=utcnow() - timedelta(seconds=1))
        )

    async def listed() -> list[Json]:
        found: list[Json] = json_of(await client.get(f"{SYNCS}/{sync['id']}/reconciliations"))[
            "reconciliations"
        ]
        return found

    [ran] = await poll(listed, lambda rows: len(rows) == 1 and rows[0]["state"] == "finished")
    assert ran["scheduled"] is True
    again = json_of(await client.get(f"{SYNCS}/{sync['id']}"))["sync"]
    assert again["nextReconciliationAt"] > utcnow().isoformat()[:19]
    off = await client.patch(f"{SYNCS}/{sync['id']}", json={"reconcileEveryMinutes": 0})
    assert json_of(off)["sync"]["nextReconciliationAt"] is None


async def test_cli_reconciles_lists_findings_and_repairs(
    server: LiveServer, database_url: str, db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    jo = await create_contact(client, firstName="Jo", email="jo@example.com")
    sync_id = json_of(await client.post(SYNCS, json={}))["sync"]["id"]
    await wait_backfilled(client, sync_id)
    await settled(db, sync_id, tenant.location_id)
    async with db.unit_of_work() as uow:
        await uow.session.execute(delete(SyncLink).where(SyncLink.crm_id == jo["id"]))
    location = ("--location", tenant.location_id)
    shown = await cli_output(database_url, "sync", "reconcile", sync_id, *location, "--wait")
    assert "1 missing in Mailsuite" in shown
    assert "1 missing in the CRM" in shown
    reconciliation_id = shown.split()[1]
    listed = await cli_output(
        database_url, "sync", "findings", sync_id, reconciliation_id, *location
    )
    assert jo["id"] in listed
    repaired = await cli_output(
        database_url, "sync", "repair", sync_id, reconciliation_id, *location, "--wait"
    )
    assert "repair finished: 2 of 2 (0 failed)" in repaired
