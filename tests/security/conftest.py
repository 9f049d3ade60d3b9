"""Fixtures of the security tests: servers with settings of their own (small rate limits,
a trusted proxy) on the session's database, and a Redis for shared rate-limit counters."""

import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from tests.support import LiveServer, live_server, server_settings

REDIS_URL = os.environ.get("CONTACTFLOW_TEST_REDIS", "redis://127.0.0.1:6379/9")

StartServer = Callable[..., LiveServer]


@pytest.fixture
def start_server(database_url: str) -> Iterator[StartServer]:
    """Starts servers of this test only, on the test database, with setting overrides; their
    workers stay off (the session's server runs those on this database)."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> LiveServer:
            settings = server_settings(database_url, embedded_workers=False, **overrides)
            return stack.enter_context(live_server(settings))

        yield start


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
