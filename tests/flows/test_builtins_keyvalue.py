"""The storage and seen-key operations under concurrency, driven by hand: of two runs seeing
a key at once exactly one finds it new, and increments at once all count."""

import asyncio
from datetime import timedelta

from contactflow.flows import keyvalue, service
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from tests.flows.test_engine import DEFINITION
from tests.support import Tenant


async def _sighting(db: Database, flow_id: str, key: str, window: timedelta) -> bool:
    async with db.unit_of_work() as uow:
        return await keyvalue.first_sighting(uow, flow_id, key, window)


async def _increment(db: Database, location_id: str) -> float:
    async with db.unit_of_work() as uow:
        return await keyvalue.increment(uow, location_id, "racing", 1)


async def test_racing_sightings_let_one_through_and_increments_all_count(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    async with quiet_db.unit_of_work() as uow:
        flow = await service.create_flow(uow, quiet_tenant.location_id, "Dedupe", DEFINITION)
    hour = timedelta(hours=1)
    first = await asyncio.gather(*(_sighting(quiet_db, flow.id, "k", hour) for _ in range(6)))
    assert sorted(first) == [False] * 5 + [True]
    # Once the window is over, one gets through again.
    async with quiet_db.unit_of_work() as uow:
        seen = await uow.session.get(keyvalue.SeenKey, (flow.id, "k"))
        assert seen is not None
        seen.seen_at = utcnow() - 2 * hour
    again = await asyncio.gather(*(_sighting(quiet_db, flow.id, "k", hour) for _ in range(6)))
    assert sorted(again) == [False] * 5 + [True]

    totals = await asyncio.gather(
        *(_increment(quiet_db, quiet_tenant.location_id) for _ in range(8))
    )
    assert sorted(totals) == [float(n) for n in range(1, 9)]
