"""Events caused by flows: a flow never triggers itself again (no loop), other flows chain on
them unless their trigger ignores flows' events (two-way sync without echoes)."""

from tests.flows.helpers import Hub, Json


def _note_flow(body: str, trigger: str, **options: str) -> Json:
    return {
        "trigger": {"key": trigger, "options": options},
        "steps": [
            {
                "type": "action",
                "id": "note",
                "action": "contacts.note.create",
                "input": {
                    "contactId": "{{ trigger.contactId | default(trigger.id) }}",
                    "body": body,
                },
            }
        ],
    }


async def _notes(hub: Hub, contact_id: str) -> list[str]:
    notes: list[Json] = (await hub.get(f"/contacts/{contact_id}/notes"))["notes"]
    return sorted(note["body"] for note in notes)


async def test_flow_events_chain_but_never_loop_and_can_be_ignored(hub: Hub) -> None:
    # Would loop forever if a flow were triggered by its own notes.
    looping = await hub.flow(_note_flow("again", "contacts.note.created"), name="self")
    ignoring = await hub.flow(
        _note_flow("from a person", "contacts.note.created", ignoreEventsFrom="flows"),
        name="people only",
    )
    crm = await hub.crm_contact(firstName="Echo", email="echo@example.com")
    await hub.post(f"/contacts/{crm['id']}/notes", {"body": "typed by a person"})

    # The person's note runs both flows once; "self" chains on "people only"'s note (another
    # flow's), and "people only" ignores "self"'s notes: 2 + 1 runs, then quiet.
    await hub.finished_runs(looping["id"], count=2)
    await hub.finished_runs(ignoring["id"], count=1)
    assert len(await hub.runs(looping["id"])) == 2
    assert len(await hub.runs(ignoring["id"])) == 1
    assert await _notes(hub, crm["id"]) == [
        "again",
        "again",
        "from a person",
        "typed by a person",
    ]
    # Whatever caused them, the events themselves are all in the log.
    created = (await hub.get("/events", types="NoteCreate"))["events"]
    assert len(created) == 4


async def test_a_bad_trigger_option_does_not_publish(hub: Hub) -> None:
    definition = _note_flow("x", "contacts.note.created", ignoreEventsFrom="everyone", colour="red")
    flow_id = (await hub.post("/flows", {"name": "bad", "definition": definition}))["flow"]["id"]
    response = await hub.http.post(f"/flows/{flow_id}/publish")
    assert response.status_code == 422, response.text
    assert response.json()["message"] == [
        "trigger.options.ignoreEventsFrom: one of self, flows, none",
        "trigger.options.colour: not an option of contacts.note.created",
    ]
