"""The events of the records around contacts, read back from GET /events: notes and tasks
(NoteUpdate; TaskUpdate, TaskComplete only when a task becomes completed, nothing when an
update changes nothing), appointments and businesses (create, update, delete), with the
payloads shared/spec/events.md gives them."""

from typing import Any

import httpx

from tests.support import Tenant
from tests.webhooks.helpers import Json, create_contact, json_of, log_events

TASK_FIELDS = {
    "type",
    "locationId",
    "id",
    "contactId",
    "title",
    "body",
    "assignedTo",
    "dueDate",
    "completed",
    "dateAdded",
}
NOTE_FIELDS = {"type", "locationId", "id", "contactId", "body", "dateAdded"}


async def write(
    client: httpx.AsyncClient, method: str, path: str, body: Json | None = None
) -> Json:
    response = await client.request(method, path, json=body)
    assert response.status_code in (200, 201), (method, path, response.text)
    return json_of(response)


def only(events: list[Json], event_type: str) -> list[Json]:
    return [event for event in events if event["type"] == event_type]


async def test_note_task_appointment_and_business_writes_are_logged_with_their_payloads(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    location = tenant.location_id
    ada, bob = tenant.user_ids
    business = (await write(client, "POST", "/businesses/", {"name": "Acme", "city": "Austin"}))[
        "business"
    ]
    contact = await create_contact(client, firstName="Rec", businessId=business["id"])
    cid = contact["id"]
    records = f"/contacts/{cid}"

    note = (await write(client, "POST", f"{records}/notes", {"body": "first call"}))["note"]
    await write(client, "PUT", f"{records}/notes/{note['id']}", {"body": "second call"})

    task_body: dict[str, Any] = {"title": "Call", "dueDate": "2030-01-01T10:00:00Z"}
    task = (await write(client, "POST", f"{records}/tasks", {**task_body, "completed": False}))[
        "task"
    ]
    task_path = f"{records}/tasks/{task['id']}"
    await write(client, "PUT", task_path, {"title": "Call back", "assignedTo": ada})
    await write(client, "PUT", f"{task_path}/completed", {"completed": True})
    # Completing a completed task again changes nothing (no event); reopening it is an
    # update; completing it by a plain update is a completion.
    await write(client, "PUT", f"{task_path}/completed", {"completed": True})
    await write(client, "PUT", task_path, {"completed": False})
    await write(client, "PUT", task_path, {"completed": True})

    appointment = await write(
        client,
        "POST",
        "/calendars/events/appointments",
        {
            "calendarId": tenant.calendar_id,
            "contactId": cid,
            "title": "Demo",
            "startTime": "2030-02-01T15:00:00Z",
            "assignedUserId": ada,
        },
    )
    appointment_path = f"/calendars/events/appointments/{appointment['id']}"
    await write(client, "PUT", appointment_path, {"appointmentStatus": "confirmed", "users": [bob]})
    await write(client, "DELETE", appointment_path)

    await write(client, "PUT", f"/businesses/{business['id']}", {"name": "Acme Inc"})
    await write(client, "DELETE", f"/businesses/{business['id']}")

    logged = await log_events(client)
    types = [event["type"] for event in logged]
    assert types == [
        "BusinessCreate",
        "ContactCreate",
        "NoteCreate",
        "NoteUpdate",
        "TaskCreate",
        "TaskUpdate",
        "TaskComplete",
        "TaskUpdate",
        "TaskComplete",
        "AppointmentCreate",
        "AppointmentUpdate",
        "AppointmentDelete",
        "BusinessUpdate",
        # The member contact loses its business before the business goes.
        "ContactUpdate",
        "BusinessDelete",
    ]
    for event in logged:
        assert event["payload"]["type"] == event["type"]
        assert event["payload"]["locationId"] == location

    [updated_note] = only(logged, "NoteUpdate")
    assert set(updated_note["payload"]) == NOTE_FIELDS
    assert updated_note["payload"]["id"] == note["id"]
    assert updated_note["payload"]["contactId"] == cid
    assert updated_note["payload"]["body"] == "second call"
    assert updated_note["subjectId"] == cid

    task_events = [event for event in logged if event["type"].startswith("Task")]
    for event in task_events:
        assert set(event["payload"]) == TASK_FIELDS
        assert event["payload"]["id"] == task["id"]
        assert event["payload"]["contactId"] == cid
        assert event["subjectId"] == cid
        assert event["payload"]["dueDate"] == "2030-01-01T10:00:00.000Z"
    renamed = task_events[1]["payload"]
    assert (renamed["title"], renamed["assignedTo"], renamed["completed"]) == (
        "Call back",
        ada,
        False,
    )
    assert [event["payload"]["completed"] for event in task_events] == [
        False,
        False,
        True,
        False,
        True,
    ]

    appointment_events = [event for event in logged if event["type"].startswith("Appointment")]
    for event in appointment_events:
        # An update also says the status it had, so a status change can be told apart.
        previous = {"previousAppointmentStatus"} if event["type"] == "AppointmentUpdate" else set()
        assert set(event["payload"]) == {"type", "locationId", "appointment", *previous}
        body = event["payload"]["appointment"]
        assert body["id"] == appointment["id"]
        assert body["calendarId"] == tenant.calendar_id
        assert body["contactId"] == cid
        assert body["startTime"] == "2030-02-01T15:00:00.000Z"
        assert body["assignedUserId"] == ada
        assert event["subjectId"] == cid
    created, changed, deleted = (event["payload"]["appointment"] for event in appointment_events)
    assert (created["appointmentStatus"], created["users"], created["title"]) == ("new", [], "Demo")
    assert (changed["appointmentStatus"], changed["users"]) == ("confirmed", [bob])
    assert appointment_events[1]["payload"]["previousAppointmentStatus"] == "new"
    assert changed["endTime"] == created["endTime"]
    assert changed["dateUpdated"] >= created["dateUpdated"]
    # The deletion carries the appointment as it was last.
    assert deleted == changed

    business_events = [event for event in logged if event["type"].startswith("Business")]
    for event in business_events:
        assert set(event["payload"]) == {"type", "locationId", "business"}
        assert event["payload"]["business"]["id"] == business["id"]
        assert event["payload"]["business"]["locationId"] == location
        assert event["payload"]["business"]["city"] == "Austin"
        assert event["subjectId"] == business["id"]
    assert [event["payload"]["business"]["name"] for event in business_events] == [
        "Acme",
        "Acme Inc",
        "Acme Inc",
    ]
    unlinked = logged[-2]["payload"]
    assert unlinked["id"] == cid
    assert unlinked["businessId"] is None
    assert unlinked["changes"] == {"businessId": {"old": business["id"], "new": None}}

    # The filter reaches the record events like any other.
    response = await client.get("/events", params={"types": "TaskComplete,BusinessDelete"})
    assert response.status_code == 200, response.text
    filtered = json_of(response)["events"]
    assert [event["type"] for event in filtered] == [
        "TaskComplete",
        "TaskComplete",
        "BusinessDelete",
    ]
