"""The operator's commands, run as processes against the test database: `events tail` prints
the location's log as JSON lines, `webhooks list` and `webhooks deliveries` the endpoints and
their delivery log."""

import asyncio
import json

import httpx

from tests.receiver import Receiver, running_receiver
from tests.support import Tenant, run_cli
from tests.webhooks.helpers import (
    add_endpoint,
    create_contact,
    deliveries,
    log_events,
    poll,
    update_contact,
)


async def test_tail_list_and_deliveries_print_what_the_api_shows(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    location = tenant.location_id
    receiver: Receiver
    with running_receiver() as receiver:
        endpoint, _ = await add_endpoint(client, receiver.url(), description="crm mirror")
        paused, _ = await add_endpoint(
            client, receiver.url("/tags"), eventTypes=["ContactTagUpdate"], enabled=False
        )
        contact = await create_contact(client, firstName="Cli")
        await update_contact(client, contact["id"], lastName="Tail")
        rows = await poll(
            lambda: deliveries(client, endpoint["id"]),
            lambda rows: len(rows) == 2 and {row["state"] for row in rows} == {"succeeded"},
        )
    logged = await log_events(client)

    # One process each (they start in parallel: a start costs seconds on a busy runner).
    tail, listed, delivered = await asyncio.gather(
        run_cli(database_url, "events", "tail", "--location", location, "--no-follow"),
        run_cli(database_url, "webhooks", "list", "--location", location),
        run_cli(
            database_url,
            "webhooks",
            "deliveries",
            "--location",
            location,
            "--endpoint",
            endpoint["id"],
        ),
    )

    assert [json.loads(line) for line in tail.splitlines()] == logged

    lines = listed.splitlines()
    [active] = [line for line in lines if endpoint["id"] in line]
    assert receiver.url() in active
    assert "all" in active
    assert " yes " in active
    [inactive] = [line for line in lines if paused["id"] in line]
    assert "ContactTagUpdate" in inactive
    assert " no " in inactive

    for row in rows:
        [line] = [line for line in delivered.splitlines() if row["id"] in line]
        assert row["eventId"] in line
        assert row["eventType"] in line
        assert "succeeded" in line
        assert " 200 " in line
