"""Which locations a consumer of the log is woken for: every location with events past its
cursor, or, for a consumer of some event types, only those with such an event past it or so
many others that its cursor is worth moving."""

from contactflow.platform import events
from contactflow.platform.db import Database
from tests.support import make_tenant

WATCHED = ("ContactCampaignAdd",)


async def _append(db: Database, location_id: str, event_type: str, count: int = 1) -> None:
    async with db.unit_of_work() as uow:
        for _ in range(count):
            await events.append(uow, location_id, event_type, {"type": event_type})


async def test_a_consumer_of_some_types_is_woken_only_where_they_are(db: Database) -> None:
    quiet, watched, busy = [(await make_tenant(db)).location_id for _ in range(3)]
    await _append(db, quiet, "ContactCreate", 2)
    await _append(db, watched, "ContactCreate")
    await _append(db, watched, "ContactCampaignAdd")
    await _append(db, busy, "ContactCreate", 5)
    ours = {quiet, watched, busy}

    every_event = events.behind_query("test-consumer")
    some_types = events.behind_query("test-consumer", WATCHED, stride=5)
    everything = await events.locations_behind(db, every_event)
    assert ours <= set(everything)
    some = await events.locations_behind(db, some_types)
    assert ours & set(some) == {watched, busy}

    # Past the cursor, the watched event no longer counts.
    async with db.unit_of_work() as uow:
        cursor = await events.lock_cursor(uow, "test-consumer", watched)
        assert cursor is not None
        cursor.position = 2
    await _append(db, watched, "ContactCreate")
    some = await events.locations_behind(db, some_types)
    assert ours & set(some) == {busy}
    assert watched in await events.locations_behind(db, every_event)
