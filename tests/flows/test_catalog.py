"""The catalog as data: unique keys, triggers on known event types (or on none: schedules,
hooks, manual runs, record times), actions that can run."""

from contactflow.flows.catalog import CATALOG, find
from contactflow.platform.auth.scopes import KNOWN_SCOPES
from contactflow.platform.event_types import EVENT_TYPES

NEEDED = {
    "contacts.contact.created",
    "contacts.task.created",
    "contacts.task.updated",
    "contacts.task.completed",
    "contacts.note.created",
    "contacts.note.updated",
    "mailsuite.task.completed",
    "mailsuite.task.updated",
    "mailsuite.email.send",
    "mailsuite.email.send_template",
    "mailsuite.contact.upsert",
    "mailsuite.task.create",
    "mailsuite.task.update",
    "mailsuite.task.complete",
    "mailsuite.timeline.add_note",
    "mailsuite.timeline.update_note",
    "contacts.task.create",
    "contacts.task.update",
    "contacts.task.complete",
    "contacts.note.create",
    "core.filter",
    "core.delay",
    "core.error",
}


def test_the_entries_of_the_shipped_templates_exist() -> None:
    assert set(CATALOG) >= NEEDED
    assert find("contacts.nothing") is None


def test_every_entry_is_complete_data() -> None:
    for key, entry in CATALOG.items():
        described = entry.describe()
        assert described["key"] == key
        assert key.startswith(f"{entry.app}.")
        assert entry.title
        assert entry.description
        assert set(entry.scopes) <= KNOWN_SCOPES
        assert entry.input["type"] == "object"
        assert "$defs" not in entry.input, key
        assert entry.output
        assert entry.sample
        if entry.kind == "trigger":
            # Event triggers name their type; error flows' runs are started by the failed
            # run, and schedules, hooks, manual runs and record times fire without an event.
            if entry.fires == "event" and key != "core.error":
                assert entry.event_type in EVENT_TYPES, key
            else:
                assert entry.event_type is None, key
            assert entry.run is None
        elif entry.kind == "action":
            assert entry.performs, key
            assert set(entry.input.get("required", [])) <= set(entry.input["properties"]), key
            assert set(entry.sample) <= set(entry.output["properties"]), key
