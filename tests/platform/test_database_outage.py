"""An API process and a worker on a PostgreSQL server of their own, under a load of mixed reads
and writes, while that server is stopped and started again. During the outage both say they
are not ready, naming the database, and the API answers each request with a 503 envelope
(none hangs); once the server is back both are ready again without being restarted, every
acknowledged write reads back, every event reached the webhook receiver (twice only if its
first sending was in flight during the outage) and every contact created ran the flow once."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contactflow.platform.db import Database
from tests.flows.helpers import CREATED_TASK_FLOW, Hub
from tests.platform.cluster import (
    API_SETTINGS,
    WORKER_SETTINGS,
    Load,
    PrivatePostgres,
    check_deliveries,
    check_runs,
    private_postgres,
    processes,
    read_back,
    settled,
    spawn,
)
from tests.receiver import running_receiver
from tests.support import (
    CONTACTFLOW,
    SERVE_STARTUP_SECONDS,
    api_client,
    cli_env,
    free_port,
    make_tenant,
)
from tests.webhooks.helpers import add_endpoint, poll, stored_events

TASKS = 3
OPERATIONS_BEFORE_OUTAGE = 40
OPERATIONS_AFTER_OUTAGE = 40
# Each request is answered within this, outage or not: a hung one fails the test.
REQUEST_SECONDS = 10.0
# How long a process may take to notice the outage, and to be ready again after it.
NOTICE_SECONDS = 20.0


@pytest.fixture
def postgres_server(postgres_only: None) -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


async def readiness(http: httpx.AsyncClient, url: str) -> tuple[int, str]:
    try:
        response = await http.get(url)
    except httpx.TransportError as error:
        return 0, type(error).__name__
    return response.status_code, response.json().get("reason", "")


async def all_ready(http: httpx.AsyncClient, urls: list[str], status: int) -> list[tuple[int, str]]:
    return await poll(
        lambda: asyncio.gather(*(readiness(http, url) for url in urls)),
        lambda answers: all(code == status for code, _ in answers),
        within=NOTICE_SECONDS if status != 200 else SERVE_STARTUP_SECONDS,
    )


async def test_processes_say_they_are_not_ready_while_the_database_is_down_and_lose_nothing(
    postgres_server: PrivatePostgres, tmp_path: Path
) -> None:
    api_port, health_port = free_port(), free_port()
    url = postgres_server.url
    db = Database(url)
    try:
        tenant = await make_tenant(db)
        with running_receiver() as receiver, processes() as started:
            spawn(
                started,
                [str(CONTACTFLOW), "serve", "--port", str(api_port)],
                cli_env(url, **API_SETTINGS),
                tmp_path / "api.log",
            )
            spawn(
                started,
                [str(CONTACTFLOW), "worker", "--health-port", str(health_port)],
                cli_env(url, **WORKER_SETTINGS),
                tmp_path / "worker.log",
            )
            api = f"http://127.0.0.1:{api_port}"
            probes = [f"{api}/readyz", f"http://127.0.0.1:{health_port}/readyz"]
            async with (
                httpx.AsyncClient(timeout=REQUEST_SECONDS) as http,
                api_client(api, tenant.headers, timeout=REQUEST_SECONDS) as client,
            ):
                await all_ready(http, probes, 200)
                await add_endpoint(client, receiver.url("/outage"))
                flow = await Hub(client, tenant).flow(CREATED_TASK_FLOW)
                first_seq = max(
                    (e.seq for e in await stored_events(db, tenant.location_id)), default=0
                )
                load = Load(client)
                tasks = [asyncio.create_task(load.run(task)) for task in range(TASKS)]
                try:
                    await load.reached(OPERATIONS_BEFORE_OUTAGE, within=60)
                    await asyncio.to_thread(postgres_server.stop, "fast")
                    down = await all_ready(http, probes, 503)
                    assert all("database" in reason for _, reason in down), down
                    during = await client.post("/contacts/", json={"firstName": "Outage"})
                    assert during.status_code == 503, during.text
                    assert during.json()["statusCode"] == 503
                    assert "database" in during.json()["message"]
                    assert during.headers["retry-after"] == "1"
                    await asyncio.to_thread(postgres_server.start)
                    back_at = time.time()
                    # The test's own pool does not listen, so it is not renewed by itself.
                    await db.engine.dispose()
                    await all_ready(http, probes, 200)
                    await load.reached(load.operations + OPERATIONS_AFTER_OUTAGE, within=60)
                finally:
                    load.stop.set()
                    await asyncio.gather(*tasks)

                # What failed failed with an answer: a 5xx envelope, never a hang or a reset.
                assert all(kind.split()[1].startswith("5") for kind in load.failures), (
                    load.failures,
                    load.samples,
                )
                assert await read_back(client, load.last_names) == []
                await settled(db, receiver, tenant.location_id, first_seq, flow["id"], 60)
                events = [
                    e for e in await stored_events(db, tenant.location_id) if e.seq > first_seq
                ]
                repeats = check_deliveries(events, receiver, "/outage", back_at)
                await check_runs(db, flow["id"], events)
        print(
            f"\n{load.operations} requests; failed: {load.failures}; {len(events)} events; "
            f"{repeats} delivered twice"
        )
    finally:
        await db.dispose()
