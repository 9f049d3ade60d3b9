"""A sync of tasks: the tasks of linked contacts paired with Mailsuite tasks under the
contacts' partners (never matched by title), a task of a contact not linked yet waiting until
it is; completion going both ways without a loop; deletes under each policy; a sync of a
contact's records refused without the contacts sync it pairs through."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from contactflow.contacts import records
from contactflow.contacts import service as contacts
from contactflow.contacts.record_schemas import TaskCreate, TaskUpdate
from contactflow.contacts.schemas import ContactCreate
from contactflow.mailsuite import tasks as mail_tasks
from contactflow.mailsuite.models import Task as MailTask
from contactflow.platform.db import Database
from contactflow.platform.event_types import MAILSUITE_TASK_COMPLETE, TASK_COMPLETE
from contactflow.platform.events import Event
from contactflow.settings import Settings
from contactflow.sync import incremental, service
from contactflow.sync.backfill import advance
from contactflow.sync.models import SyncBackfill, SyncLink
from contactflow.sync.service import SyncSettings
from tests.contacts.helpers import create_contact
from tests.mailsuite.helpers import error_lines, json_of, poll
from tests.support import Tenant, make_tenant, migrated_database, server_settings
from tests.sync.helpers import SYNCS, Json, settled, wait_backfilled

MAIL_TASKS = "/mailsuite/v1/tasks"
DUE = "2026-12-24T09:00:00.000Z"


async def partner(db: Database, sync_id: str, crm_id: str) -> str | None:
    async with db.reader() as session:
        return await session.scalar(
            select(SyncLink.mailsuite_id).where(
                SyncLink.sync_id == sync_id, SyncLink.crm_id == crm_id
            )
        )


async def linked(db: Database, sync_id: str, crm_id: str) -> str:
    found = await poll(lambda: partner(db, sync_id, crm_id), lambda value: value is not None)
    assert found is not None
    return found


async def contacts_synced(client: httpx.AsyncClient, *names: str) -> tuple[str, list[str]]:
    """Contacts with these names (and addresses), and the location's contacts sync, backfilled."""
    made = [
        (await create_contact(client, firstName=name, email=f"{name}@example.com"))["id"]
        for name in names
    ]
    created = await client.post(SYNCS, json={"object": "contacts"})
    assert created.status_code == 201, created.text
    sync_id: str = json_of(created)["sync"]["id"]
    await wait_backfilled(client, sync_id)
    return sync_id, made


async def add_task(
    client: httpx.AsyncClient, contact_id: str, title: str, **fields: object
) -> Json:
    body = {"title": title, "dueDate": DUE, "completed": False, **fields}
    response = await client.post(f"/contacts/{contact_id}/tasks", json=body)
    assert response.status_code == 201, response.text
    task: Json = json_of(response)["task"]
    return task


async def task_at(client: httpx.AsyncClient, path: str) -> Json:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    task: Json = json_of(response)["task"]
    return task


async def mail_task(client: httpx.AsyncClient, task_id: str) -> Json:
    return await task_at(client, f"{MAIL_TASKS}/{task_id}")


async def crm_task(client: httpx.AsyncClient, contact_id: str, task_id: str) -> Json:
    return await task_at(client, f"/contacts/{contact_id}/tasks/{task_id}")


async def tasks_sync(client: httpx.AsyncClient, **fields: object) -> Json:
    created = await client.post(SYNCS, json={"object": "tasks", **fields})
    assert created.status_code == 201, created.text
    sync: Json = json_of(created)["sync"]
    return sync


async def test_tasks_of_linked_contacts_are_paired_and_waiting_ones_follow_their_contact(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    contacts_id, (ada, bob) = await contacts_synced(client, "ada", "bob")
    # No address and no match: the contacts sync cannot link her yet.
    cleo = (await create_contact(client, firstName="Cleo"))["id"]
    ada_mail = await linked(db, contacts_id, ada)
    write = await add_task(client, ada, "Write the notes", body="Chapter one")
    done = await add_task(client, ada, "Send them", completed=True)
    call = await add_task(client, bob, "Call Bob")
    wait = await add_task(client, cleo, "Meet Cleo")

    sync = await tasks_sync(client)
    assert sync["name"] == "Tasks <-> Mailsuite tasks"
    assert sync["direction"] == "both"
    assert [(e["crm"], e["mailsuite"]) for e in sync["mapping"]] == [
        ("title", "title"),
        ("body", "notes"),
        ("dueDate", "dueAt"),
        ("completed", "status"),
    ]
    finished = await wait_backfilled(client, sync["id"])
    job = finished["backfill"]
    assert (job["total"], job["done"], job["created"], job["skipped"]) == (4, 4, 3, 1)
    assert "not linked yet" in job["lastSkip"]
    assert (finished["linked"], finished["waiting"]) == (3, 1)

    copy = await mail_task(client, await linked(db, sync["id"], write["id"]))
    assert (copy["title"], copy["notes"], copy["dueAt"]) == ("Write the notes", "Chapter one", DUE)
    assert (copy["contactId"], copy["status"], copy["sourceId"]) == (ada_mail, "open", write["id"])
    assert (await mail_task(client, await linked(db, sync["id"], done["id"])))["status"] == "done"
    assert (await mail_task(client, await linked(db, sync["id"], call["id"])))[
        "title"
    ] == "Call Bob"

    # Cleo gets an address: the contacts sync links her, and her task follows.
    changed = await client.put(f"/contacts/{cleo}", json={"email": "cleo@example.com"})
    assert changed.status_code == 200, changed.text
    cleo_mail = await linked(db, contacts_id, cleo)
    followed = await mail_task(client, await linked(db, sync["id"], wait["id"]))
    assert (followed["title"], followed["contactId"]) == ("Meet Cleo", cleo_mail)
    shown = json_of(await client.get(f"{SYNCS}/{sync['id']}"))["sync"]
    assert (shown["linked"], shown["waiting"]) == (4, 0)
    await settled(db, sync["id"], tenant.location_id)
    async with db.reader() as session:
        copies = await session.scalar(
            select(func.count())
            .select_from(MailTask)
            .where(MailTask.location_id == tenant.location_id)
        )
    assert copies == 4  # one each, none made twice


async def test_completion_goes_both_ways_once_and_settles(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    _, (ada,) = await contacts_synced(client, "ada")
    task = await add_task(client, ada, "Review")
    sync = await tasks_sync(client)
    await wait_backfilled(client, sync["id"])
    copy_id = await linked(db, sync["id"], task["id"])

    done = await client.put(f"{MAIL_TASKS}/{copy_id}", json={"status": "done"})
    assert done.status_code == 200, done.text
    await poll(lambda: crm_task(client, ada, task["id"]), lambda t: t["completed"] is True)

    reopened = await client.put(
        f"/contacts/{ada}/tasks/{task['id']}/completed", json={"completed": False}
    )
    assert reopened.status_code == 200, reopened.text
    await poll(lambda: mail_task(client, copy_id), lambda t: t["status"] == "open")

    retitled = await client.put(
        f"/contacts/{ada}/tasks/{task['id']}", json={"title": "Review twice", "completed": True}
    )
    assert retitled.status_code == 200, retitled.text
    await poll(
        lambda: mail_task(client, copy_id),
        lambda t: (t["title"], t["status"]) == ("Review twice", "done"),
    )
    await settled(db, sync["id"], tenant.location_id)

    async def completions() -> tuple[int, int]:
        async with db.reader() as session:
            rows = await session.execute(
                select(Event.type, func.count())
                .where(
                    Event.location_id == tenant.location_id,
                    Event.type.in_((TASK_COMPLETE, MAILSUITE_TASK_COMPLETE)),
                )
                .group_by(Event.type)
            )
            counts: dict[str, int] = {event_type: count for event_type, count in rows}
        return counts.get(TASK_COMPLETE, 0), counts.get(MAILSUITE_TASK_COMPLETE, 0)

    # Each completion happened once on each side: Mailsuite's, carried; the CRM's, carried.
    assert await completions() == (2, 2)
    await settled(db, sync["id"], tenant.location_id)
    assert await completions() == (2, 2)


@pytest.mark.parametrize("policy", ["propagate", "ignore", "hold"])
async def test_a_deleted_task_under_each_delete_policy(
    db: Database, tenant: Tenant, client: httpx.AsyncClient, policy: str
) -> None:
    _, (ada,) = await contacts_synced(client, "ada")
    first = await add_task(client, ada, "First")
    second = await add_task(client, ada, "Second")
    sync = await tasks_sync(client, onDelete=policy)
    await wait_backfilled(client, sync["id"])
    first_copy = await linked(db, sync["id"], first["id"])
    second_copy = await linked(db, sync["id"], second["id"])

    deleted = await client.delete(f"/contacts/{ada}/tasks/{first['id']}")
    assert deleted.status_code == 200, deleted.text
    await settled(db, sync["id"], tenant.location_id)
    copy = await client.get(f"{MAIL_TASKS}/{first_copy}")
    held = json_of(await client.get(f"{SYNCS}/{sync['id']}/held-deletes"))["heldDeletes"]
    if policy == "propagate":
        assert copy.status_code == 404
        assert await partner(db, sync["id"], first["id"]) is None
        assert held == []
        # And the other way: the Mailsuite task deleted, the CRM task goes too.
        async with db.unit_of_work() as uow:  # Mailsuite's own delete (its API has none)
            await mail_tasks.delete_task(uow, tenant.location_id, second_copy)
        await poll(
            lambda: client.get(f"/contacts/{ada}/tasks/{second['id']}"),
            lambda response: response.status_code == 404,
        )
    elif policy == "ignore":
        assert copy.status_code == 200
        assert held == []
        async with db.reader() as session:
            link = await session.scalar(select(SyncLink).where(SyncLink.mailsuite_id == first_copy))
        assert link is not None
        assert link.gone == "crm"
    else:
        assert copy.status_code == 200
        assert [(h["side"], h["recordId"], h["partnerId"]) for h in held] == [
            ("crm", first["id"], first_copy)
        ]
        approved = await client.post(f"{SYNCS}/{sync['id']}/held-deletes/{held[0]['id']}/approve")
        assert approved.status_code == 200, approved.text
        assert (await client.get(f"{MAIL_TASKS}/{first_copy}")).status_code == 404


async def test_a_sync_of_records_of_contacts_needs_the_contacts_sync(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.post(SYNCS, json={"object": "tasks"})
    assert any(line.startswith("object: a tasks sync") for line in error_lines(refused, 422))
    await contacts_synced(client)
    wrong_way = await client.post(SYNCS, json={"object": "appointments", "direction": "both"})
    assert error_lines(wrong_way, 422) == ["direction: a sync of appointments goes crmToMailsuite"]
    unknown = await client.post(
        SYNCS, json={"object": "tasks", "mapping": [{"crm": "firstName", "mailsuite": "title"}]}
    )
    assert any(
        line.startswith("mapping.0.crm: 'firstName' is not a task field")
        for line in error_lines(unknown, 422)
    )
    tasks = await tasks_sync(client)
    # The contacts sync is not deleted from under the sync that pairs through it.
    contacts = [s for s in json_of(await client.get(SYNCS))["syncs"] if s["object"] == "contacts"]
    kept = await client.delete(f"{SYNCS}/{contacts[0]['id']}")
    assert kept.status_code == 409
    assert tasks["id"] in kept.text
    renamed = await client.patch(
        f"{SYNCS}/{tasks['id']}", json={"mapping": [{"crm": "title", "mailsuite": "notes"}]}
    )
    assert json_of(renamed)["sync"]["mapping"][0]["mailsuite"] == "notes"
    moved = await client.patch(
        f"{SYNCS}/{tasks['id']}", json={"mapping": [{"crm": "tags", "mailsuite": "title"}]}
    )
    assert error_lines(moved, 422)[0].startswith("mapping.0.crm: 'tags' is not a task field")
    assert (await client.delete(f"{SYNCS}/{tasks['id']}")).status_code == 204
    assert (await client.delete(f"{SYNCS}/{contacts[0]['id']}")).status_code == 204


@pytest.fixture
def quiet_settings(database_url: str, tmp_path: Path) -> Iterator[Settings]:
    """A database of this test's own, with no workers: the test advances the sync itself."""
    with migrated_database(database_url, tmp_path) as url:
        yield server_settings(url, embedded_workers=False, sync_batch_size=5)


async def test_a_tasks_backfill_stopped_halfway_resumes_without_duplicates(
    quiet_settings: Settings,
) -> None:
    """Half the tasks backfilled; one not reached yet is changed, so the incremental sync
    links it first; the backfill then goes on from its position: each task linked once."""
    db = Database(quiet_settings.database_url)
    try:
        tenant = await make_tenant(db)
        location = tenant.location_id
        task_ids: list[str] = []
        async with db.unit_of_work() as uow:
            people = [
                await contacts.create_contact(
                    uow, location, ContactCreate(email=f"p{n}@example.com"), "US"
                )
                for n in range(4)
            ]
            for n in range(20):
                fields = {"title": f"T{n}", "dueDate": DUE, "completed": False}
                task = await records.create_task(
                    uow, location, people[n % 4].id, TaskCreate.model_validate(fields)
                )
                task_ids.append(task.id)
        async with db.unit_of_work() as uow:
            await service.create_sync(uow, location, SyncSettings())
        while await advance(db, 5, "US"):
            pass
        async with db.unit_of_work() as uow:
            sync = await service.create_sync(uow, location, SyncSettings(object="tasks"))
        assert await advance(db, 5, "US")
        assert await advance(db, 5, "US")
        async with db.reader() as session:
            job = await session.get(SyncBackfill, sync.id)
            assert job is not None
            assert (job.state, job.done) == ("running", 10)
        async with db.unit_of_work() as uow:
            await records.update_task(
                uow, location, people[19 % 4].id, task_ids[19], TaskUpdate(title="Changed")
            )
        while await incremental.consume(db, "US", 100):
            pass
        assert await partner(db, sync.id, task_ids[19]) is not None
        while await advance(db, 5, "US"):
            pass
        async with db.reader() as session:
            links = list(await session.scalars(select(SyncLink).where(SyncLink.sync_id == sync.id)))
            copies = list(
                await session.scalars(select(MailTask).where(MailTask.location_id == location))
            )
            job = await session.get(SyncBackfill, sync.id)
        assert job is not None
        assert (job.state, job.done, job.created) == ("finished", 20, 19)
        assert sorted(link.crm_id for link in links) == sorted(task_ids)
        assert len({link.mailsuite_id for link in links}) == 20
        assert len(copies) == 20
        assert {copy.title for copy in copies} == {f"T{n}" for n in range(19)} | {"Changed"}
    finally:
        await db.dispose()
