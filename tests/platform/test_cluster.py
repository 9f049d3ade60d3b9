"""A small cluster on one PostgreSQL database: two API processes (no embedded workers) behind
HAProxy and two `contactflow worker` processes. Under a load of mixed reads and writes, one
API process and one worker are SIGKILLed and started again. Afterwards every acknowledged
write reads back through the balancer, every event of the location reached the webhook
receiver (again only if it was in flight at the worker's kill: delivery is at least once),
and every contact created ran the flow exactly once, successfully."""

import asyncio
import os
import random
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from contactflow.flows.models import FlowRun
from contactflow.platform.db import Database
from contactflow.platform.events import Event
from tests.events.test_stream import sse_events
from tests.flows.helpers import CREATED_TASK_FLOW, Hub
from tests.receiver import Receiver, running_receiver
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
    webhook_ids,
    worker_processes,
)

HAPROXY = Path("/usr/sbin/haproxy")
TASKS = 4
# Operations before the kills, and after both killed processes are back.
OPERATIONS_BEFORE_KILL = 60
OPERATIONS_AFTER_RESTART = 60
SETTLE_SECONDS = 120.0
# A crashed worker's leases run out this fast, so what it held is taken over within the test.
LEASE_SECONDS = "3"
# The API's settings: no loops of its own, rate limits out of the way.
API_SETTINGS = {
    "embedded_workers": "false",
    "rate_limit_burst": "1000000",
    "rate_limit_daily": "1000000000",
}
# The workers rely on NOTIFY to wake; the poll is only a backstop (a 50 ms one costs CPU).
WORKER_SETTINGS = {"lease_seconds": LEASE_SECONDS, "worker_poll_seconds": "0.5"}


@pytest.fixture
def haproxy() -> Path:
    if not HAPROXY.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{HAPROXY} is missing and CI=true (apt-get install haproxy)")
        pytest.skip("haproxy is not installed")
    return HAPROXY


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextmanager
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes started into the list, each in its own group: all killed at exit."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            kill_group(process)


def spawn(
    started: list[subprocess.Popen[bytes]], args: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own CLI and haproxy, the test's arguments
            args, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    started.append(process)
    return process


def haproxy_config(front: int, backends: list[int]) -> str:
    """Health checks on /readyz, patient enough for a loaded machine; a connection refused by
    a dead backend is retried on the other one (`retries` with `option redispatch`), never a
    request that reached one."""
    servers = "\n".join(
        f"    server api{n} 127.0.0.1:{port} check inter 500 fall 3 rise 1"
        for n, port in enumerate(backends)
    )
    return f"""global
    maxconn 512
defaults
    mode http
    timeout connect 1s
    timeout check 3s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch 1
frontend api
    bind 127.0.0.1:{front}
    default_backend apis
backend apis
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
{servers}
"""


@dataclass
class Load:
    """What the load saw acknowledged: each contact it created and the last names it may
    have now (the acknowledged one, and any whose update failed without an answer)."""

    client: httpx.AsyncClient
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    operations: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    last_names: dict[str, set[str]] = field(default_factory=dict)

    samples: dict[str, str] = field(default_factory=dict)

    def failed(self, what: str, said: str = "") -> None:
        self.failures[what] = self.failures.get(what, 0) + 1
        self.samples.setdefault(what, said[:200])

    async def request(self, method: str, path: str, **options: object) -> httpx.Response | None:
        self.operations += 1
        try:
            response = await self.client.request(method, path, **options)  # type: ignore[arg-type]
        except httpx.TransportError as error:
            self.failed(f"{method} {type(error).__name__}")
            return None
        if response.status_code >= 300:
            self.failed(f"{method} {response.status_code}", response.text)
            return None
        return response

    async def run(self, task: int) -> None:
        mine: list[str] = []
        rng = random.Random(task)
        number = 0
        while not self.stop.is_set():
            number += 1
            choice = rng.random()
            if not mine or choice < 0.35:
                name = f"T{task}-{number}"
                created = await self.request("POST", "/contacts/", json={"firstName": name})
                if created is not None:
                    contact_id = created.json()["contact"]["id"]
                    mine.append(contact_id)
                    self.last_names[contact_id] = {""}
            elif choice < 0.6:
                contact_id = rng.choice(mine)
                last_name = f"L{number}"
                updated = await self.request(
                    "PUT", f"/contacts/{contact_id}", json={"lastName": last_name}
                )
                if updated is None:
                    self.last_names[contact_id].add(last_name)
                else:
                    self.last_names[contact_id] = {last_name}
            elif choice < 0.85:
                await self.request("GET", f"/contacts/{rng.choice(mine)}")
            else:
                await self.request("GET", "/contacts/", params={"limit": 20})

    async def reached(self, count: int, within: float) -> None:
        await poll(lambda: asyncio.sleep(0, self.operations), lambda n: n >= count, within=within)


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


async def read_back(client: httpx.AsyncClient, last_names: dict[str, set[str]]) -> list[str]:
    """The acknowledged writes that do not read back through the balancer."""
    wrong: list[str] = []
    gate = asyncio.Semaphore(TASKS)

    async def check(contact_id: str, expected: set[str]) -> None:
        async with gate:
            response = await client.get(f"/contacts/{contact_id}")
        if response.status_code != 200:
            wrong.append(f"{contact_id}: {response.status_code}")
            return
        last_name = response.json()["contact"].get("lastName") or ""
        if last_name not in expected:
            wrong.append(f"{contact_id}: lastName {last_name!r}, expected one of {expected}")

    await asyncio.gather(*(check(cid, names) for cid, names in last_names.items()))
    return wrong


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
                    duplicates = check_deliveries(events, receiver, killed_at)
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


async def ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False


async def settled(
    db: Database, receiver: Receiver, location_id: str, first_seq: int, flow_id: str
) -> None:
    """Wait until every event is delivered and every run of the flow is finished."""

    async def pending() -> tuple[int, int]:
        events = [e.id for e in await stored_events(db, location_id) if e.seq > first_seq]
        undelivered = set(events) - set(webhook_ids(receiver.arrivals))
        async with db.reader() as session:
            unfinished = await session.scalars(
                select(FlowRun.id).where(FlowRun.flow_id == flow_id, FlowRun.finished_at.is_(None))
            )
            return len(undelivered), len(list(unfinished))

    await poll(pending, lambda counts: counts == (0, 0), within=SETTLE_SECONDS)


def check_deliveries(events: list[Event], receiver: Receiver, killed_at: float) -> int:
    """Each event arrived; one arrived twice only if its first sending was in flight when
    the worker was killed (the killed worker's batch is sent again once its leases expire)."""
    arrivals = [a for a in list(receiver.arrivals) if a.path == "/cluster"]
    first: dict[str, float] = {}
    count: dict[str, int] = {}
    for arrival in arrivals:
        webhook_id = arrival.headers["webhook-id"]
        first.setdefault(webhook_id, arrival.at)
        count[webhook_id] = count.get(webhook_id, 0) + 1
    assert {e.id for e in events} - set(first) == set(), "events never delivered"
    assert set(first) - {e.id for e in events} == set(), "deliveries of unknown events"
    late = {wid: n for wid, n in count.items() if n > 1 and first[wid] > killed_at + 1.0}
    assert late == {}, f"duplicates not explained by the kill: {late}"
    return sum(n - 1 for n in count.values())


async def check_runs(db: Database, flow_id: str, events: list[Event]) -> None:
    """One run per ContactCreate event, each succeeded."""
    async with db.reader() as session:
        runs = list(await session.scalars(select(FlowRun).where(FlowRun.flow_id == flow_id)))
    created = sorted(e.id for e in events if e.type == "ContactCreate")
    assert sorted(str(run.event_id) for run in runs) == created
    assert {run.state for run in runs} == {"succeeded"}, [r.error for r in runs if r.error]
