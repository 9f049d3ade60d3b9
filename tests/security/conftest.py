"""Fixtures of the security tests: servers with settings of their own (small rate limits,
a trusted proxy) on the session's database (Redis for shared counters: tests/conftest.py)."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.support import LiveServer, live_server, server_settings

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
