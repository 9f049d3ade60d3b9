"""A small cluster on one PostgreSQL database: two API processes (no embedded workers) behind
HAProxy and two `contactflow worker` processes. Under a load of mixed reads and writes, one
API process and one worker are SIGKILLed and started again. Afterwards every acknowledged
write reads back through the balancer, every event of the location reached the webhook
receiver (again only if it was in flight at the worker's kill: delivery is at least once),
and every contact created ran the flow exactly once, successfully."""

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from contactflow.platform.db import Database
from tests.events.test_stream import sse_events
from tests.flows.helpers import CREATED_TASK_FLOW, Hub
from tests.platform.cluster import (
    API_SETTINGS,
    HAPROXY,
    WORKER_SETTINGS,
    Load,
    check_deliveries,
    check_runs,
    haproxy_config,
    kill_group,
    processes,
    read_back,
    ready,
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
    wait_until_serving,
)
from tests.webhooks.helpers import (
    add_endpoint,
    poll,
    stored_events,
    worker_processes,
)

TASKS = 4
# Operations before the kills, and after both killed processes are back.
OPERATIONS_BEFORE_KILL = 60
OPERATIONS_AFTER_RESTART = 60


@pytest.fixture
def haproxy() -> Path:
    if not HAPROXY.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{HAPROXY} is missing and CI=true (apt-get install haproxy)")
        pytest.skip("haproxy is not installed")
    return HAPROXY


@dataclass
class StreamWatch:
    """An SSE client of one API process: it reconnects with Last-Event-ID whenever its
    connection breaks (the process killed, then started again) and keeps the seqs it saw."""

    base_url: str
    headers: dict[str, str]
    seen: set[int] = field(default_factory=set)
    connections: int = 0

    async def run(self) -> None:
        async with api_client(self.base_url, self.headers) as http:
            while True:
                resume = {"Last-Event-ID": str(max(self.seen))} if self.seen else {}
                try:
                    async with http.stream("GET", "/events/stream", headers=resume) as response:
                        if response.status_code == 200:
                            self.connections += 1
                            async for event in sse_events(response):
                                self.seen.add(int(event.id))
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)

    async def saw_all(self, seqs: set[int]) -> None:
        await poll(lambda: asyncio.sleep(0, seqs - self.seen), lambda missed: not missed, within=30)


@asynccontextmanager
async def watching(watches: list[StreamWatch]) -> AsyncIterator[None]:
    listeners = [asyncio.create_task(watch.run()) for watch in watches]
    try:
        yield
    finally:
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)


async def test_a_cluster_loses_nothing_when_an_api_and_a_worker_are_killed(
    postgres_only: None, haproxy: Path, isolated_url: str, tmp_path: Path
) -> None:
    api_ports = [free_port(), free_port()]
    front = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(front, api_ports))
    api_env = cli_env(isolated_url, **API_SETTINGS)
    db = Database(isolated_url)
    try:
        tenant = await make_tenant(db)
        with (
            running_receiver() as receiver,
            processes() as started,
            worker_processes(isolated_url, tmp_path) as start_worker,
        ):

            def serve(index: int) -> subprocess.Popen[bytes]:
                args = [str(CONTACTFLOW), "serve", "--port", str(api_ports[index])]
                return spawn(started, args, api_env, tmp_path / f"api-{index}.log")

            apis = [serve(0), serve(1)]
            workers = [start_worker(**WORKER_SETTINGS) for _ in range(2)]
            spawn(
                started,
                [str(HAPROXY), "-db", "-f", str(config)],
                dict(os.environ),
                tmp_path / "haproxy.log",
            )
            await asyncio.gather(
                *(
                    wait_until_serving(f"http://127.0.0.1:{port}", SERVE_STARTUP_SECONDS)
                    for port in api_ports
                ),
                *(worker.started(SERVE_STARTUP_SECONDS) for worker in workers),
            )
            started_at = time.time()
            async with api_client(f"http://127.0.0.1:{front}", tenant.headers) as client:
                await poll(lambda: ready(client), lambda ok: ok, within=30)
                await add_endpoint(client, receiver.url("/cluster"))
                flow = await Hub(client, tenant).flow(CREATED_TASK_FLOW)
                first_seq = max(
                    (e.seq for e in await stored_events(db, tenant.location_id)), default=0
                )
                watches = [
                    StreamWatch(f"http://127.0.0.1:{port}", tenant.headers) for port in api_ports
                ]
                async with watching(watches):
                    load = Load(client)
                    tasks = [asyncio.create_task(load.run(task)) for task in range(TASKS)]
                    try:
                        await load.reached(OPERATIONS_BEFORE_KILL, within=120)
                        await poll(
                            lambda: asyncio.sleep(0, [w.connections for w in watches]),
                            lambda connections: connections == [1, 1],
                            within=30,
                        )
                        kill_group(apis[0])
                        workers[0].kill()
                        killed_at = time.time()
                        apis[0] = serve(0)
                        workers[0] = start_worker(**WORKER_SETTINGS)
                        await asyncio.gather(
                            wait_until_serving(
                                f"http://127.0.0.1:{api_ports[0]}", SERVE_STARTUP_SECONDS
                            ),
                            workers[0].started(SERVE_STARTUP_SECONDS),
                        )
                        await load.reached(load.operations + OPERATIONS_AFTER_RESTART, within=120)
                    finally:
                        load.stop.set()
                        await asyncio.gather(*tasks)
                        loaded_at = time.time()

                    assert await read_back(client, load.last_names) == []
                    await settled(db, receiver, tenant.location_id, first_seq, flow["id"])
                    events = [
                        e for e in await stored_events(db, tenant.location_id) if e.seq > first_seq
                    ]
                    duplicates = check_deliveries(events, receiver, "/cluster", killed_at + 1.0)
                    await check_runs(db, flow["id"], events)
                    for watch in watches:
                        await watch.saw_all({e.seq for e in events})
            print(
                f"\n{load.operations} requests; failed: {load.failures}; "
                f"{load.samples}; {len(load.last_names)} contacts; {len(events)} events; "
                f"{len(receiver.arrivals)} arrivals ({duplicates} repeated); "
                f"SSE connections {[watch.connections for watch in watches]}; seconds: "
                f"kill {killed_at - started_at:.0f}, load {loaded_at - started_at:.0f}, "
                f"settled {time.time() - started_at:.0f}"
            )
    finally:
        await db.dispose()
