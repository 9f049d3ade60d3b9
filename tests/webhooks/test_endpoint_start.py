"""A new endpoint starts at the log's position at its creation: events appended before it
existed are never delivered to it, even when the fan-out had not read them yet (a worker
started later, or behind), while an endpoint made before them gets them all. The fan-out is
run by hand on a database no server's workers use, so it is behind when the endpoint is
made. Where no endpoint is enabled, the fan-out does not read a location's events one
commit at a time; an endpoint enabled again starts after what happened while it was off."""

from sqlalchemy import select, update

from contactflow.platform.db import Database
from contactflow.platform.events import ConsumerCursor, EventStream
from contactflow.platform.webhooks import service as webhooks
from contactflow.platform.webhooks.dispatch import CONSUMER, IDLE_STRIDE, fan_out
from tests.support import make_tenant
from tests.webhooks.helpers import (
    LOOPBACK_POLICY,
    add_endpoint_row,
    create_contacts,
    stored_deliveries,
    stored_events,
)


async def test_an_endpoint_gets_no_event_from_before_it_existed(isolated_db: Database) -> None:
    location = (await make_tenant(isolated_db)).location_id
    earlier = await add_endpoint_row(isolated_db, location, "http://127.0.0.1:9/earlier")
    await create_contacts(isolated_db, location, ["old1", "old2", "old3"])
    # The fan-out has not run: the three events are unread when the endpoint is made.
    endpoint = await add_endpoint_row(isolated_db, location, "http://127.0.0.1:9/new")
    await create_contacts(isolated_db, location, ["new1", "new2"])

    while await fan_out(isolated_db):
        pass

    logged = await stored_events(isolated_db, location)
    assert [event.payload["firstName"] for event in logged] == [
        "old1",
        "old2",
        "old3",
        "new1",
        "new2",
    ]
    delivered = {row.event_id for row in await stored_deliveries(isolated_db, endpoint.id)}
    assert delivered == {event.id for event in logged[3:]}
    to_earlier = {row.event_id for row in await stored_deliveries(isolated_db, earlier.id)}
    assert to_earlier == {event.id for event in logged}


async def _cursor(db: Database, location_id: str) -> int | None:
    async with db.reader() as session:
        return await session.scalar(
            select(ConsumerCursor.position).where(
                ConsumerCursor.consumer == CONSUMER, ConsumerCursor.location_id == location_id
            )
        )


async def test_a_location_with_no_enabled_endpoint_is_passed_over_until_enabled(
    isolated_db: Database,
) -> None:
    location = (await make_tenant(isolated_db)).location_id
    endpoint = await add_endpoint_row(isolated_db, location, "http://127.0.0.1:9/off")
    async with isolated_db.unit_of_work() as uow:
        await webhooks.update_endpoint(uow, location, endpoint.id, LOOPBACK_POLICY, enabled=False)
    await create_contacts(isolated_db, location, ["while-off1", "while-off2"])

    # Nothing listens: the fan-out neither reads the events nor writes a cursor for them.
    assert not await fan_out(isolated_db)
    assert await _cursor(isolated_db, location) is None

    async with isolated_db.unit_of_work() as uow:
        await webhooks.update_endpoint(uow, location, endpoint.id, LOOPBACK_POLICY, enabled=True)
    await create_contacts(isolated_db, location, ["back-on"])
    while await fan_out(isolated_db):
        pass

    logged = await stored_events(isolated_db, location)
    delivered = {row.event_id for row in await stored_deliveries(isolated_db, endpoint.id)}
    # What happened while it was disabled is not sent, as before an endpoint existed.
    assert delivered == {logged[-1].id}
    assert await _cursor(isolated_db, location) == logged[-1].seq


async def test_an_idle_location_s_cursor_moves_a_stride_at_a_time(isolated_db: Database) -> None:
    location = (await make_tenant(isolated_db)).location_id
    await create_contacts(isolated_db, location, ["idle"])
    assert not await fan_out(isolated_db)

    # As if IDLE_STRIDE events had been appended since: worth moving the cursor over.
    async with isolated_db.unit_of_work() as uow:
        await uow.session.execute(
            update(EventStream)
            .where(EventStream.location_id == location)
            .values(last_seq=EventStream.last_seq + IDLE_STRIDE)
        )
    assert await fan_out(isolated_db)
    logged = await stored_events(isolated_db, location)
    assert await _cursor(isolated_db, location) == logged[-1].seq
