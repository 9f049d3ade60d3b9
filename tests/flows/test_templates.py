"""The shipped use cases built from the catalog on the live server: notes of the Contacts
API kept on the Mailsuite timeline, updated in place; tasks copied to Mailsuite."""

from tests.flows.helpers import Hub, Json

LINK: Json = {
    "trigger": {"key": "contacts.contact.created"},
    "steps": [
        {
            "type": "action",
            "id": "contact",
            "action": "mailsuite.contact.upsert",
            "input": {"email": "{{ trigger.email }}", "crmContactId": "{{ trigger.id }}"},
        }
    ],
}
FIND: Json = {
    "type": "action",
    "id": "find",
    "action": "mailsuite.contact.find",
    "input": {"crmContactId": "{{ trigger.contactId }}"},
}
FOUND: Json = {
    "type": "filter",
    "id": "found",
    "conditions": {
        "conditions": [{"field": "steps.find.found", "operator": "equals", "value": True}]
    },
}


async def _linked_contact(hub: Hub, email: str) -> tuple[Json, str]:
    """A Contacts API contact and the id of its linked Mailsuite contact."""
    link = await hub.flow(LINK, name="Link contacts")
    crm = await hub.crm_contact(firstName="Ada", email=email)
    (run,) = await hub.finished_runs(link["id"])
    detail = await hub.run(run["id"])
    mail_contact = detail["steps"][0]["output"]
    assert mail_contact["crmContactId"] == crm["id"]
    return crm, mail_contact["id"]


async def test_notes_are_kept_on_the_timeline_and_updated_in_place(hub: Hub) -> None:
    crm, mail_contact_id = await _linked_contact(hub, "notes@example.com")
    installed = await hub.post("/flows/templates/notes-timeline/install")
    created, updated = installed["flows"]
    assert [created["name"], updated["name"]] == [
        "Notes on the timeline: created",
        "Notes on the timeline: updated",
    ]
    note = (await hub.post(f"/contacts/{crm['id']}/notes", {"body": "Prefers email"}))["note"]
    await hub.finished_runs(created["id"])
    await hub.call(
        "PUT", f"/contacts/{crm['id']}/notes/{note['id']}", 200, json={"body": "Prefers phone"}
    )
    (run,) = await hub.finished_runs(updated["id"])
    assert (await hub.run(run["id"]))["run"]["state"] == "succeeded"

    notes = [entry for entry in await hub.timeline(mail_contact_id) if entry["kind"] == "note"]
    assert [(n["body"], n["sourceSystem"], n["sourceId"]) for n in notes] == [
        ("Prefers phone", "contacts", note["id"])
    ]
    changed = (await hub.get("/events", types="TimelineEntryUpdate"))["events"]
    assert [event["payload"]["entry"]["body"] for event in changed] == ["Prefers phone"]


async def test_a_note_of_an_unlinked_contact_is_filtered_out(hub: Hub) -> None:
    flow = await hub.flow({"trigger": {"key": "contacts.note.created"}, "steps": [FIND, FOUND]})
    crm = await hub.crm_contact(firstName="Nobody", email="nobody@example.com")
    await hub.post(f"/contacts/{crm['id']}/notes", {"body": "hello"})
    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert detail["run"]["state"] == "succeeded"
    assert [step["output"] for step in detail["steps"]] == [
        {"found": False, "contact": None},
        {"passed": False},
    ]


async def test_tasks_of_the_contacts_api_are_copied_to_mailsuite(hub: Hub) -> None:
    crm, mail_contact_id = await _linked_contact(hub, "tasks@example.com")
    flow = await hub.flow(
        {
            "trigger": {"key": "contacts.task.created"},
            "steps": [
                FIND,
                {
                    "type": "action",
                    "id": "task",
                    "action": "mailsuite.task.create",
                    "input": {
                        "title": "{{ trigger.title }}",
                        "dueAt": "{{ trigger.dueDate }}",
                        "contactId": "{{ steps.find.contact.id }}",
                    },
                },
            ],
        }
    )
    body = {"title": "Send quote", "dueDate": "2026-12-10T15:00:00.000Z", "completed": False}
    await hub.post(f"/contacts/{crm['id']}/tasks", body)
    await hub.finished_runs(flow["id"])
    (task,) = await hub.mail_tasks(contactId=mail_contact_id)
    assert (task["title"], task["dueAt"], task["status"]) == (
        "Send quote",
        "2026-12-10T15:00:00.000Z",
        "open",
    )


async def test_adding_a_contact_to_a_flow_runs_that_flow_only(hub: Hub) -> None:
    def enrolled(body: str) -> Json:
        return {
            "trigger": {"key": "contacts.contact.enrolled"},
            "steps": [
                {
                    "type": "action",
                    "id": "note",
                    "action": "contacts.note.create",
                    "input": {"contactId": "{{ trigger.contactId }}", "body": body},
                }
            ],
        }

    chosen = await hub.flow(enrolled("chosen"), name="Chosen")
    other = await hub.flow(enrolled("other"), name="Other")
    crm = await hub.crm_contact(firstName="Manual", email="manual@example.com")
    await hub.post(f"/contacts/{crm['id']}/workflow/{chosen['id']}", status=200)
    (run,) = await hub.finished_runs(chosen["id"])
    assert run["input"]["contactId"] == crm["id"]
    notes = (await hub.get(f"/contacts/{crm['id']}/notes"))["notes"]
    assert [note["body"] for note in notes] == ["chosen"]
    assert await hub.runs(other["id"]) == []
