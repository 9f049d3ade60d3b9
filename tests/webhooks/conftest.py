"""Fixtures of the webhook tests: a fresh receiver per test, isolated databases and worker
processes (for tests that must not share a database with the embedded workers of `server`)."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.receiver import Receiver, running_receiver
from tests.webhooks.helpers import WorkerProcess, worker_processes


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
def workers(isolated_url: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    with worker_processes(isolated_url, tmp_path) as start:
        yield start
