"""Servers keep a credential they have checked for at most a second (ADR 0012), so a key that
is revoked or rotated out stops working at once in the process that did it, and within five
seconds in every other server process on the same database."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from contactflow.platform.auth import api_keys
from contactflow.platform.db import Database
from tests.security.helpers import bearer, issue_key
from tests.support import LiveServer, Tenant, api_client, serve_process

# The promise to the other processes; the entries lapse after one second.
OTHER_PROCESSES_SECONDS = 5.0


@pytest.fixture
async def other_process(database_url: str) -> AsyncIterator[str]:
    """`contactflow serve` in a process of its own, on the test database: its base URL."""
    async with serve_process(database_url, embedded_workers="false") as base_url:
        yield base_url


async def status(base_url: str, key: str) -> int:
    async with api_client(base_url, bearer(key)) as http:
        return (await http.get("/contacts/")).status_code


async def test_a_revoked_or_rotated_key_stops_in_every_server_process(
    server: LiveServer, other_process: str, tenant: Tenant, db: Database
) -> None:
    # `server` runs in this process, the one that revokes; `other_process` is another.
    revoked_id, revoked = await issue_key(db, tenant.location_id)
    rotated_id, rotated = await issue_key(db, tenant.location_id)
    for base_url in (server.base_url, other_process):
        for key in (revoked, rotated, tenant.key):
            # Each server has now checked, and keeps, every one of the three.
            assert await status(base_url, key) == 200
    async with db.unit_of_work() as uow:
        await api_keys.revoke_key(uow, revoked_id)
        _, successor = await api_keys.rotate_key(uow, rotated_id, timedelta(0))
    committed = time.monotonic()

    for key in (revoked, rotated):
        assert await status(server.base_url, key) == 401
    # Not polled: the promise is about requests that arrive after the bound, whatever the
    # other process's cache held until then, so the test sends them once it has passed.
    await asyncio.sleep(max(0.0, committed + OTHER_PROCESSES_SECONDS - time.monotonic()))
    for key in (revoked, rotated):
        assert await status(other_process, key) == 401
    for base_url in (server.base_url, other_process):
        assert await status(base_url, successor) == 200
        assert await status(base_url, tenant.key) == 200
