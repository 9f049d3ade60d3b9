"""`contactflow backup` while a server writes, `contactflow restore` into a new file: a
server on the restored database answers the same reads and delivers the webhooks of the log
as it stood (a pending delivery included)."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from contactflow.contacts.models import Contact
from contactflow.platform.db import Database
from contactflow.platform.events import Event
from contactflow.platform.webhooks import service as webhooks
from tests.receiver import running_receiver, wait_for
from tests.support import (
    Tenant,
    api_client,
    invoke_cli,
    live_server,
    make_tenant,
    migrated_database,
    server_settings,
)
from tests.webhooks.helpers import add_endpoint_row, webhook_ids

BEFORE = 10
# Writes go on while the backup runs, up to this many.
AT_MOST = 80


@pytest.fixture
def live_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL is backed up with pg_dump")
    live = tmp_path / "live"
    live.mkdir()
    with migrated_database(database_url, live) as url:
        yield url


async def _create(http: httpx.AsyncClient, name: str) -> str:
    response = await http.post("/contacts/", json={"firstName": name})
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["contact"]["id"]
    return contact_id


async def _stored(url: str, location: str) -> tuple[list[str], list[str]]:
    """The location's contact ids and event ids in the database at `url`."""
    db = Database(url)
    try:
        async with db.reader() as session:
            contacts = await session.scalars(
                select(Contact.id).where(Contact.location_id == location)
            )
            events = await session.scalars(select(Event.id).where(Event.location_id == location))
            return sorted(contacts), sorted(events)
    finally:
        await db.dispose()


async def _prepare(url: str, hook_url: str) -> Tenant:
    """A tenant with an endpoint and a test event's delivery, pending."""
    db = Database(url)
    try:
        tenant = await make_tenant(db)
        endpoint = await add_endpoint_row(db, tenant.location_id, hook_url)
        async with db.unit_of_work() as uow:
            await webhooks.send_test(uow, tenant.location_id, endpoint.id)
        return tenant
    finally:
        await db.dispose()


async def test_a_restored_backup_serves_and_delivers_where_the_log_stood(
    live_url: str, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.db"
    restored = f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
    with running_receiver() as hook:
        tenant = await _prepare(live_url, hook.url())
        # The API alone: the deliveries stay pending, the log unread, as the backup takes it.
        with live_server(server_settings(live_url, embedded_workers=False)) as first:
            async with api_client(first.base_url, tenant.headers) as http:
                before = [await _create(http, f"before{n}") for n in range(BEFORE)]
                written: list[str] = []
                done = asyncio.Event()

                async def write() -> None:
                    while not done.is_set() and len(written) < AT_MOST:
                        written.append(await _create(http, f"during{len(written)}"))

                writer = asyncio.create_task(write())
                await wait_for(lambda: len(written) >= 3, within=30)
                result = await invoke_cli(live_url, "backup", str(backup))
                done.set()
                await writer
                assert result.exit_code == 0, result.output
                assert "contactflow.key" in result.output
                reads = {
                    contact_id: (await http.get(f"/contacts/{contact_id}")).json()
                    for contact_id in before
                }

        result = await invoke_cli(restored, "restore", str(backup))
        assert result.exit_code == 0, result.output
        again = await invoke_cli(restored, "restore", str(backup))
        assert again.exit_code == 1
        assert "--force" in again.output
        contacts, events = await _stored(restored, tenant.location_id)
        assert set(before) <= set(contacts) <= set(before + written)
        assert len(contacts) > BEFORE  # some written while the backup ran, whole

        with live_server(server_settings(restored)) as second:
            async with api_client(second.base_url, tenant.headers) as http:
                for contact_id, body in reads.items():
                    answer = await http.get(f"/contacts/{contact_id}")
                    assert answer.json() == body
                query = {"locationId": tenant.location_id, "limit": "100"}
                listed = (await http.get("/contacts/", params=query)).json()["contacts"]
                assert sorted(contact["id"] for contact in listed) == contacts
            # Every event of the restored log reaches the endpoint, the test event's pending
            # delivery too.
            await wait_for(lambda: set(webhook_ids(hook.arrivals)) >= set(events), within=60)
