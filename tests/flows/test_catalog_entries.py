"""One test per Contacts API and Mailsuite entry of the catalog, generated from its data.

An action runs as the one step of a real flow on the live server, against records made
first through the API; its output must match the entry's output schema and the change must
be there when read back. A trigger's event is caused through the API; the flow must run,
once, with a payload that matches the entry's output schema.
"""

from collections.abc import Iterator

import pytest

from contactflow.flows.catalog import CATALOG
from contactflow.mailsuite.tracking import Links, tracking_key
from contactflow.platform.db import Database
from tests.flows.catalog_actions import RECIPES
from tests.flows.catalog_triggers import CAUSES
from tests.flows.catalog_world import World, problems
from tests.flows.helpers import Hub
from tests.mailsuite.smtpd import Mailbox, running_mailbox
from tests.support import LiveServer

APPS = ("contacts", "mailsuite")
# Added beside this file's entries, each tested where it is made.
ELSEWHERE = {"contacts.task.due", "contacts.appointment.starting"}
OURS = {key: entry for key, entry in CATALOG.items() if entry.app in APPS and key not in ELSEWHERE}
ACTIONS = sorted(key for key, entry in OURS.items() if entry.kind == "action")
TRIGGERS = sorted(key for key, entry in OURS.items() if entry.kind == "trigger")


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with running_mailbox() as running:
        yield running


@pytest.fixture
async def world(hub: Hub, mailbox: Mailbox, flows_server: LiveServer, flows_db: Database) -> World:
    return World(hub, mailbox, Links(flows_server.base_url, await tracking_key(flows_db)))


def test_every_entry_has_its_generated_test() -> None:
    assert sorted(RECIPES) == ACTIONS
    assert sorted(CAUSES) == TRIGGERS


def test_the_catalog_is_complete() -> None:
    assert len(OURS) >= 95
    # The whole catalog, the built-in app's entries included.
    assert len(CATALOG) >= 126


@pytest.mark.parametrize("key", ACTIONS)
async def test_action(key: str, world: World) -> None:
    entry = CATALOG[key]
    assert entry.run is not None
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
    assert payload["type"] == entry.event_type
    assert payload["locationId"] == world.hub.tenant.location_id
    assert not problems(entry.output, payload), problems(entry.output, payload)
    assert {name: payload.get(name) for name in expected} == expected
