"""The operator's commands, run against the test database: `events tail` prints the
location's log as JSON lines, `webhooks list` and `webhooks deliveries` the endpoints and
their delivery log; `webhooks resend` and `webhooks recover` queue failed deliveries again
(each in this process: a process of its own costs seconds of start-up)."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx

from tests.receiver import Receiver, running_receiver
from tests.support import Tenant, cli_output, invoke_cli
from tests.webhooks.helpers import (
    add_endpoint,
    create_contact,
    deliveries,
    log_events,
    poll,
    update_contact,
)

SINCE = "%Y-%m-%dT%H:%M:%S"  # how `--since` is written (UTC)


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

    tail = await cli_output(database_url, "events", "tail", "--location", location, "--no-follow")
    listed = await cli_output(database_url, "webhooks", "list", "--location", location)
    delivered = await cli_output(
        database_url, "webhooks", "deliveries", "--location", location, "--endpoint", endpoint["id"]
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


async def test_resend_and_recover_queue_failed_deliveries_again(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    location = tenant.location_id
    receiver: Receiver
    with running_receiver() as receiver:
        endpoint, _ = await add_endpoint(client, receiver.url())
        endpoint_id = endpoint["id"]
        where = ("--location", location, "--endpoint", endpoint_id)

        async def states() -> dict[str, tuple[str, int]]:
            rows = await deliveries(client, endpoint_id)
            return {row["eventId"]: (row["state"], row["attempts"]) for row in rows}

        # A 400 fails a delivery at once; `resend` sends it again.
        receiver.fail_next(400)
        await create_contact(client, firstName="Once")
        [first] = await poll(
            lambda: deliveries(client, endpoint_id),
            lambda rows: [row["state"] for row in rows] == ["failed"],
        )
        assert (first["attempts"], first["lastStatus"]) == (1, 400)
        resent = await invoke_cli(database_url, "webhooks", "resend", *where, first["id"])
        assert resent.exit_code == 0, resent.output
        assert f"delivery {first['id']} queued" in resent.stdout
        await poll(states, lambda now: now[first["eventId"]] == ("succeeded", 2))
        # Another location's delivery is not found, whoever asks.
        elsewhere = await invoke_cli(
            database_url,
            *("webhooks", "resend", "--location", "someOtherLocation0000001"),
            *("--endpoint", endpoint_id, first["id"]),
        )
        assert elsewhere.exit_code == 1
        assert "not found" in elsewhere.stdout

        # `recover --since T` queues the failures of deliveries made since T, and no others.
        receiver.fail_next(400, 400, 400)
        await create_contact(client, firstName="Before")
        now = await poll(states, lambda now: len(now) == 2 and ("failed", 1) in now.values())
        [before] = [event for event, state in now.items() if state == ("failed", 1)]
        since = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        await asyncio.sleep((since - datetime.now(UTC)).total_seconds() + 0.01)
        await create_contact(client, firstName="After1")
        await create_contact(client, firstName="After2")
        await poll(states, lambda now: list(now.values()).count(("failed", 1)) == 3)
        later = since + timedelta(minutes=5)
        none = await invoke_cli(
            database_url, "webhooks", "recover", *where, "--since", later.strftime(SINCE)
        )
        assert none.exit_code == 0, none.output
        assert "0 deliveries queued" in none.stdout
        recovered = await invoke_cli(
            database_url, "webhooks", "recover", *where, "--since", since.strftime(SINCE)
        )
        assert recovered.exit_code == 0, recovered.output
        assert "2 deliveries queued" in recovered.stdout
        done = await poll(
            states, lambda now: [state for state, _ in now.values()].count("succeeded") == 3
        )
    assert done.pop(before) == ("failed", 1)
    assert list(done.values()) == [("succeeded", 2)] * 3
