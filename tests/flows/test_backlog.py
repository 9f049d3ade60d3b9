"""Backpressure on incoming webhooks: past the configured backlog of runs waiting to run, a
hook answers 503 with Retry-After and starts nothing; GET /flows/backlog shows the backlog
and the lag of its oldest run. And a caller that goes away in the middle of its body is no
error of the server's."""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.flows.helpers import Hub, hook_flow, hub_of
from tests.receiver import wait_for
from tests.support import (
    LiveServer,
    live_server,
    migrated_database,
    server_settings,
)

LIMIT = 2


@pytest.fixture
def idle_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A server on a database of its own without workers: its runs stay queued."""
    with migrated_database(database_url, tmp_path) as url:
        settings = server_settings(url, embedded_workers=False, flow_backlog_limit=LIMIT)
        with live_server(settings) as running:
            yield running


@pytest.fixture
async def idle_hub(idle_server: LiveServer) -> AsyncIterator[Hub]:
    async with hub_of(idle_server) as hub:
        yield hub


async def test_past_the_backlog_limit_a_hook_is_refused_with_retry_after(idle_hub: Hub) -> None:
    hub = idle_hub
    empty = await hub.get("/flows/backlog")
    assert empty == {"runs": 0, "oldestDueAt": None, "lagSeconds": 0.0, "limit": LIMIT}
    flow = await hub.flow(hook_flow())
    public = {"Authorization": "", "Content-Type": "application/json"}

    for order in range(LIMIT):
        accepted = await hub.http.post(flow["hookPath"], json={"order": order}, headers=public)
        assert accepted.status_code == 202, accepted.text
    backlog = await hub.get("/flows/backlog")
    assert (backlog["runs"], backlog["limit"]) == (LIMIT, LIMIT)
    [first, *_] = sorted(run["createdAt"] for run in await hub.runs(flow["id"]))
    assert backlog["oldestDueAt"] == first
    assert backlog["lagSeconds"] >= 0

    refused = await hub.http.post(flow["hookPath"], json={"order": 99}, headers=public)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "30"
    body = refused.json()
    assert body["statusCode"] == 503
    assert body["message"].startswith("The flow run backlog is full: 2 or more runs wait to run")
    assert body["meta"] == {"backlogLimit": LIMIT}
    assert body["traceId"] == refused.headers["x-trace-id"]
    assert len(await hub.runs(flow["id"])) == LIMIT
    # The lag grows while nothing runs.
    later = await hub.get("/flows/backlog")
    assert later["oldestDueAt"] == first
    assert later["lagSeconds"] >= backlog["lagSeconds"]


async def test_a_caller_gone_in_the_middle_of_its_body_is_no_error(
    idle_hub: Hub, idle_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="contactflow")
    flow = await idle_hub.flow(hook_flow())
    address = urlsplit(idle_server.base_url)
    _, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(
        f"POST {flow['hookPath']} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        '{"order": 1, "lines": ['.encode()
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()

    def noted() -> bool:
        return any("client disconnected" in record.getMessage() for record in caplog.records)

    await wait_for(noted, within=10)
    # The server's own loggers: asyncio's are left out, as the garbage collector may report
    # there, at any moment, a connection another test left behind.
    errors = [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR and record.name.startswith(("contactflow", "uvicorn"))
    ]
    assert errors == []
    assert await idle_hub.runs(flow["id"]) == []
