"""One test per entry of the catalog, generated from its data.

An action runs as the one step of a real flow on the live server, against records made
first through the API; its output must match the entry's output schema and the change must
be there when read back (or the computed value be the right one). A trigger's cause is real:
an event caused through the API, a call to the flow's hook URL, a manual run, a failed run,
a record's time or a schedule's time coming; the flow must run, once, with a payload that
matches the entry's output schema. A step the engine performs runs inside a flow and its
record matches the entry's output schema.
"""

from collections.abc import AsyncIterator, Iterator

import pytest

from contactflow.flows.catalog import CATALOG
from contactflow.mailsuite.tracking import Links, tracking_key
from contactflow.platform.db import Database
from tests.flows.catalog_actions import RECIPES
from tests.flows.catalog_core import STEPS
from tests.flows.catalog_syncs import SYNC_TRIGGERS
from tests.flows.catalog_triggers import CAUSES
from tests.flows.catalog_world import RemoteWorld, World, problems
from tests.flows.helpers import Hub, Json, hub_of
from tests.mailsuite.smtpd import Mailbox, running_mailbox
from tests.receiver import Receiver
from tests.support import LiveServer


def _keys(kind: str) -> list[str]:
    return sorted(key for key, entry in CATALOG.items() if entry.kind == kind)


ACTIONS, TRIGGERS, STEP_KEYS = _keys("action"), _keys("trigger"), _keys("step")
# The actions that can act on a remote account (the Contacts API's).
REMOTE_ACTIONS = sorted(key for key in ACTIONS if CATALOG[key].remote is not None)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with running_mailbox() as running:
        yield running


@pytest.fixture
async def world(
    hub: Hub, mailbox: Mailbox, receiver: Receiver, flows_server: LiveServer, flows_db: Database
) -> World:
    links = Links(flows_server.base_url, await tracking_key(flows_db))
    return World(hub, mailbox, links, flows_db, receiver)


def test_every_entry_has_its_generated_test() -> None:
    """No placeholder: every action has a recipe that reads back what it changed or
    computed, every trigger a real producer, every step a run that performs it."""
    assert sorted(RECIPES) == ACTIONS
    assert sorted(CAUSES) == TRIGGERS
    assert set(SYNC_TRIGGERS) <= set(CAUSES)
    assert sorted(STEPS) == STEP_KEYS
    assert set(RECIPES) | set(CAUSES) | set(STEPS) == set(CATALOG)


def test_the_catalog_is_complete() -> None:
    assert len(CATALOG) >= 136
    for app in ("contacts", "mailsuite", "core"):
        kinds = {entry.kind for entry in CATALOG.values() if entry.app == app}
        assert {"trigger", "action"} <= kinds, app


@pytest.fixture
async def remote_world(
    hub: Hub, mailbox: Mailbox, receiver: Receiver, remote_server: LiveServer, db: Database
) -> AsyncIterator[RemoteWorld]:
    """A remote account on another server, and a connection to it (API key) in
    the hub's location, granted every scope a Contacts API action needs."""
    scopes = sorted({scope for key in REMOTE_ACTIONS for scope in CATALOG[key].scopes})
    async with hub_of(remote_server) as account:
        body = {
            "name": "Remote account",
            "kind": "contacts",
            "auth": "apiKey",
            "baseUrl": remote_server.base_url,
            "apiKey": account.tenant.key,
            "locationId": account.tenant.location_id,
            "scopes": scopes,
        }
        connection = (await hub.post("/connections", body))["connection"]
        links = Links(remote_server.base_url, await tracking_key(db))
        yield RemoteWorld(
            account, mailbox, links, db, receiver, local=hub, connection_id=connection["id"]
        )


@pytest.mark.parametrize("key", ACTIONS)
async def test_action(key: str, world: World) -> None:
    await _tried(key, world)


@pytest.mark.parametrize("key", REMOTE_ACTIONS)
async def test_action_on_a_remote_account(key: str, remote_world: RemoteWorld) -> None:
    """The same recipe, the action run through a connection to another server: its output
    has the local output's shape, and the change is there on the remote."""
    await _tried(key, remote_world)


async def _tried(key: str, world: World) -> None:
    entry = CATALOG[key]
    assert entry.performs
    step_input, check = await RECIPES[key](world)
    assert not problems(entry.input, step_input), problems(entry.input, step_input)
    step = await world.run_action(key, step_input)
    assert step["state"] == "succeeded", step
    assert not problems(entry.output, step["output"]), problems(entry.output, step["output"])
    await check(step["output"])


@pytest.mark.parametrize("key", TRIGGERS)
async def test_trigger(key: str, world: World) -> None:
    entry = CATALOG[key]
    options, cause = CAUSES[key]
    flow = await world.watch(key, options)
    expected = await cause(world, flow)
    (payload,) = await world.fired(flow)
    if entry.event_type is not None:
        assert payload["type"] == entry.event_type
    if "locationId" in entry.output.get("properties", {}):
        assert payload["locationId"] == world.hub.tenant.location_id
    assert not problems(entry.output, payload), problems(entry.output, payload)
    assert {name: payload.get(name) for name in expected} == expected


@pytest.mark.parametrize("key", STEP_KEYS)
async def test_step(key: str, world: World) -> None:
    entry = CATALOG[key]
    fields, check = STEPS[key]
    assert not problems(entry.input, fields), problems(entry.input, fields)
    step_type = key.removeprefix("core.")
    run = await world.run_steps(key, [{"type": step_type, "id": "it", **fields}])
    (performed,) = [found for found in run["steps"] if found["stepId"] == "it"]
    assert performed["action"] == key
    assert not problems(entry.output, performed["output"]), problems(entry.output, performed)
    await check(run)


async def test_contact_field_actions_refuse_input_that_changes_nothing(world: World) -> None:
    contact = await world.contact()

    def step(step_id: str, action: str, **values: object) -> Json:
        body = {"contactId": contact["id"], **values}
        return {"type": "action", "id": step_id, "action": action, "input": body}

    steps = [
        {**step("dnd", "contacts.contact.set_dnd"), "onError": {"then": "continue"}},
        {**step("field", "contacts.contact.set_custom_field", value="gold")},
    ]
    flow = await world.hub.flow(
        {"trigger": {"key": "contacts.contact.enrolled"}, "steps": steps}, name="Refusals"
    )
    await world.hub.post(f"/contacts/{contact['id']}/workflow/{flow['id']}", status=200)
    (run,) = await world.hub.finished_runs(flow["id"])
    detail = await world.hub.run(run["id"])
    assert [(found["stepId"], found["error"]) for found in detail["steps"]] == [
        ("dnd", "dnd: give dnd, dndSettings or both"),
        ("field", "id: give the custom field's id or key"),
    ]
    assert run["state"] == "failed"
