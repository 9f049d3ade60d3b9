"""A backfill's second walk: of a sync that writes the Contacts API, the Mailsuite records
that were there before it (no link names them) are made in the Contacts API, each once; a
sync that only copies the Contacts API into the Mailsuite walks nothing of the Mailsuite."""

import httpx
from sqlalchemy import text

from contactflow.platform.db import Database
from tests.contacts.helpers import create_contact
from tests.mailsuite.helpers import json_of
from tests.sync.helpers import SYNCS, Json, linked_partner, wait_backfilled
from tests.sync.test_tasks import DUE
from tests.webhooks.helpers import poll


async def created(client: httpx.AsyncClient, path: str, body: Json, key: str) -> Json:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    made: Json = json_of(response)[key]
    return made


async def listed(client: httpx.AsyncClient, path: str, key: str) -> list[Json]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    found: list[Json] = json_of(response)[key]
    return found


async def test_mailsuite_tasks_and_notes_there_before_their_sync_reach_the_contacts_api(
    db: Database, client: httpx.AsyncClient
) -> None:
    ada = await create_contact(client, firstName="Ada", email="ada@example.com")
    contacts = await created(client, SYNCS, {}, "sync")
    await wait_backfilled(client, contacts["id"])
    ada_mail = await linked_partner(db, contacts["id"], ada["id"])
    task = {"title": "Send the quote", "contactId": ada_mail, "dueAt": DUE}
    await created(client, "/mailsuite/v1/tasks", task, "task")
    timeline = f"/mailsuite/v1/contacts/{ada_mail}/timeline"
    await created(client, timeline, {"kind": "note", "body": "Met at the fair"}, "entry")

    # Notes one way: nothing of the Mailsuite is walked.
    one_way = await created(client, SYNCS, {"object": "notes"}, "sync")
    job = (await wait_backfilled(client, one_way["id"]))["backfill"]
    assert (job["walking"], job["done"], job["created"]) == ("crm", 0, 0)
    assert await listed(client, f"/contacts/{ada['id']}/notes", "notes") == []
    deleted = await client.delete(f"{SYNCS}/{one_way['id']}")
    assert deleted.status_code in (200, 204), deleted.text

    tasks = await created(client, SYNCS, {"object": "tasks"}, "sync")
    notes = await created(client, SYNCS, {"object": "notes", "direction": "both"}, "sync")
    for sync in (tasks, notes):
        job = (await wait_backfilled(client, sync["id"]))["backfill"]
        assert (job["walking"], job["done"], job["total"], job["created"]) == (
            "mailsuite",
            1,
            1,
            1,
        )
    [crm_task] = await listed(client, f"/contacts/{ada['id']}/tasks", "tasks")
    assert (crm_task["title"], crm_task["dueDate"]) == ("Send the quote", DUE)
    [crm_note] = await listed(client, f"/contacts/{ada['id']}/notes", "notes")
    assert crm_note["body"] == "Met at the fair"

    # Walked again, each is linked already: nothing is made twice.
    for sync in (tasks, notes):
        resync = await client.post(f"{SYNCS}/{sync['id']}/resync")
        assert resync.status_code == 202, resync.text
        job = (await wait_backfilled(client, sync["id"]))["backfill"]
        assert (job["walking"], job["created"]) == ("mailsuite", 0)
    assert len(await listed(client, f"/contacts/{ada['id']}/tasks", "tasks")) == 1
    assert len(await listed(client, f"/contacts/{ada['id']}/notes", "notes")) == 1


async def test_turning_to_the_mailsuite_analyses_the_links_the_first_walk_made(
    postgres_only: None, db: Database, client: httpx.AsyncClient
) -> None:
    """On PostgreSQL the second walk's anti-join is planned on the links' statistics, stale
    after the first walk made them (autovacuum is off on some servers, this one's included):
    the turn analyses the table, so the plan looks each record's link up by its index."""
    await create_contact(client, firstName="Grace", email="grace@example.com")
    contacts = await created(client, SYNCS, {}, "sync")
    job = (await wait_backfilled(client, contacts["id"]))["backfill"]
    assert job["walking"] == "mailsuite"

    async def analysed() -> object:
        async with db.reader() as session:
            return await session.scalar(
                text(
                    "SELECT coalesce(last_analyze, last_autoanalyze) FROM pg_stat_user_tables "
                    "WHERE relname = 'sync_links'"
                )
            )

    # The statistics' view may lag the worker's commit a little.
    assert await poll(analysed, lambda when: when is not None) is not None
