"""`kill -9` of a `contactflow worker` while deliveries are in flight loses nothing: once
another worker starts (and the dead one's leases expire) every event arrives; a repeat
carries the same webhook-id and body, so receivers de-duplicate."""

import json
from collections import defaultdict
from collections.abc import Callable

from contactflow.platform.db import Database
from contactflow.platform.webhooks.models import SUCCEEDED
from tests.receiver import Receiver, wait_for
from tests.support import make_tenant
from tests.webhooks.helpers import (
    WorkerProcess,
    add_endpoint_row,
    assert_per_subject_order,
    create_contacts,
    poll,
    rename_contacts,
    stored_deliveries,
    stored_events,
    webhook_ids,
)

LEASE = "2"


async def test_a_killed_worker_loses_no_delivery(
    isolated_db: Database, workers: Callable[..., WorkerProcess], hook: Receiver
) -> None:
    tenant = await make_tenant(isolated_db)
    location = tenant.location_id
    endpoint = await add_endpoint_row(isolated_db, location, hook.url())
    # Long enough that the killed worker's requests are still open when the test counts them,
    # however slowly a loaded machine gets from the kill to the count.
    hook.delay = 2.0
    first = workers(lease_seconds=LEASE)
    await first.started()
    ids = await create_contacts(isolated_db, location, [f"c{n}" for n in range(12)])
    await rename_contacts(isolated_db, location, ids, "1")
    await wait_for(lambda: hook.in_flight >= 4, within=20)
    first.kill()
    killed_in_flight = hook.in_flight
    assert killed_in_flight >= 1

    # Written while no worker runs, then taken over by a new one.
    await rename_contacts(isolated_db, location, ids, "2")
    hook.delay = 0.05
    # Its own claims hold longer: a slow step on a busy machine must not outlive them.
    second = workers(lease_seconds="10")
    await second.started()
    events = await stored_events(isolated_db, location)
    assert len(events) == 36
    expected = {event.id for event in events}
    await wait_for(lambda: set(webhook_ids(hook.arrivals)) >= expected, within=60)
    # What was in flight when the worker died went out again, under the same id.
    assert len(hook.arrivals) > len(expected)

    bodies: defaultdict[str, set[bytes]] = defaultdict(set)
    for arrival in hook.arrivals:
        bodies[arrival.headers["webhook-id"]].add(arrival.body)
    assert set(bodies) == expected
    for event_id, seen in bodies.items():
        assert len(seen) == 1, f"{event_id} arrived with different bodies"
        assert json.loads(next(iter(seen)))["webhookId"] == event_id
    assert_per_subject_order(events, webhook_ids(hook.arrivals))

    rows = await poll(
        lambda: stored_deliveries(isolated_db, endpoint.id),
        lambda rows: len(rows) == len(expected) and all(row.state == SUCCEEDED for row in rows),
    )
    assert all(row.attempts >= 1 for row in rows)
    assert await second.stop() == 0
    assert "stopping" in second.output()
