"""A new endpoint starts at the log's position at its creation: events appended before it
existed are never delivered to it, even when the fan-out had not read them yet (a worker
started later, or behind), while an endpoint made before them gets them all. The fan-out is
run by hand on a database no server's workers use, so it is behind when the endpoint is
made."""

from contactflow.platform.db import Database
from contactflow.platform.webhooks.dispatch import fan_out
from tests.support import make_tenant
from tests.webhooks.helpers import (
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
