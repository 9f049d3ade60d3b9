"""Syncs of a remote account's tasks, notes and appointments (another live server) after their
backfill: a task, a note or an appointment made on the remote reaches the Mailsuite through
the remote's signed webhooks, under its contact's partner; a Mailsuite task reaches the
remote once, and its completion follows; both logs settle (no loop). The ids the syncs keep
name the remote contact."""

import httpx
from sqlalchemy import func, select

from contactflow.mailsuite.models import TimelineEntry
from contactflow.platform.db import Database
from tests.mailsuite.helpers import error_lines, json_of, poll
from tests.support import LiveServer, Tenant, api_client, make_tenant
from tests.sync.helpers import SYNCS, Json, linked_partner, settled, wait_backfilled
from tests.sync.remote_helpers import BOTH_SCOPES, hooked_connection, remote_contact
from tests.sync.test_tasks import DUE, MAIL_TASKS, mail_task

HOOKED = [
    "ContactCreate",
    "ContactUpdate",
    "TaskCreate",
    "TaskUpdate",
    "TaskComplete",
    "TaskDelete",
    "NoteCreate",
    "NoteUpdate",
    "NoteDelete",
]


async def _json(response: httpx.Response) -> Json:
    assert response.status_code in (200, 201), response.text
    return json_of(response)


async def _sync(client: httpx.AsyncClient, body: Json) -> str:
    sync_id: str = (await _json(await client.post(SYNCS, json=body)))["sync"]["id"]
    return sync_id


async def test_remote_tasks_and_notes_reach_the_mailsuite_and_mailsuite_tasks_the_remote(
    db: Database,
    client: httpx.AsyncClient,
    tenant: Tenant,
    server: LiveServer,
    remote_server: LiveServer,
) -> None:
    remote, here = await make_tenant(db), tenant.location_id
    async with api_client(remote_server.base_url, remote.headers) as account:
        rita = await remote_contact(account, "rita@remote.io")
        first = {"title": "Call Rita", "dueDate": DUE, "completed": False}
        call = (await _json(await account.post(f"/contacts/{rita}/tasks", json=first)))["task"]
        connection_id = await hooked_connection(client, account, server, remote, HOOKED)
        contacts_id = await _sync(client, {"connectionId": connection_id})
        # A sync of records follows its contacts sync's account: naming another is refused.
        refused = await client.post(SYNCS, json={"object": "tasks", "connectionId": "other"})
        assert error_lines(refused, 422) == [
            f"connectionId: a tasks sync reads the account of the location's contacts sync "
            f"(connection {connection_id}): leave connectionId out"
        ]
        tasks_id = await _sync(client, {"object": "tasks"})
        notes_id = await _sync(client, {"object": "notes"})
        for sync_id in (contacts_id, tasks_id, notes_id):
            await wait_backfilled(client, sync_id)
        rita_mail = await linked_partner(db, contacts_id, rita, within=30)
        copy = await mail_task(client, await linked_partner(db, tasks_id, f"{rita}/{call['id']}"))
        assert (copy["title"], copy["contactId"], copy["dueAt"]) == ("Call Rita", rita_mail, DUE)

        # New on the remote: its webhooks bring them to the Mailsuite.
        second = {"title": "Send the offer", "dueDate": DUE, "completed": False}
        offer = (await _json(await account.post(f"/contacts/{rita}/tasks", json=second)))["task"]
        met = {"body": "Met at the fair"}
        note = (await _json(await account.post(f"/contacts/{rita}/notes", json=met)))["note"]
        offer_mail = await linked_partner(db, tasks_id, f"{rita}/{offer['id']}", within=30)
        assert (await mail_task(client, offer_mail))["title"] == "Send the offer"
        await linked_partner(db, notes_id, f"{rita}/{note['id']}", within=30)

        # New in the Mailsuite: made on the remote once; its completion follows.
        mine = {"title": "Sign", "contactId": rita_mail, "dueAt": DUE}
        sign = (await _json(await client.post(MAIL_TASKS, json=mine)))["task"]

        async def titles() -> list[str]:
            tasks = (await _json(await account.get(f"/contacts/{rita}/tasks")))["tasks"]
            return sorted(task["title"] for task in tasks)

        await poll(titles, lambda found: "Sign" in found, within=30)
        done = await client.put(f"{MAIL_TASKS}/{sign['id']}", json={"status": "done"})
        assert done.status_code == 200, done.text

        async def signed() -> bool:
            tasks = (await _json(await account.get(f"/contacts/{rita}/tasks")))["tasks"]
            return any(task["title"] == "Sign" and task["completed"] for task in tasks)

        await poll(signed, bool, within=30)
        for sync_id in (tasks_id, notes_id):
            await settled(db, sync_id, here, within=30)
        assert await titles() == ["Call Rita", "Send the offer", "Sign"]
        mail_tasks = (await _json(await client.get(MAIL_TASKS, params={"contactId": rita_mail})))[
            "tasks"
        ]
        assert sorted(task["title"] for task in mail_tasks) == await titles()
    async with db.reader() as session:
        notes = await session.scalar(
            select(func.count()).where(
                TimelineEntry.contact_id == rita_mail, TimelineEntry.kind == "note"
            )
        )
    assert notes == 1
    for sync_id in (contacts_id, tasks_id, notes_id):
        shown = (await _json(await client.get(f"{SYNCS}/{sync_id}")))["sync"]
        assert (shown["health"], shown["lastError"], shown["waiting"]) == ("ok", None, 0)


async def test_a_remote_appointment_reaches_the_timeline(
    db: Database, client: httpx.AsyncClient, server: LiveServer, remote_server: LiveServer
) -> None:
    remote = await make_tenant(db)
    async with api_client(remote_server.base_url, remote.headers) as account:
        rita = await remote_contact(account, "rita@remote.io")
        scopes = [*BOTH_SCOPES, "calendars/events.readonly"]
        hooked = ["AppointmentCreate", "AppointmentUpdate"]
        connection_id = await hooked_connection(
            client, account, server, remote, hooked, scopes=scopes
        )
        contacts_id = await _sync(client, {"connectionId": connection_id})
        sync_id = await _sync(client, {"object": "appointments"})
        for each in (contacts_id, sync_id):
            await wait_backfilled(client, each)
        rita_mail = await linked_partner(db, contacts_id, rita, within=30)
        call = {
            "calendarId": remote.calendar_id,
            "contactId": rita,
            "title": "Intro call",
            "startTime": "2026-12-21T10:00:00Z",
            "endTime": "2026-12-21T10:30:00Z",
        }
        booked = await _json(await account.post("/calendars/events/appointments", json=call))
        entry_id = await linked_partner(db, sync_id, f"{rita}/{booked['id']}", within=30)
    timeline = await _json(await client.get(f"/mailsuite/v1/contacts/{rita_mail}/timeline"))
    [entry] = [one for one in timeline["entries"] if one["id"] == entry_id]
    assert (entry["kind"], entry["body"]) == (
        "appointment",
        "Intro call: 2026-12-21T10:00:00.000Z to 2026-12-21T10:30:00.000Z (new)",
    )
