"""A tasks sync's integrity as a contacts sync's: tasks changed, made or deleted behind its
back (no event) found by a reconciliation, repaired by the sync's own rules, and gone after;
a title changed on both sides under the `manual` policy held for a person until resolved."""

from datetime import timedelta

import httpx
from sqlalchemy import delete, update

from contactflow.contacts.models import Task
from contactflow.mailsuite.models import Task as MailTask
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from tests.mailsuite.helpers import json_of, poll
from tests.support import Tenant
from tests.sync.helpers import SYNCS, Json, settled, wait_backfilled
from tests.sync.test_reconciliations import NO_FINDINGS, reconciled
from tests.sync.test_tasks import add_task, contacts_synced, linked, mail_task, tasks_sync


async def test_tasks_drift_is_found_and_repaired(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    _, (ada, bob) = await contacts_synced(client, "ada", "bob")
    write = await add_task(client, ada, "Write")
    call = await add_task(client, bob, "Call")
    sync = await tasks_sync(client)
    await wait_backfilled(client, sync["id"])
    await settled(db, sync["id"], tenant.location_id)
    clean = await reconciled(client, sync["id"])
    assert (clean["inSync"], clean["found"]) == (2, NO_FINDINGS)
    write_copy = await linked(db, sync["id"], write["id"])
    call_copy = await linked(db, sync["id"], call["id"])

    now = utcnow()
    async with db.unit_of_work() as uow:
        run = uow.session.execute
        await run(
            update(MailTask)
            .where(MailTask.id == write_copy)
            .values(title="Write it all", updated_at=now + timedelta(minutes=1))
        )
        await run(delete(MailTask).where(MailTask.id == call_copy))
        uow.session.add(
            Task(
                location_id=tenant.location_id,
                contact_id=ada,
                title="Unseen",
                due_date=now + timedelta(days=3),
                completed=False,
                date_added=now,
                date_updated=now,
            )
        )
    found = await reconciled(client, sync["id"])
    assert found["found"] == {**NO_FINDINGS, "differs": 1, "missingInMailsuite": 1, "orphan": 1}

    here = f"{SYNCS}/{sync['id']}/reconciliations/{found['id']}"
    started = await client.post(f"{here}/repair")
    assert started.status_code == 202, started.text

    async def fetch() -> Json:
        body: Json = json_of(await client.get(here))["reconciliation"]
        return body

    done = await poll(fetch, lambda r: r["repair"]["state"] == "finished", within=30)
    assert done["repair"] == {"state": "finished", "done": 3, "total": 3, "failed": 0}
    crm = json_of(await client.get(f"/contacts/{ada}/tasks/{write['id']}"))["task"]
    assert crm["title"] == "Write it all"  # Mailsuite's change, carried
    unseen = [t for t in json_of(await client.get(f"/contacts/{ada}/tasks"))["tasks"]]
    made = next(t for t in unseen if t["title"] == "Unseen")
    assert (await mail_task(client, await linked(db, sync["id"], made["id"])))["title"] == "Unseen"

    await settled(db, sync["id"], tenant.location_id)
    again = await reconciled(client, sync["id"])
    assert (again["inSync"], again["found"]) == (2, NO_FINDINGS)


async def test_a_task_title_changed_on_both_sides_waits_for_a_person(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    _, (ada,) = await contacts_synced(client, "ada")
    task = await add_task(client, ada, "Plan")
    mapping = [
        {"crm": "title", "mailsuite": "title", "conflict": "manual"},
        {"crm": "completed", "mailsuite": "status"},
    ]
    sync = await tasks_sync(client, mapping=mapping)
    await wait_backfilled(client, sync["id"])
    copy_id = await linked(db, sync["id"], task["id"])
    here = f"{SYNCS}/{sync['id']}"
    assert (await client.post(f"{here}/pause")).status_code == 200
    crm_side = await client.put(f"/contacts/{ada}/tasks/{task['id']}", json={"title": "Plan A"})
    assert crm_side.status_code == 200, crm_side.text
    mail_side = await client.put(f"/mailsuite/v1/tasks/{copy_id}", json={"title": "Plan B"})
    assert mail_side.status_code == 200, mail_side.text
    assert (await client.post(f"{here}/resume")).status_code == 200

    async def open_conflicts() -> list[Json]:
        listed = await client.get(f"{here}/conflicts", params={"state": "open"})
        rows: list[Json] = json_of(listed)["conflicts"]
        return rows

    held = (await poll(open_conflicts, lambda rows: len(rows) == 1))[0]
    assert (held["crmId"], held["field"]) == (task["id"], "title")
    assert (held["crmValue"], held["mailsuiteValue"]) == ("Plan A", "Plan B")
    kept = await client.post(f"{here}/conflicts/{held['id']}/resolve", json={"keep": "crm"})
    assert kept.status_code == 200, kept.text
    assert (await mail_task(client, copy_id))["title"] == "Plan A"
    await settled(db, sync["id"], tenant.location_id)
    assert await open_conflicts() == []
