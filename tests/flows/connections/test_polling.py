"""Polling a remote Contacts API (another live server, through an API key): its contacts
come in once each as ContactCreate, a second round adds nothing, a change comes in as one
ContactUpdate, and so does a change stamped before the last one read but committed late."""

import asyncio
from datetime import datetime, timedelta

import httpx

from contactflow.contacts.models import Contact
from contactflow.platform.db import Database
from tests.flows.connections.helpers import remote_events
from tests.flows.helpers import Hub
from tests.mailsuite.helpers import poll
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, make_tenant


async def test_polled_contacts_arrive_once(
    hub: Hub, server: LiveServer, db: Database, flows_db: Database
) -> None:
    remote = await make_tenant(db)
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=remote.headers
    ) as account:
        made = []
        for name in ("Ana", "Ben"):
            response = await account.post("/contacts/", json={"firstName": name})
            assert response.status_code == 201, response.text
            made.append(response.json()["contact"]["id"])
        created = await hub.post(
            "/connections",
            {
                "name": "Polled account",
                "kind": "contacts",
                "auth": "apiKey",
                "baseUrl": server.base_url,
                "apiKey": remote.key,
                "poll": 1,
            },
        )
        connection_id = created["connection"]["id"]
        location = hub.tenant.location_id

        async def events() -> list[tuple[str, str | None]]:
            rows = await remote_events(flows_db, location, connection_id)
            return [(row.type, row.subject_id) for row in rows]

        first = await poll(events, lambda found: len(found) >= 2)
        assert sorted(first) == sorted(("ContactCreate", contact_id) for contact_id in made)
        # Two more rounds at least, each reading the last seconds again: nothing new.
        await asyncio.sleep(2.5)
        assert await events() == first

        changed = await account.put(f"/contacts/{made[0]}", json={"lastName": "Changed"})
        assert changed.status_code == 200, changed.text
        after = await poll(events, lambda found: len(found) >= 3)
        assert after == [*first, ("ContactUpdate", made[0])]

        # A write stamped before the last version read, committed after a poll read past it
        # (a slow transaction on the remote): read again within the overlap, once.
        async with db.unit_of_work() as uow:
            late = await uow.session.get(Contact, made[1])
            assert late is not None
            late.last_name = "Late"
            stamped = datetime.fromisoformat(changed.json()["contact"]["dateUpdated"])
            late.date_updated = stamped - timedelta(seconds=1)
        last = await poll(events, lambda found: len(found) >= 4)
        assert last == [*after, ("ContactUpdate", made[1])]
    rows = await remote_events(flows_db, location, connection_id)
    assert rows[-2].payload["lastName"] == "Changed"
    assert rows[-1].payload["lastName"] == "Late"
    assert rows[0].payload["type"] == "ContactCreate"
    shown = (await hub.get(f"/connections/{connection_id}"))["connection"]
    assert shown["lastError"] is None
