"""Fixtures of the sync tests: a database of the test's own (for those that stop a backfill
mid-way), and a remote account's server and a location of its own there."""

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.support import (
    LiveServer,
    Tenant,
    api_client,
    live_server,
    make_tenant,
    migrated_database,
    server_settings,
)


@pytest.fixture
def own_settings(database_url: str, tmp_path: Path) -> Iterator[Settings]:
    """A database of this test's own, whose API server runs no workers: only the test's
    loops and workers advance the backfill, so it can stop them mid-way."""
    with migrated_database(database_url, tmp_path) as url:
        yield server_settings(url, embedded_workers=False, sync_batch_size=5)


@pytest.fixture
def quiet_server(own_settings: Settings) -> Iterator[LiveServer]:
    with live_server(own_settings) as running:
        yield running


@pytest.fixture(scope="module")
def remote_server(settings: Settings) -> Iterator[LiveServer]:
    """A remote account's server, on the session's database; the first server's workers
    deliver its webhooks."""
    with live_server(settings.model_copy(update={"embedded_workers": False})) as running:
        yield running


@dataclass(frozen=True)
class RemoteAccount:
    """A location of the remote server (`tenant`), and a client of its API (`http`)."""

    tenant: Tenant
    http: httpx.AsyncClient


@pytest.fixture
async def remote_account(db: Database, remote_server: LiveServer) -> AsyncIterator[RemoteAccount]:
    tenant = await make_tenant(db)
    async with api_client(remote_server.base_url, tenant.headers) as http:
        yield RemoteAccount(tenant, http)
