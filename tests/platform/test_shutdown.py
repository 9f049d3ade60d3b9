"""SIGTERM to `contactflow serve` under slow requests: it stops accepting connections at
once, answers every request in flight, then stops its embedded workers (the app's shutdown)
and exits."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from contactflow.platform.db import Database
from tests.platform.slow_serve import STARTED
from tests.support import (
    CLIENT_TIMEOUT_SECONDS,
    api_client,
    cli_env,
    make_tenant,
    migrated_database,
)

GRACE = 15
REQUESTS = 4


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    log: Path
    base_url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def printed(self, text: str, times: int = 1) -> None:
        deadline = time.monotonic() + 60
        while self.output().count(text) < times:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            await asyncio.sleep(0.05)


@contextmanager
def slow_serve(url: str, directory: Path) -> Iterator[Served]:
    """`contactflow serve` with slow Contacts API reads, in its own process group (killed
    with its group at the end, whatever happened)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    log = directory / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "tests.platform.slow_serve", "--port", str(port)],
            env=cli_env(url, shutdown_grace_seconds=str(GRACE)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Served(process, log, f"http://127.0.0.1:{port}")
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def own_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    if not database_url.startswith("sqlite"):
        pytest.skip("one backend is enough: the HTTP server's shutdown is the same on both")
    with migrated_database(database_url, tmp_path) as url:
        yield url


async def test_sigterm_answers_the_requests_in_flight(own_url: str, tmp_path: Path) -> None:
    db = Database(own_url)
    try:
        tenant = await make_tenant(db)
    finally:
        await db.dispose()
    with slow_serve(own_url, tmp_path) as served:
        await served.printed("Uvicorn running")
        async with api_client(served.base_url, tenant.headers) as http:
            query = {"locationId": tenant.location_id}
            reads = [
                asyncio.create_task(http.get("/contacts/", params=query)) for _ in range(REQUESTS)
            ]
            await served.printed(STARTED, REQUESTS)
            stopped_at = time.monotonic()
            served.process.send_signal(signal.SIGTERM)
            answers = await asyncio.gather(*reads)

            assert [answer.status_code for answer in answers] == [200] * REQUESTS
            # No new connection is taken once it is told to stop.
            with pytest.raises(httpx.ConnectError):
                async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS) as fresh:
                    await fresh.get(f"{served.base_url}/health")
        while served.process.poll() is None:
            assert time.monotonic() - stopped_at < 2 * GRACE, served.output()
            await asyncio.sleep(0.05)
        # uvicorn ends by raising the signal it was stopped with again, once shut down.
        assert served.process.returncode == -signal.SIGTERM, served.output()
        assert "Application shutdown complete" in served.output()
