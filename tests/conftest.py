"""Fixtures: every database-backed test runs on a real SQLite file and a real PostgreSQL."""

import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from redis.asyncio import Redis

from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.receiver import Receiver, running_receiver
from tests.support import (
    LiveServer,
    Tenant,
    api_client,
    checked_database,
    live_server,
    make_tenant,
    migrated_database,
    postgres_available,
    server_settings,
)

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "postgresql" and not postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 and CI=true")
        pytest.skip("PostgreSQL is not running")
    with migrated_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        yield url


@pytest.fixture
def postgres_only(database_url: str) -> None:
    """For what only PostgreSQL does: several writing processes (SQLite has one writer),
    NOTIFY between processes."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")


@pytest.fixture
def isolated_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A new, migrated database on the session's backend that no other test's server or
    workers use: for what acts on every location, or must not meet embedded workers."""
    with migrated_database(database_url, tmp_path) as url:
        yield url


@pytest.fixture
async def isolated_db(isolated_url: str) -> AsyncIterator[Database]:
    async with checked_database(isolated_url) as database:
        yield database


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return server_settings(database_url)


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    async with checked_database(database_url) as database:
        yield database


@pytest.fixture(scope="session")
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings) as running:
        yield running


TenantFactory = Callable[..., Coroutine[Any, Any, Tenant]]


@pytest.fixture
def new_tenant(db: Database) -> TenantFactory:
    async def factory(**options: Any) -> Tenant:
        return await make_tenant(db, **options)

    return factory


@pytest.fixture
async def tenant(new_tenant: TenantFactory) -> Tenant:
    return await new_tenant()


@pytest.fixture
async def client(server: LiveServer, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(server.base_url, tenant.headers) as http:
        yield http


REDIS_URL = os.environ.get("CONTACTFLOW_TEST_REDIS", "redis://127.0.0.1:6379/9")


def _redis_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    if not _redis_reachable(REDIS_URL):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL} and CI=true")
        pytest.skip("Redis is not running")
    return REDIS_URL


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    prefix = f"cf-test-{secrets.token_hex(6)}"
    yield prefix
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
