"""PostgreSQL: workers recording failures and successes of one endpoint at once take its
locks in one order, so no recording transaction dies of a deadlock (its batch would then be
sent again once the leases ran out)."""

import asyncio
from datetime import timedelta

import pytest

from contactflow.platform.db import Database
from contactflow.platform.jobs import RetrySchedule
from contactflow.platform.webhooks.delivery import Deliverer, DeliverySettings
from contactflow.platform.webhooks.dispatch import fan_out
from contactflow.platform.webhooks.models import SUCCEEDED, WebhookDelivery
from contactflow.platform.webhooks.signing import installation_signer
from contactflow.platform.webhooks.ssrf import UrlPolicy
from contactflow.platform.webhooks.transport import Poster
from tests.receiver import Receiver
from tests.support import make_tenant
from tests.webhooks.helpers import add_endpoint_row, create_contacts, poll, stored_deliveries

CONTACTS = 60
WORKERS = 4
LOOPBACK = UrlPolicy(allow_http=True, allowed=["127.0.0.1"])


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_workers_recording_failures_and_successes_of_one_endpoint_never_deadlock(
    isolated_db: Database, hook: Receiver
) -> None:
    tenant = await make_tenant(isolated_db)
    endpoint = await add_endpoint_row(isolated_db, tenant.location_id, hook.url())
    await create_contacts(isolated_db, tenant.location_id, [f"n{n}" for n in range(CONTACTS)])
    assert await fan_out(isolated_db)
    # Every other answer fails: each batch records failures (the endpoint's issue, then the
    # endpoint) beside other workers' successes (the endpoint recovering, then its issue).
    hook.fail_next(*[500, 200] * CONTACTS)
    settings = DeliverySettings(
        schedule=RetrySchedule((0.0,) * 50),
        lease=timedelta(seconds=60),
        batch_size=4,
        disable_after=timedelta(days=5),
        timeout_seconds=30,
    )
    signer = await installation_signer(isolated_db)
    poster = Poster()
    deliverers = [
        Deliverer(isolated_db, poster, signer, LOOPBACK, settings, f"w{n}") for n in range(WORKERS)
    ]

    async def drain(deliverer: Deliverer) -> None:
        while await deliverer.step():
            pass

    async def delivered() -> list[WebhookDelivery]:
        await asyncio.gather(*(drain(deliverer) for deliverer in deliverers))
        return await stored_deliveries(isolated_db, endpoint.id)

    try:
        rows = await poll(
            delivered,
            lambda rows: len(rows) == CONTACTS and all(row.state == SUCCEEDED for row in rows),
            within=240,
        )
    finally:
        await poster.aclose()
    assert sum(row.attempts for row in rows) == len(hook.arrivals)
