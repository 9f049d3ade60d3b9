"""Fixtures of the webhook tests: a fresh receiver per test, isolated databases and worker
processes (for tests that must not share a database with the embedded workers of `server`)."""

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from contactflow.platform.db import Database
from tests.receiver import Receiver, running_receiver
from tests.support import checked_database
from tests.webhooks.helpers import WorkerProcess, isolated_database, worker_processes


@pytest.fixture
def receivers() -> Iterator[Callable[[], Receiver]]:
    """Starts receivers of this test only: no other test's retries reach them."""
    with ExitStack() as stack:

        def start() -> Receiver:
            return stack.enter_context(running_receiver())

        yield start


@pytest.fixture
def hook(receivers: Callable[[], Receiver]) -> Receiver:
    return receivers()


@pytest.fixture
def isolated_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    with isolated_database(database_url, tmp_path) as url:
        yield url


@pytest.fixture
async def isolated_db(isolated_url: str) -> AsyncIterator[Database]:
    async with checked_database(isolated_url) as database:
        yield database


@pytest.fixture
def workers(isolated_url: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    with worker_processes(isolated_url, tmp_path) as start:
        yield start
