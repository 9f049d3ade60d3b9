"""Syncs onto the Mailsuite timeline: a linked contact's notes and appointments become
entries on its partner's timeline, one way; an edited note or a rescheduled appointment
changes its entry in place; a deleted note takes its entry with it when deletes propagate."""

import httpx
from sqlalchemy import func, select

from contactflow.mailsuite.models import TimelineEntry
from contactflow.platform.db import Database
from tests.contacts.helpers import create_contact
from tests.mailsuite.helpers import json_of, poll
from tests.support import Tenant
from tests.sync.helpers import SYNCS, Json, settled, wait_backfilled
from tests.sync.test_tasks import contacts_synced, linked, partner

APPOINTMENTS = "/calendars/events/appointments"
LATER = "2026-12-22T15:00:00Z"


async def entry(client: httpx.AsyncClient, contact_id: str, entry_id: str) -> Json | None:
    """The entry on the Mailsuite contact's timeline, or None when it is not there."""
    response = await client.get(f"/mailsuite/v1/contacts/{contact_id}/timeline")
    assert response.status_code == 200, response.text
    entries: list[Json] = json_of(response)["entries"]
    return next((found for found in entries if found["id"] == entry_id), None)


async def timeline_sync(client: httpx.AsyncClient, sync_object: str, **fields: object) -> Json:
    created = await client.post(SYNCS, json={"object": sync_object, **fields})
    assert created.status_code == 201, created.text
    sync: Json = json_of(created)["sync"]
    assert sync["direction"] == "crmToMailsuite"
    return sync


async def test_a_note_appears_on_the_partner_timeline_and_an_edit_updates_it(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    contacts_id, (ada,) = await contacts_synced(client, "ada")
    ada_mail = await linked(db, contacts_id, ada)
    before = await client.post(f"/contacts/{ada}/notes", json={"body": "Met at the fair"})
    assert before.status_code == 201, before.text
    note_before: Json = json_of(before)["note"]

    sync = await timeline_sync(client, "notes", onDelete="propagate")
    assert [(e["crm"], e["mailsuite"]) for e in sync["mapping"]] == [("body", "body")]
    await wait_backfilled(client, sync["id"])
    first = await entry(client, ada_mail, await linked(db, sync["id"], note_before["id"]))
    assert first is not None
    assert (first["kind"], first["body"]) == ("note", "Met at the fair")
    assert (first["sourceSystem"], first["sourceId"]) == ("contacts", note_before["id"])

    made = await client.post(f"/contacts/{ada}/notes", json={"body": "Wants a demo"})
    assert made.status_code == 201, made.text
    note: Json = json_of(made)["note"]
    entry_id = await linked(db, sync["id"], note["id"])
    edited = await client.put(
        f"/contacts/{ada}/notes/{note['id']}", json={"body": "Demo on Friday"}
    )
    assert edited.status_code == 200, edited.text
    await poll(
        lambda: entry(client, ada_mail, entry_id),
        lambda found: found is not None and found["body"] == "Demo on Friday",
    )

    deleted = await client.delete(f"/contacts/{ada}/notes/{note_before['id']}")
    assert deleted.status_code == 200, deleted.text
    await poll(lambda: entry(client, ada_mail, first["id"]), lambda found: found is None)
    assert await partner(db, sync["id"], note_before["id"]) is None
    await settled(db, sync["id"], tenant.location_id)
    async with db.reader() as session:
        notes_on_timeline = await session.scalar(
            select(func.count())
            .select_from(TimelineEntry)
            .where(TimelineEntry.contact_id == ada_mail, TimelineEntry.kind == "note")
        )
    assert notes_on_timeline == 1


async def test_an_appointment_becomes_an_entry_changed_with_its_status(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    contacts_id, (ada,) = await contacts_synced(client, "ada")
    ada_mail = await linked(db, contacts_id, ada)
    sync = await timeline_sync(client, "appointments")
    await wait_backfilled(client, sync["id"])
    booked = await client.post(
        APPOINTMENTS,
        json={
            "calendarId": tenant.calendar_id,
            "contactId": ada,
            "title": "Intro call",
            "startTime": "2026-12-21T10:00:00Z",
            "endTime": "2026-12-21T10:30:00Z",
        },
    )
    assert booked.status_code == 201, booked.text
    appointment: Json = json_of(booked)
    entry_id = await linked(db, sync["id"], appointment["id"])
    first = await entry(client, ada_mail, entry_id)
    assert first is not None
    assert first["kind"] == "appointment"
    assert first["body"] == (
        "Intro call: 2026-12-21T10:00:00.000Z to 2026-12-21T10:30:00.000Z (new)"
    )

    confirmed = await client.put(
        f"{APPOINTMENTS}/{appointment['id']}", json={"appointmentStatus": "confirmed"}
    )
    assert confirmed.status_code == 200, confirmed.text
    await poll(
        lambda: entry(client, ada_mail, entry_id),
        lambda found: found is not None and found["body"].endswith("(confirmed)"),
    )
    # An appointment of a contact the contacts sync has not linked waits for it.
    nobody = await create_contact(client, firstName="Nobody")
    waits = await client.post(
        APPOINTMENTS,
        json={"calendarId": tenant.calendar_id, "contactId": nobody["id"], "startTime": LATER},
    )
    assert waits.status_code == 201, waits.text
    await settled(db, sync["id"], tenant.location_id)
    shown = json_of(await client.get(f"{SYNCS}/{sync['id']}"))["sync"]
    assert (shown["linked"], shown["waiting"]) == (1, 1)


async def test_notes_both_ways_bring_timeline_notes_back_as_notes(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    contacts_id, (ada,) = await contacts_synced(client, "ada")
    ada_mail = await linked(db, contacts_id, ada)
    sync = await client.post(SYNCS, json={"object": "notes", "direction": "both"})
    assert sync.status_code == 201, sync.text
    sync_id = json_of(sync)["sync"]["id"]
    await wait_backfilled(client, sync_id)
    timeline = f"/mailsuite/v1/contacts/{ada_mail}/timeline"
    entries = [
        {"kind": "note", "body": "Called back"},
        # Not a note; and a copy of a Contacts API note (a template's): neither comes back.
        {"kind": "email_sent", "body": "Welcome"},
        {"kind": "note", "body": "Copied", "sourceSystem": "contacts", "sourceId": "n1"},
    ]
    made = []
    for body in entries:
        added = await client.post(timeline, json=body)
        assert added.status_code == 201, added.text
        made.append(json_of(added)["entry"])

    async def notes() -> list[Json]:
        listed = await client.get(f"/contacts/{ada}/notes")
        assert listed.status_code == 200, listed.text
        found: list[Json] = json_of(listed)["notes"]
        return found

    back = (await poll(notes, lambda found: len(found) == 1))[0]
    assert back["body"] == "Called back"
    assert await linked(db, sync_id, back["id"]) == made[0]["id"]
    edited = await client.put(f"/contacts/{ada}/notes/{back['id']}", json={"body": "Called twice"})
    assert edited.status_code == 200, edited.text
    await poll(
        lambda: entry(client, ada_mail, made[0]["id"]),
        lambda found: found is not None and found["body"] == "Called twice",
    )
    await settled(db, sync_id, tenant.location_id)
    assert [note["body"] for note in await notes()] == ["Called twice"]
