"""SIGTERM to a `contactflow worker` with deliveries in flight: it finishes its current step
within the shutdown grace, or gives its leases back past it, so that another worker takes
the deliveries at once rather than once the leases run out. Nothing is lost, and what was
finished is not sent again."""

import time
from collections.abc import Callable

import pytest

from contactflow.platform.db import Database
from contactflow.platform.webhooks.models import PENDING, SUCCEEDED
from tests.receiver import Receiver, wait_for
from tests.support import make_tenant
from tests.webhooks.helpers import (
    WorkerProcess,
    add_endpoint_row,
    create_contacts,
    poll,
    stored_attempts,
    stored_deliveries,
    stored_events,
    webhook_ids,
)

pytestmark = pytest.mark.usefixtures("postgres_only")
# Far longer than the tests: a delivery taken by the second worker before this ran out was
# released by the first.
LEASE = "600"
CONTACTS = 6


async def _in_flight(
    db: Database, workers: Callable[..., WorkerProcess], hook: Receiver, **settings: str
) -> tuple[WorkerProcess, str, set[str]]:
    tenant = await make_tenant(db)
    endpoint = await add_endpoint_row(db, tenant.location_id, hook.url())
    worker = workers(lease_seconds=LEASE, **settings)
    await worker.started()
    await create_contacts(db, tenant.location_id, [f"c{n}" for n in range(CONTACTS)])
    await wait_for(lambda: hook.in_flight >= CONTACTS, within=30)
    events = {event.id for event in await stored_events(db, tenant.location_id)}
    return worker, endpoint.id, events


async def _stop(worker: WorkerProcess) -> float:
    began = time.monotonic()
    assert await worker.stop(within=30) == 0
    return time.monotonic() - began


async def test_past_the_grace_a_worker_releases_its_leases(
    isolated_db: Database, workers: Callable[..., WorkerProcess], hook: Receiver
) -> None:
    hook.delay = 8.0  # far past the grace: the step cannot finish
    first, endpoint, events = await _in_flight(
        isolated_db, workers, hook, shutdown_grace_seconds="1"
    )

    assert await _stop(first) < 1 + 10
    assert "released" in first.output()
    rows = await stored_deliveries(isolated_db, endpoint)
    assert {row.event_id for row in rows} == events
    assert all(row.state == PENDING and row.lease_owner is None for row in rows)
    assert all(row.lease_expires_at is None for row in rows)

    hook.delay = 0.0
    second = workers(lease_seconds=LEASE)
    await second.started()
    delivered = await poll(
        lambda: stored_deliveries(isolated_db, endpoint),
        lambda rows: all(row.state == SUCCEEDED for row in rows),
        within=30,
    )
    assert len(delivered) == len(events)
    # One recorded attempt each: the cancelled sends were never recorded as attempts.
    attempts = await stored_attempts(isolated_db, endpoint)
    assert sorted(attempt.delivery_id for attempt in attempts) == sorted(r.id for r in delivered)
    assert set(webhook_ids(hook.arrivals)) >= events
    assert await second.stop() == 0


async def test_within_the_grace_a_worker_finishes_its_step(
    isolated_db: Database, workers: Callable[..., WorkerProcess], hook: Receiver
) -> None:
    hook.delay = 1.5
    worker, endpoint, events = await _in_flight(
        isolated_db, workers, hook, shutdown_grace_seconds="20"
    )

    assert await _stop(worker) < 20
    rows = await stored_deliveries(isolated_db, endpoint)
    assert {row.event_id for row in rows} == events
    assert all(row.state == SUCCEEDED and row.lease_owner is None for row in rows)
    # Each event went out once: nothing finished is sent again.
    assert sorted(webhook_ids(hook.arrivals)) == sorted(events)
