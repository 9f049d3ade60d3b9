"""Reconciliations of the syncs of a remote account's tasks and notes (another live server):
a remote task, a Mailsuite task and a remote note changed behind the syncs' backs, in the
databases directly, are found; the repair writes the remote over the wire and the Mailsuite
here; a second reconciliation finds nothing. A scheduled one waits while the sync backs off
after its remote failed, and leaves out the tasks of a contact the contacts sync's segment
no longer covers."""

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from contactflow.contacts.models import Contact, Note
from contactflow.contacts.models import Task as RemoteTask
from contactflow.mailsuite.models import Task as MailTask
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.sync.models import Sync, SyncReconciliation
from tests.mailsuite.helpers import json_of, poll
from tests.support import LiveServer, Tenant
from tests.sync.conftest import RemoteAccount
from tests.sync.helpers import SYNCS, Json, linked_partner, settled, wait_backfilled
from tests.sync.remote_helpers import answered, remote_sync
from tests.sync.test_reconciliations import NO_FINDINGS, reconciled
from tests.sync.test_tasks import DUE, mail_task

NAMES = ("ada", "bob")


async def _records(account: httpx.AsyncClient, contact_id: str) -> tuple[str, str]:
    """A task and a note of the remote contact: their ids as the syncs keep them."""
    task = {"title": "Call", "dueDate": DUE, "completed": False}
    made = await answered(await account.post(f"/contacts/{contact_id}/tasks", json=task))
    note = {"body": "Met at the fair"}
    written = await answered(await account.post(f"/contacts/{contact_id}/notes", json=note))
    return f"{contact_id}/{made['task']['id']}", f"{contact_id}/{written['note']['id']}"


async def _sync(client: httpx.AsyncClient, body: Json) -> str:
    sync_id: str = (await answered(await client.post(SYNCS, json=body)))["sync"]["id"]
    await wait_backfilled(client, sync_id)
    return sync_id


async def _repaired(client: httpx.AsyncClient, sync_id: str, reconciliation: Json) -> Json:
    """Every finding of the reconciliation repaired, as a job: its findings."""
    here = f"{SYNCS}/{sync_id}/reconciliations/{reconciliation['id']}"
    started = await client.post(f"{here}/repair")
    assert started.status_code == 202, started.text

    async def fetch() -> Json:
        body: Json = (await answered(await client.get(here)))["reconciliation"]
        return body

    done = await poll(fetch, lambda found: found["repair"]["state"] != "running", within=30)
    total = sum(reconciliation["found"].values())
    assert done["repair"] == {"state": "finished", "done": total, "total": total, "failed": 0}
    return {
        finding["crmId"]: finding
        for finding in (await answered(await client.get(f"{here}/findings")))["findings"]
    }


def _own(record_id: str) -> str:
    return record_id.partition("/")[2]


async def test_drift_of_remote_tasks_and_notes_is_found_repaired_and_gone(
    server: LiveServer,
    client: httpx.AsyncClient,
    tenant: Tenant,
    db: Database,
    remote_account: RemoteAccount,
) -> None:
    remote, account = remote_account.tenant, remote_account.http
    emails = [f"{name}@remote.io" for name in NAMES]
    contacts_id, made, _ = await remote_sync(client, account, server, remote, db, emails)
    ids = dict(zip(NAMES, made, strict=True))
    records = {name: await _records(account, ids[name]) for name in NAMES}
    tasks_id = await _sync(client, {"object": "tasks", "reconcileEveryMinutes": 60})
    notes_id = await _sync(client, {"object": "notes"})
    for sync_id in (contacts_id, tasks_id, notes_id):
        await settled(db, sync_id, tenant.location_id, within=30)
    for sync_id in (tasks_id, notes_id):
        clean = await reconciled(client, sync_id)
        assert (clean["inSync"], clean["pending"], clean["found"]) == (2, 0, NO_FINDINGS)

    ada_task, ada_note = records["ada"]
    bob_task = records["bob"][0]
    ada_mail = await linked_partner(db, tasks_id, ada_task)
    bob_mail = await linked_partner(db, tasks_id, bob_task)
    later = utcnow() + timedelta(minutes=1)
    async with db.unit_of_work() as uow:
        run = uow.session.execute
        # Ada's remote task and note change: the Mailsuite is written for them.
        await run(
            update(RemoteTask)
            .where(RemoteTask.id == _own(ada_task))
            .values(title="Call back", date_updated=later)
        )
        await run(
            update(Note)
            .where(Note.id == _own(ada_note))
            .values(body="Met twice", date_updated=later)
        )
        # Bob's Mailsuite task changes: the remote is written for it, over the wire.
        await run(
            update(MailTask).where(MailTask.id == bob_mail).values(title="Sign", updated_at=later)
        )

    tasks = await reconciled(client, tasks_id)
    assert (tasks["inSync"], tasks["found"]) == (0, {**NO_FINDINGS, "differs": 2})
    notes = await reconciled(client, notes_id)
    assert (notes["inSync"], notes["found"]) == (1, {**NO_FINDINGS, "differs": 1})

    findings = await _repaired(client, tasks_id, tasks)
    assert {crm_id: finding["fields"] for crm_id, finding in findings.items()} == {
        ada_task: ["title"],
        bob_task: ["title"],
    }
    assert (await mail_task(client, ada_mail))["title"] == "Call back"
    path = f"/contacts/{ids['bob']}/tasks/{_own(bob_task)}"
    assert (await answered(await account.get(path)))["task"]["title"] == "Sign"
    assert list(await _repaired(client, notes_id, notes)) == [ada_note]
    note_entry = await linked_partner(db, notes_id, ada_note)
    mail_contact = (await mail_task(client, ada_mail))["contactId"]
    timeline = json_of(await client.get(f"/mailsuite/v1/contacts/{mail_contact}/timeline"))
    assert [one["body"] for one in timeline["entries"] if one["id"] == note_entry] == ["Met twice"]

    for sync_id in (tasks_id, notes_id):
        await settled(db, sync_id, tenant.location_id, within=30)
        again = await reconciled(client, sync_id)
        assert (again["inSync"] + again["pending"], again["found"]) == (2, NO_FINDINGS)


async def test_a_scheduled_reconciliation_of_remote_tasks_waits_while_the_sync_backs_off(
    server: LiveServer,
    client: httpx.AsyncClient,
    tenant: Tenant,
    db: Database,
    remote_account: RemoteAccount,
) -> None:
    remote, account = remote_account.tenant, remote_account.http
    emails = ["cy@remote.io", "dee@remote.io"]
    segment = {"updatedWithinDays": 30}
    _, [cy, dee], _ = await remote_sync(
        client, account, server, remote, db, emails, segment=segment
    )
    cy_task, _ = await _records(account, cy)
    await _records(account, dee)
    tasks_id = await _sync(client, {"object": "tasks", "reconcileEveryMinutes": 60})
    await settled(db, tasks_id, tenant.location_id, within=30)

    # Cy's remote task changes; Dee leaves the segment: its task is no finding.
    now = utcnow()
    async with db.unit_of_work() as uow:
        run = uow.session.execute
        await run(
            update(RemoteTask)
            .where(RemoteTask.id == _own(cy_task))
            .values(title="Call back", date_updated=now + timedelta(minutes=1))
        )
        await run(
            update(Contact)
            .where(Contact.id == dee)
            .values(date_updated=now - timedelta(days=60), wire=None)
        )
        # Due now, but the sync waits a few seconds more for its remote (as after a failure).
        retry_at = now + timedelta(seconds=3)
        await run(
            update(Sync)
            .where(Sync.id == tasks_id)
            .values(reconcile_due_at=now - timedelta(seconds=1), retry_at=retry_at)
        )

    async def scheduled() -> list[SyncReconciliation]:
        async with db.reader() as session:
            found = await session.scalars(
                select(SyncReconciliation).where(SyncReconciliation.sync_id == tasks_id)
            )
            return list(found)

    [ran] = await poll(
        scheduled, lambda rows: len(rows) == 1 and rows[0].state == "finished", within=30
    )
    assert (ran.scheduled, ran.created_at >= retry_at) == (True, True)
    assert (ran.in_sync, ran.pending, ran.found) == (0, 0, {**NO_FINDINGS, "differs": 1})
