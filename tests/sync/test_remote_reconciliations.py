"""Reconciliations of a sync of a remote account (another live server): rows changed and
deleted behind the sync's back, in the remote's database and in the Mailsuite's, and a link
lost, are found (fields that differ on either side, a record missing on each side, an
orphan), repaired one at once and the rest as a job (the remote written over the wire), and
a second reconciliation finds nothing. A scheduled one runs on its own; a remote whose token
was revoked fails the reconciliation, and the sync says why."""

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, update

from contactflow.contacts.models import Contact
from contactflow.mailsuite.models import MailContact
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.settings import Settings
from contactflow.sync.models import Sync, SyncLink
from tests.mailsuite.helpers import json_of, poll
from tests.support import LiveServer, Tenant
from tests.sync.conftest import RemoteAccount
from tests.sync.helpers import SYNCS, Json, settled, wait_backfilled
from tests.sync.remote_helpers import (
    Relay,
    answered,
    connect,
    first_name,
    oauth_connection,
    remote_contact,
    remote_sync,
    running_relay,
)
from tests.sync.test_reconciliations import NO_FINDINGS, reconciled

MAIL = "/mailsuite/v1/contacts"


async def _findings(client: httpx.AsyncClient, here: str) -> list[Json]:
    found: list[Json] = (await answered(await client.get(f"{here}/findings")))["findings"]
    return found


async def _drift(db: Database, ids: dict[str, str], pairs: dict[str, str]) -> None:
    """What a person or a script does to both databases directly: no event, no webhook."""
    later = utcnow() + timedelta(minutes=1)
    async with db.unit_of_work() as uow:
        run = uow.session.execute
        # Ada's remote first name changes: a difference (the remote's side changed).
        await run(
            update(Contact)
            .where(Contact.id == ids["ada"])
            .values(first_name="Augusta", wire=None, date_updated=later)
        )
        # Bob's Mailsuite first name changes: a difference the remote is written for.
        await run(
            update(MailContact)
            .where(MailContact.id == pairs[ids["bob"]])
            .values(first_name="Bobby", updated_at=later)
        )
        # Cy's link is lost: Cy is missing in Mailsuite, its Mailsuite contact in the CRM.
        await run(delete(SyncLink).where(SyncLink.crm_id == ids["cy"]))
        # Dee is deleted on the remote: its link is an orphan.
        await run(delete(Contact).where(Contact.id == ids["dee"]))


async def test_drift_on_a_remote_sync_is_found_repaired_and_gone(
    server: LiveServer,
    client: httpx.AsyncClient,
    tenant: Tenant,
    db: Database,
    remote_account: RemoteAccount,
) -> None:
    remote, account = remote_account.tenant, remote_account.http
    names = ("ada", "bob", "cy", "dee", "eve")
    sync_id, made, partners = await remote_sync(
        client, account, server, remote, db, [f"{name}@remote.io" for name in names]
    )
    ids = dict(zip(names, made, strict=True))
    pairs = dict(zip(made, partners, strict=True))
    await settled(db, sync_id, tenant.location_id, within=30)
    clean = await reconciled(client, sync_id)
    assert (clean["inSync"], clean["pending"], clean["found"]) == (5, 0, NO_FINDINGS)

    await _drift(db, ids, pairs)
    first = await reconciled(client, sync_id)
    assert (first["inSync"], first["found"]) == (
        1,
        {"missingInCrm": 1, "missingInMailsuite": 1, "differs": 2, "conflict": 0, "orphan": 1},
    )
    here = f"{SYNCS}/{sync_id}/reconciliations/{first['id']}"
    findings = await _findings(client, here)
    differs = {f["crmId"]: f for f in findings if f["kind"] == "differs"}
    assert {crm_id: f["fields"] for crm_id, f in differs.items()} == {
        ids["ada"]: ["firstName"],
        ids["bob"]: ["firstName"],
    }
    by_kind = {f["kind"]: f for f in findings}
    assert by_kind["missingInMailsuite"]["crmId"] == ids["cy"]
    assert by_kind["missingInCrm"]["mailsuiteId"] == pairs[ids["cy"]]
    assert (by_kind["orphan"]["crmId"], by_kind["orphan"]["detail"]) == (ids["dee"], "gone: crm")

    # Ada's repaired at once: the Mailsuite takes the remote's name.
    one = await client.post(f"{here}/findings/{differs[ids['ada']]['id']}/repair")
    assert (await answered(one))["finding"]["state"] == "repaired"
    assert await first_name(client, f"{MAIL}/{pairs[ids['ada']]}") == "Augusta"

    # The rest as a job: Bob's name written to the remote over the wire.
    started = await client.post(f"{here}/repair")
    assert started.status_code == 202, started.text
    assert json_of(started)["reconciliation"]["repair"]["total"] == 4

    async def fetch() -> Json:
        body: Json = (await answered(await client.get(here)))["reconciliation"]
        return body

    done = await poll(fetch, lambda found: found["repair"]["state"] != "running", within=30)
    assert done["repair"] == {"state": "finished", "done": 4, "total": 4, "failed": 0}
    outcomes = {f["kind"]: f["outcome"] for f in await _findings(client, here)}
    assert {outcomes["missingInMailsuite"], outcomes["missingInCrm"]} == {
        "linked to its match on the other side",
        "already in step",
    }
    assert outcomes["orphan"] == "the crm record is gone: its partner is kept"
    assert await first_name(account, f"/contacts/{ids['bob']}") == "Bobby"

    # The remote's own webhook of Bob's write is the sync's echo: nothing is left.
    await settled(db, sync_id, tenant.location_id, within=30)
    second = await reconciled(client, sync_id)
    assert second["found"] == NO_FINDINGS
    assert second["inSync"] + second["pending"] == 4
    assert await first_name(account, f"/contacts/{ids['bob']}") == "Bobby"


@pytest.fixture
def relay(settings: Settings, remote_server: LiveServer) -> Iterator[Relay]:
    with running_relay(settings, remote_server.base_url, "") as running:
        yield running


async def _listed(client: httpx.AsyncClient, sync_id: str) -> list[Json]:
    rows: list[Json] = (await answered(await client.get(f"{SYNCS}/{sync_id}/reconciliations")))[
        "reconciliations"
    ]
    return rows


async def test_a_scheduled_remote_reconciliation_runs_and_a_revoked_token_fails_one(
    client: httpx.AsyncClient,
    tenant: Tenant,
    db: Database,
    relay: Relay,
    remote_account: RemoteAccount,
) -> None:
    remote, account = remote_account.tenant, remote_account.http
    relay.remote_key = remote.key
    for name in ("fay", "gus", "hal"):
        await remote_contact(account, f"{name}@remote.io")
    connection_id = await oauth_connection(client, relay, remote)
    await connect(client, connection_id)
    body = {"connectionId": connection_id, "reconcileEveryMinutes": 60}
    sync = (await answered(await client.post(SYNCS, json=body)))["sync"]
    assert (sync["reconcileEveryMinutes"], sync["nextReconciliationAt"] is None) == (60, False)
    await wait_backfilled(client, sync["id"])
    # What the backfill wrote is in the location's log: the sync reads it first.
    await settled(db, sync["id"], tenant.location_id, within=30)

    # Due now, with a 429 on its way: the listing waits it out, the reconciliation finishes.
    relay.faults = [429]
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(Sync)
            .where(Sync.id == sync["id"])
            .values(reconcile_due_at=utcnow() - timedelta(seconds=1))
        )
    [ran] = await poll(
        lambda: _listed(client, sync["id"]),
        lambda rows: len(rows) == 1 and rows[0]["state"] == "finished",
        within=30,
    )
    assert (ran["scheduled"], ran["inSync"], ran["pending"], ran["found"]) == (
        True,
        3,
        0,
        NO_FINDINGS,
    )
    assert relay.faults == []

    # The token revoked and no longer renewed: the reconciliation fails, the sync says why.
    relay.provider.revoke()
    relay.provider.refusing_refresh = True
    asked = await client.post(f"{SYNCS}/{sync['id']}/reconciliations")
    assert asked.status_code == 202, asked.text
    here = f"{SYNCS}/{sync['id']}/reconciliations/{json_of(asked)['reconciliation']['id']}"

    async def fetch() -> Json:
        found: Json = (await answered(await client.get(here)))["reconciliation"]
        return found

    failed = await poll(fetch, lambda found: found["state"] == "failed", within=30)
    assert (failed["inSync"], failed["found"], failed["finishedAt"] is None) == (
        0,
        NO_FINDINGS,
        False,
    )
    shown = (await answered(await client.get(f"{SYNCS}/{sync['id']}")))["sync"]
    assert (shown["health"], shown["remedy"]) == ("failing", "reconnect")
    assert "refused" in shown["lastError"]
    # A failed one is over: another may be asked for.
    again = await client.post(f"{SYNCS}/{sync['id']}/reconciliations")
    assert again.status_code == 202, again.text
