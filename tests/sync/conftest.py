"""Fixtures of the sync tests that stop a backfill mid-way: a database of the test's own."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from contactflow.settings import Settings
from tests.support import LiveServer, live_server, migrated_database, server_settings


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
