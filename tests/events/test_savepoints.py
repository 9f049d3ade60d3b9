"""A savepoint rolled back takes back what was gathered inside it for the commit (the events
and the activity counts), while the transaction's other work commits."""

import pytest

from contactflow.platform import activity, events
from contactflow.platform.db import Database, UnitOfWork
from tests.support import make_tenant

KINDS = ["ContactCreate", "ContactDelete", activity.EVENTS]


class Refused(Exception):
    pass


async def _appended_then_refused(uow: UnitOfWork, location_id: str, event_type: str) -> None:
    await events.append(uow, location_id, event_type, {"type": event_type})
    raise Refused


async def _refused(uow: UnitOfWork, location_id: str, event_type: str) -> None:
    with pytest.raises(Refused):
        async with uow.savepoint():
            await _appended_then_refused(uow, location_id, event_type)


async def _nested_then_refused(uow: UnitOfWork, location_id: str) -> None:
    async with uow.savepoint():
        # Nothing gathered yet: both savepoints begin with nothing to take back.
        async with uow.savepoint():
            pass
        await _appended_then_refused(uow, location_id, "ContactDelete")


async def _logged(db: Database, location_id: str) -> tuple[list[str], dict[str, int]]:
    async with db.unit_of_work() as uow:
        logged = await events.read_events(uow.session, location_id, after=0, limit=10)
        # The current minute and the one before: the test may straddle a minute's end.
        counts = await activity.series(uow.session, location_id, activity.MINUTE, KINDS, 2)
    return [event.type for event in logged], {kind: sum(n) for kind, n in counts.items()}


async def test_a_savepoint_rolled_back_takes_back_its_events_and_counts(db: Database) -> None:
    location_id = (await make_tenant(db)).location_id
    async with db.unit_of_work() as uow:
        await events.append(uow, location_id, "ContactCreate", {"type": "ContactCreate"})
        await _refused(uow, location_id, "ContactDelete")
        async with uow.savepoint():
            await events.append(uow, location_id, "ContactCreate", {"type": "ContactCreate"})

    logged, counted = await _logged(db, location_id)
    assert logged == ["ContactCreate", "ContactCreate"]
    assert counted == {"ContactCreate": 2, "ContactDelete": 0, activity.EVENTS: 2}


async def test_events_first_gathered_inside_a_refused_savepoint_are_not_written(
    db: Database,
) -> None:
    location_id = (await make_tenant(db)).location_id
    async with db.unit_of_work() as uow:
        await _refused(uow, location_id, "ContactDelete")
        await events.append(uow, location_id, "ContactCreate", {"type": "ContactCreate"})

    logged, counted = await _logged(db, location_id)
    assert logged == ["ContactCreate"]
    assert counted == {"ContactCreate": 1, "ContactDelete": 0, activity.EVENTS: 1}


async def test_an_outer_savepoint_takes_back_what_it_gathered_after_an_inner_one(
    db: Database,
) -> None:
    location_id = (await make_tenant(db)).location_id
    async with db.unit_of_work() as uow:
        with pytest.raises(Refused):
            await _nested_then_refused(uow, location_id)
        await events.append(uow, location_id, "ContactCreate", {"type": "ContactCreate"})

    logged, counted = await _logged(db, location_id)
    assert logged == ["ContactCreate"]
    assert counted == {"ContactCreate": 1, "ContactDelete": 0, activity.EVENTS: 1}
