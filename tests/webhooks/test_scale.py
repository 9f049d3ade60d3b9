"""PostgreSQL: four `contactflow worker` processes deliver 2,000 events to a healthy
receiver exactly once each, keeping every contact's events in sequence order."""

from collections import Counter
from collections.abc import Callable

import pytest

from contactflow.platform import event_types, events
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
    stored_attempts,
    stored_deliveries,
    stored_events,
    webhook_ids,
)

CONTACTS = 400
UPDATES_PER_CONTACT = 4
BATCH = 200
TOTAL = CONTACTS * (1 + UPDATES_PER_CONTACT)


async def write_events(db: Database, location: str) -> None:
    """Creates through the contacts service, then rounds of updates appended to the log (as
    the service does), 200 a transaction."""
    ids: list[str] = []
    for first in range(0, CONTACTS, BATCH):
        ids += await create_contacts(db, location, [f"n{first + n}" for n in range(BATCH)])
    for round_ in range(UPDATES_PER_CONTACT):
        for first in range(0, CONTACTS, BATCH):
            async with db.unit_of_work() as uow:
                for contact_id in ids[first : first + BATCH]:
                    payload = {
                        "type": event_types.CONTACT_UPDATE,
                        "locationId": location,
                        "id": contact_id,
                        "lastName": f"R{round_}",
                    }
                    await events.append(
                        uow, location, event_types.CONTACT_UPDATE, payload, subject_id=contact_id
                    )


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_four_workers_deliver_2000_events_exactly_once_in_contact_order(
    isolated_db: Database, workers: Callable[..., WorkerProcess], hook: Receiver
) -> None:
    tenant = await make_tenant(isolated_db)
    location = tenant.location_id
    endpoint = await add_endpoint_row(isolated_db, location, hook.url())
    # The workers start (and deliver) while the events are written. A receiver that takes
    # eight workers' batches at once on a loaded machine may answer after the default 15 s:
    # that attempt would time out and be sent again, which is not what this test is about.
    processes = [workers(lease_seconds="180", webhook_timeout_seconds="90") for _ in range(4)]
    await write_events(isolated_db, location)
    logged = await stored_events(isolated_db, location)
    assert [event.seq for event in logged] == list(range(1, TOTAL + 1))
    for process in processes:
        await process.started()

    # Generous bounds: a shared, busy runner can take minutes where an idle one takes seconds.
    await wait_for(lambda: len(hook.arrivals) >= TOTAL, within=150)
    rows = await poll(
        lambda: stored_deliveries(isolated_db, endpoint.id),
        lambda rows: len(rows) == TOTAL and all(row.state == SUCCEEDED for row in rows),
        within=30,
    )
    delivered = webhook_ids(hook.arrivals)
    counts = Counter(delivered)
    assert set(counts) == {event.id for event in logged}
    attempts = await stored_attempts(isolated_db, endpoint.id)
    repeated = [event_id for event_id, count in counts.items() if count > 1]
    failed = Counter((a.error or str(a.status_code)).split(":")[0] for a in attempts)
    assert not repeated, (len(repeated), failed, [process.failures() for process in processes])
    assert len(delivered) == TOTAL
    assert all(arrival.status == 200 for arrival in hook.arrivals)
    assert_per_subject_order(logged, delivered)
    # One successful attempt per delivery; a retry is logged only after a network error
    # (a keep-alive connection the receiver had just closed), which never reached it.
    successes = Counter(attempt.delivery_id for attempt in attempts if attempt.status_code == 200)
    assert set(successes.values()) == {1}
    assert len(successes) == TOTAL
    others = [(a.status_code, a.error) for a in attempts if a.status_code != 200]
    assert all(status is None and error for status, error in others), others
    assert sum(row.attempts for row in rows) == len(attempts)
    for process in processes:
        assert await process.stop() == 0
