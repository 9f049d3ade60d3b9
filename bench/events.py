"""Event-to-webhook latency and delivery throughput, beside a bare httpx loop.

    uv run python -m bench.events [--backend sqlite|postgresql|both] [--seconds N] [--events N]

For each backend, on a fresh database (a temporary SQLite file, or a new PostgreSQL database
that is dropped afterwards) with one tenant and one webhook endpoint that targets a receiver
on 127.0.0.1 (bench/receiver.py, in a subprocess of its own):

(a) latency: contact writes go through the HTTP API at a fixed rate (an open-loop generator in
    this process: each write leaves at its scheduled time whether or not earlier ones have
    been answered), and the receiver timestamps each delivery. Latency is the arrival time
    minus the time the write's HTTP response came back, both on the machine's monotonic clock.
(b) throughput: with the workers off, N events are appended to the log; then the workers start
    and the rate is the number delivered divided by the time from the first to the last arrival.

SQLite runs the workers inside the API process (`contactflow serve`, embedded workers);
PostgreSQL runs the API with CONTACTFLOW_EMBEDDED_WORKERS=false and two `contactflow worker`
processes. The bare baseline is one httpx client in this process POSTing the same payloads
straight to the same receiver, paced the same way for (a) and closed-loop for (b). See
bench/README.md.
"""

import argparse
import asyncio
import bisect
import itertools
import json
import math
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from unittest import mock

import asyncpg
import httpx
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url
from tests.support import Tenant, make_tenant

from bench.api import (
    PG_ADMIN_DSN,
    ROOT,
    STARTUP_TIMEOUT,
    _read_port,
    _stop,
    _table,
    _wait_ready,
    chosen_backends,
    postgres_database,
    sqlite_database,
)
from bench.load import (
    _FAILURES,
    LOOPBACK,
    REQUEST_TIMEOUT,
    RawConnection,
    _backends_cpu,
    _host_ticks,
    _process_cpu,
)
from contactflow.contacts import service
from contactflow.contacts.schemas import ContactCreate
from contactflow.platform import events
from contactflow.platform.db import Database
from contactflow.platform.event_types import CONTACT_CREATE
from contactflow.platform.ids import new_id
from contactflow.platform.migrate import upgrade
from contactflow.platform.webhooks.models import WebhookDelivery
from contactflow.settings import Settings

WriteKind = Literal["create", "update"]
# The aims, printed beside the figures.
AIM_P50_MS = 10.0
AIM_P99_MS = 50.0
AIM_RATE_LATENCY = 100  # the write rate the latency aims are for
AIM_DELIVERIES = 2000.0
WORKER_PROCESSES = 2  # `contactflow worker` processes on PostgreSQL
HOOK_PATH = "/hook"
REGION = "US"
API_VERSION = "2021-07-28"
# Keep-alive connections the write generator may open; a write that finds none free by the
# end of its phase is not sent (and counted as such).
WRITE_CONNECTIONS = 64
UPDATE_POOL = 1000  # contacts the update writes cycle through
WARMUP_WRITES = 50
PRELOAD_CHUNK = 1000  # events appended per transaction when pre-loading
# Waiting for deliveries: give up this long after the last write of a latency phase, and when
# nothing new has arrived for STALL seconds.
LATENCY_DRAIN = 30.0
STALL = 15.0
POLL = 0.05
# What the runtime's httpx client uses (platform/runtime.py); the bare loop uses the same.
HTTP_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=64)
WORKER_COMMAND = str(Path(sys.executable).parent / "contactflow")


# ----------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Server:
    pid: int
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


def _popen(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and commands
        argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=dict(env)
    )


@contextmanager
def _server(argv: list[str], env: Mapping[str, str]) -> Iterator[Server]:
    """A subprocess that prints its port and answers GET /health; stopped on exit."""
    process = _popen(argv, env)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        running = Server(pid=process.pid, port=_read_port(process, deadline))
        _wait_ready(process, running.base_url, deadline)
        yield running
    finally:
        _stop(process)


def _wait_started(process: subprocess.Popen[str], deadline: float) -> None:
    """Until `contactflow worker` prints "worker NAME started"."""
    assert process.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()
            if not line:
                break
            if line.rstrip().endswith(" started"):
                return
        elif process.poll() is not None:
            break
    raise RuntimeError(f"worker did not start (exit code {process.poll()})")


@contextmanager
def _workers(count: int, env: Mapping[str, str]) -> Iterator[list[int]]:
    """`contactflow worker` processes, all started before this yields; stopped on exit."""
    with ExitStack() as stack:
        processes = []
        for _ in range(count):
            process = _popen([WORKER_COMMAND, "worker"], env)
            stack.callback(_stop, process)
            processes.append(process)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for process in processes:
            _wait_started(process, deadline)
        yield [process.pid for process in processes]


def _environment(database_url: str, *, embedded: bool) -> dict[str, str]:
    """Our processes' settings: webhooks may reach 127.0.0.1 over http; the rest is inherited
    (so CONTACTFLOW_DELIVERY_BATCH_SIZE and the like can be tried from the command line)."""
    return {
        **os.environ,
        "CONTACTFLOW_DATABASE_URL": database_url,
        "CONTACTFLOW_DEV_MODE": "true",
        "CONTACTFLOW_WEBHOOK_ALLOWED_NETWORKS": json.dumps([f"{LOOPBACK}/32"]),
        "CONTACTFLOW_EMBEDDED_WORKERS": "true" if embedded else "false",
    }


def _effective_settings(env: Mapping[str, str]) -> Settings:
    """What our processes will read from `env`, parsed as they parse it."""
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings()


# ----------------------------------------------------------------------------- receiver


@dataclass(frozen=True)
class Arrival:
    monotonic: float  # seconds, CLOCK_MONOTONIC (shared by every process on the machine)
    wall: float  # seconds since the epoch
    path: str
    webhook_id: str | None
    type: str | None
    marker: str | None  # the payload's lastName: which write this event came from
    created: float | None  # the payload's timestamp (the event's createdAt), epoch seconds


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


class ReceiverClient:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def count(self) -> int:
        return int(self.http.get("/count").json()["count"])

    def drain(self) -> list[Arrival]:
        rows: list[list[Any]] = self.http.get("/drain").json()
        return [
            Arrival(
                monotonic=row[0] / 1e9,
                wall=row[1] / 1e9,
                path=row[2],
                webhook_id=row[3],
                type=row[4],
                marker=row[6],
                created=_epoch(row[7]),
            )
            for row in rows
        ]

    def wait_for(self, expected: int, deadline: float) -> int:
        """Poll until `expected` arrivals, the deadline, or STALL seconds without progress."""
        seen, progress = self.count(), time.monotonic()
        while seen < expected and time.monotonic() < deadline:
            time.sleep(POLL)
            now = self.count()
            if now != seen:
                seen, progress = now, time.monotonic()
            elif time.monotonic() - progress > STALL:
                break
        return seen

    def settle(self, quiet: float = 0.5, at_most: float = 10.0) -> None:
        """Wait until nothing has arrived for `quiet` seconds, then forget what did."""
        deadline = time.monotonic() + at_most
        seen = self.count()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.count()
            if now == seen:
                break
            seen = now
        self.drain()


# ----------------------------------------------------------------------------- CPU


@dataclass(frozen=True)
class CpuSample:
    at: float
    processes: dict[str, float]  # role -> CPU seconds of its processes
    bench: float
    backends: dict[int, float] | None
    host: tuple[int, int] | None

    @classmethod
    def take(cls, roles: Mapping[str, Sequence[int]], database: str | None) -> "CpuSample":
        processes: dict[str, float] = {}
        for role, pids in roles.items():
            seconds = [_process_cpu(pid) for pid in pids]
            processes[role] = sum(value or 0.0 for value in seconds)
        return cls(
            at=time.monotonic(),
            processes=processes,
            bench=time.process_time(),
            backends=_backends_cpu(database) if database and Path("/proc").is_dir() else None,
            host=_host_ticks(),
        )


CPU_COLUMNS = ("api", "workers", "receiver", "postgres", "bench", "other", "idle")


@dataclass(frozen=True)
class Cpu:
    """Cores used per role over a window of monotonic time (1.0 = one core busy all along)."""

    start: float
    end: float
    use: dict[str, float | None]
    xacts: int | None = None  # PostgreSQL transactions in the benchmark's database

    def ms_per(self, count: int, *roles: str) -> float | None:
        """CPU milliseconds the roles spent per event, `count` events in the window."""
        values = [self.use[role] for role in roles]
        if count <= 0 or all(value is None for value in values):
            return None
        return sum(value or 0.0 for value in values) * (self.end - self.start) / count * 1000


def pg_xacts(database: str | None) -> int | None:
    """Transactions committed and rolled back so far in `database` (pg_stat_database).
    Backends report them at most once a second, so read it a little after a phase ends."""
    if database is None:
        return None

    async def query() -> int:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            value = await connection.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
                database,
            )
        finally:
            await connection.close()
        return int(value or 0)

    return asyncio.run(query())


def with_xacts(cpu: Cpu, before: int | None, database: str | None) -> Cpu:
    """`cpu` with the transactions since `before`, read once the statistics are flushed."""
    if before is None:
        return cpu
    time.sleep(1.2)
    after = pg_xacts(database)
    return replace(cpu, xacts=None if after is None else after - before)


def cpu_use(before: CpuSample, after: CpuSample) -> Cpu:
    elapsed = max(after.at - before.at, 1e-9)
    use: dict[str, float | None] = dict.fromkeys(CPU_COLUMNS)
    for role, seconds in after.processes.items():
        use[role] = max(0.0, seconds - before.processes.get(role, 0.0)) / elapsed
    use["bench"] = (after.bench - before.bench) / elapsed
    if before.backends is not None and after.backends is not None:
        spent = sum(cpu - before.backends.get(pid, 0.0) for pid, cpu in after.backends.items())
        use["postgres"] = max(0.0, spent) / elapsed
    if before.host is not None and after.host is not None:
        busy = after.host[0] - before.host[0]
        total = after.host[1] - before.host[1]
        cores = os.cpu_count() or 1
        if total > 0:
            busy_cores = busy / total * cores
            known = sum(use[name] or 0.0 for name in CPU_COLUMNS[:5])
            use["idle"] = cores - busy_cores
            use["other"] = max(0.0, busy_cores - known)
    return Cpu(before.at, after.at, use)


# ----------------------------------------------------------------------------- measures


def percentile_ms(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of seconds, in milliseconds (values sorted)."""
    if not values:
        return None
    rank = max(1, math.ceil(fraction * len(values)))
    return values[rank - 1] * 1000


@dataclass(frozen=True)
class Matched:
    """Arrivals matched to what was sent: the latencies of the first copy of each."""

    expected: int
    delivered: int
    duplicates: int  # copies of a delivery already received (at-least-once)
    other: int  # arrivals matching nothing sent in this phase
    latencies: list[float]  # seconds, sorted
    from_created: list[float]  # arrival wall time minus the event's createdAt, sorted
    times: list[float]  # monotonic arrival times, sorted
    firsts: list[Arrival]  # the first copy of each, in arrival order

    def p(self, fraction: float) -> float | None:
        return percentile_ms(self.latencies, fraction)

    @property
    def first(self) -> float | None:
        return self.times[0] if self.times else None

    @property
    def last(self) -> float | None:
        return self.times[-1] if self.times else None

    @property
    def rate(self) -> float | None:
        """Deliveries per second from the first to the last arrival."""
        if len(self.times) < 2 or self.times[-1] <= self.times[0]:
            return None
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])

    def within(self, cpu: Cpu) -> int:
        """How many arrived during the CPU window."""
        return bisect.bisect_right(self.times, cpu.end) - bisect.bisect_left(self.times, cpu.start)


def match(
    sent: Mapping[str, float], arrivals: list[Arrival], key: Callable[[Arrival], str | None]
) -> Matched:
    seen: set[str] = set()
    latencies: list[float] = []
    from_created: list[float] = []
    duplicates = other = 0
    times: list[float] = []
    firsts: list[Arrival] = []
    for arrival in arrivals:
        name = key(arrival)
        started = sent.get(name) if name is not None else None
        if name is None or started is None:
            other += 1
            continue
        if name in seen:
            duplicates += 1
            continue
        seen.add(name)
        latencies.append(arrival.monotonic - started)
        if arrival.created is not None:
            from_created.append(arrival.wall - arrival.created)
        times.append(arrival.monotonic)
        firsts.append(arrival)
    latencies.sort()
    from_created.sort()
    times.sort()
    return Matched(
        expected=len(sent),
        delivered=len(seen),
        duplicates=duplicates,
        other=other,
        latencies=latencies,
        from_created=from_created,
        times=times,
        firsts=firsts,
    )


def _by_marker(arrival: Arrival) -> str | None:
    return arrival.marker


def _by_path(arrival: Arrival) -> str | None:
    return arrival.path


# ----------------------------------------------------------------------------- writes


@dataclass(frozen=True)
class Writes:
    """How to send write number n, whose event will carry `marker` as its lastName."""

    method: str
    status: int
    headers: dict[str, str]
    build: Callable[[str, int], tuple[str, bytes]]


def writes(kind: WriteKind, tenant: Tenant, pool: Sequence[str]) -> Writes:
    headers = {
        "Authorization": f"Bearer {tenant.key}",
        "Version": API_VERSION,
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    if kind == "create":

        def create(marker: str, _number: int) -> tuple[str, bytes]:
            body = {
                "locationId": tenant.location_id,
                "firstName": "Bench",
                "lastName": marker,
                "email": f"{marker}@example.com",
                "source": "bench",
            }
            return "/contacts/", json.dumps(body).encode()

        return Writes("POST", 201, headers, create)

    def update(marker: str, number: int) -> tuple[str, bytes]:
        return f"/contacts/{pool[number % len(pool)]}", json.dumps({"lastName": marker}).encode()

    return Writes("PUT", 200, headers, update)


@dataclass(frozen=True)
class Paced:
    """What an open-loop phase sent: when each successful request's clock started."""

    rate: float
    sent: dict[str, float]  # key -> monotonic seconds (write: response received; bare: sent)
    durations: list[float]  # seconds from sending to the response, sorted
    errors: int
    unsent: int  # scheduled but no connection free before the phase ended
    elapsed: float  # from the first scheduled send to the last response

    @property
    def achieved(self) -> float:
        return len(self.sent) / self.elapsed if self.elapsed > 0 else 0.0


async def _open_loop(
    start: float, rate: float, seconds: float, send: Callable[[int], Coroutine[Any, Any, None]]
) -> None:
    """Start send(i) at start + i / rate, for `seconds`, and wait for all of them (bounded)."""
    total = max(1, round(rate * seconds))
    tasks: list[asyncio.Task[None]] = []
    for number in range(total):
        delay = start + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(number)))
    try:
        async with asyncio.timeout(seconds + REQUEST_TIMEOUT + 5):
            await asyncio.gather(*tasks)
    except TimeoutError:
        for task in tasks:
            task.cancel()
        raise RuntimeError("requests still running long after the phase ended") from None


async def paced_writes(
    api: Server, plan: Writes, rate: float, seconds: float, prefix: str
) -> Paced:
    idle: asyncio.Queue[RawConnection] = asyncio.Queue()
    for _ in range(WRITE_CONNECTIONS):
        idle.put_nowait(RawConnection(api.port, plan.headers))
    sent: dict[str, float] = {}
    durations: list[float] = []
    errors = unsent = 0
    start = time.monotonic() + 0.05
    ends = start + seconds
    last_response = 0.0

    async def one(number: int) -> None:
        nonlocal errors, unsent, last_response
        marker = f"{prefix}-{number}"
        path, body = plan.build(marker, number)
        try:
            async with asyncio.timeout(max(0.0, ends - time.monotonic())):
                connection = await idle.get()
        except TimeoutError:
            unsent += 1
            return
        try:
            started = time.monotonic()
            async with asyncio.timeout(REQUEST_TIMEOUT):
                status = await connection.request(plan.method, path, body)
            answered = time.monotonic()
        except (*_FAILURES, TimeoutError):
            errors += 1
            return
        finally:
            idle.put_nowait(connection)
        if status != plan.status:
            errors += 1
            return
        sent[marker] = answered
        durations.append(answered - started)
        last_response = max(last_response, answered)

    try:
        await _open_loop(start, rate, seconds, one)
    finally:
        while not idle.empty():
            await idle.get_nowait().aclose()
    durations.sort()
    return Paced(rate, sent, durations, errors, unsent, max(last_response, ends) - start)


async def paced_bare(
    receiver: Server, bodies: Sequence[bytes], rate: float, seconds: float, prefix: str
) -> Paced:
    """The same payloads, POSTed by one httpx client straight to the receiver, paced like the
    writes and with as many in flight at most."""
    sent: dict[str, float] = {}
    durations: list[float] = []
    errors = unsent = 0
    last_response = 0.0
    slots = asyncio.Semaphore(WRITE_CONNECTIONS)
    start = time.monotonic() + 0.05
    ends = start + seconds
    async with httpx.AsyncClient(
        base_url=receiver.base_url, limits=HTTP_LIMITS, trust_env=False, timeout=REQUEST_TIMEOUT
    ) as client:
        await _bare_warmup(client, bodies)

        async def one(number: int) -> None:
            nonlocal errors, unsent, last_response
            path = f"/bare/{prefix}/{number}"
            try:
                async with asyncio.timeout(max(0.0, ends - time.monotonic())):
                    await slots.acquire()
            except TimeoutError:
                unsent += 1
                return
            try:
                started = time.monotonic()
                response = await client.post(
                    path, content=bodies[number % len(bodies)], headers=_BARE_HEADERS
                )
                answered = time.monotonic()
            except httpx.HTTPError:
                errors += 1
                return
            finally:
                slots.release()
            if response.status_code != 200:
                errors += 1
                return
            sent[path] = started
            durations.append(answered - started)
            last_response = max(last_response, answered)

        start = max(start, time.monotonic() + 0.05)
        ends = start + seconds
        await _open_loop(start, rate, seconds, one)
    durations.sort()
    return Paced(rate, sent, durations, errors, unsent, max(last_response, ends) - start)


_BARE_HEADERS = {"content-type": "application/json"}


async def _bare_warmup(client: httpx.AsyncClient, bodies: Sequence[bytes]) -> None:
    await asyncio.gather(
        *(client.post(f"/bare/warmup/{n}", content=bodies[0]) for n in range(20)),
        return_exceptions=True,
    )


async def closed_bare(
    receiver: Server, bodies: Sequence[bytes], concurrency: int, within: float
) -> dict[str, float]:
    """POST every body once, `concurrency` at a time; returns path -> time it was sent."""
    sent: dict[str, float] = {}
    numbers = iter(range(len(bodies)))
    async with httpx.AsyncClient(
        base_url=receiver.base_url, limits=HTTP_LIMITS, trust_env=False, timeout=REQUEST_TIMEOUT
    ) as client:
        await _bare_warmup(client, bodies)

        async def worker() -> None:
            for number in numbers:
                path = f"/bare/bulk/{number}"
                started = time.monotonic()
                try:
                    response = await client.post(
                        path, content=bodies[number], headers=_BARE_HEADERS
                    )
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    sent[path] = started

        async with asyncio.timeout(within):
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent


# ----------------------------------------------------------------------------- database


@dataclass(frozen=True)
class Fixture:
    tenant: Tenant
    pool: list[str]  # contacts the update writes cycle through (empty for creates)


async def _fixture(database_url: str, kind: WriteKind) -> Fixture:
    db = Database(database_url)
    try:
        tenant = await make_tenant(db)
        pool: list[str] = []
        if kind == "update":
            async with db.unit_of_work() as uow:
                for number in range(UPDATE_POOL):
                    fields = ContactCreate(
                        first_name="Pool",
                        last_name=f"pool-{number}",
                        email=f"pool.{number}@example.com",
                        source="bench",
                    )
                    row = await service.create_contact(uow, tenant.location_id, fields, REGION)
                    pool.append(row.id)
        return Fixture(tenant, pool)
    finally:
        await db.dispose()


def prepare(database_url: str, kind: WriteKind) -> Fixture:
    upgrade(database_url)  # Alembic runs its own event loop, so not inside ours
    return asyncio.run(_fixture(database_url, kind))


async def preload(database_url: str, location_id: str, count: int, prefix: str) -> float:
    """Append `count` ContactCreate events (a real one's payload, each with its own contact id
    and marker) in transactions of PRELOAD_CHUNK; returns the seconds it took."""
    db = Database(database_url)
    started = time.monotonic()
    try:
        async with db.reader() as session:
            found = await events.read_events(
                session, location_id, after=0, limit=1, types=[CONTACT_CREATE]
            )
        if not found:
            raise RuntimeError("no ContactCreate event to copy the payload of")
        template = found[0].payload
        numbers = iter(range(count))
        while chunk := list(itertools.islice(numbers, PRELOAD_CHUNK)):
            async with db.unit_of_work() as uow:
                for number in chunk:
                    subject = new_id()
                    payload = {
                        **template,
                        "id": subject,
                        "lastName": f"{prefix}-{number}",
                        "email": f"{prefix}-{number}@example.com",
                    }
                    await events.append(
                        uow, location_id, CONTACT_CREATE, payload, subject_id=subject
                    )
    finally:
        await db.dispose()
    return time.monotonic() - started


async def delivered_bodies(database_url: str, location_id: str) -> dict[str, list[bytes]]:
    """The bodies our workers sent (the payload of every event, as delivery.py builds it),
    grouped by the prefix of their marker."""
    db = Database(database_url)
    grouped: dict[str, list[bytes]] = {}
    try:
        after = 0
        while True:
            async with db.reader() as session:
                rows = await events.read_events(session, location_id, after=after, limit=5000)
            if not rows:
                break
            for row in rows:
                marker = str(row.payload.get("lastName") or "")
                body = json.dumps(events.delivered_payload(row), separators=(",", ":")).encode()
                grouped.setdefault(marker.partition("-")[0], []).append(body)
            after = rows[-1].seq
    finally:
        await db.dispose()
    return grouped


# ----------------------------------------------------------------------------- a run


@dataclass(frozen=True)
class LatencyRow:
    ours: Paced
    ours_matched: Matched
    bare: Paced
    bare_matched: Matched
    cpu: Cpu
    stages: "Stages"


@dataclass(frozen=True)
class Stages:
    """Where an event's way to the receiver goes, from the times the database recorded
    (wall clock, millisecond precision): seconds, sorted."""

    fan_out: list[float]  # event createdAt -> its delivery row created by the fan-out
    delivery: list[float]  # delivery row created -> arrival at the receiver


async def stages(database_url: str, firsts: Sequence[Arrival]) -> Stages:
    by_event = {arrival.webhook_id: arrival for arrival in firsts if arrival.webhook_id}
    created: dict[str, float] = {}
    db = Database(database_url)
    try:
        ids = list(by_event)
        for start in range(0, len(ids), 500):
            async with db.reader() as session:
                rows = await session.execute(
                    sql_select(WebhookDelivery.event_id, WebhookDelivery.created_at).where(
                        WebhookDelivery.event_id.in_(ids[start : start + 500])
                    )
                )
                created.update((event_id, at.timestamp()) for event_id, at in rows)
    finally:
        await db.dispose()
    fan_out: list[float] = []
    delivery: list[float] = []
    for event_id, at in created.items():
        arrival = by_event[event_id]
        if arrival.created is not None:
            fan_out.append(at - arrival.created)
        delivery.append(arrival.wall - at)
    return Stages(sorted(fan_out), sorted(delivery))


@dataclass(frozen=True)
class ThroughputRow:
    events: int
    preload_seconds: float
    ours: Matched
    from_start: float | None  # seconds from the workers' start to the last arrival
    bare: Matched
    concurrency: int
    cpu: Cpu
    bare_cpu: Cpu


@dataclass(frozen=True)
class BackendReport:
    backend: str
    topology: str
    settings: Settings
    kind: WriteKind
    latency: dict[float, LatencyRow]
    throughput: ThroughputRow


def _log(backend: str, message: str) -> None:
    print(f"[{backend}] {message}", flush=True)


def _create_endpoint(api: Server, tenant: Tenant, receiver: Server) -> None:
    with httpx.Client(base_url=api.base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as http:
        response = http.post(
            "/webhooks",
            json={"url": receiver.base_url + HOOK_PATH, "description": "bench.events"},
            headers=tenant.headers,
        )
    if response.status_code != 201:
        raise RuntimeError(f"creating the endpoint: {response.status_code} {response.text}")


def _warm_up(api: Server, plan: Writes, inbox: ReceiverClient) -> None:
    """A few writes, all delivered, so connections are open and statements compiled."""
    result = asyncio.run(paced_writes(api, plan, 50, WARMUP_WRITES / 50, "w"))
    inbox.wait_for(len(result.sent), time.monotonic() + LATENCY_DRAIN)
    inbox.settle()


@contextmanager
def _ours(
    backend: str, database_url: str, *, api: bool, workers: bool
) -> Iterator[tuple[Server | None, dict[str, list[int]]]]:
    """Our processes for a phase: on SQLite the API with embedded workers (when either is
    wanted); on PostgreSQL the API without workers and/or the worker processes."""
    with ExitStack() as stack:
        roles: dict[str, list[int]] = {}
        server: Server | None = None
        embedded = backend == "sqlite"
        if api or (embedded and workers):
            env = _environment(database_url, embedded=embedded)
            argv = [sys.executable, "-m", "bench.servers", "ours", database_url]
            server = stack.enter_context(_server(argv, env))
            roles["api"] = [server.pid]
        if workers and not embedded:
            env = _environment(database_url, embedded=False)
            roles["workers"] = stack.enter_context(_workers(WORKER_PROCESSES, env))
        pids = ", ".join(f"{role} {' '.join(map(str, p))}" for role, p in roles.items())
        _log(backend, f"started: {pids}")
        yield server, roles


def run_backend(backend: str, args: argparse.Namespace) -> BackendReport:
    kind: WriteKind = args.write
    database = sqlite_database() if backend == "sqlite" else postgres_database()
    with database as database_url, ExitStack() as stack:
        database_name = make_url(database_url).database if backend == "postgresql" else None
        _log(backend, f"migrating {make_url(database_url).database} ...")
        fixture = prepare(database_url, kind)
        settings = _effective_settings(_environment(database_url, embedded=backend == "sqlite"))
        plan = writes(kind, fixture.tenant, fixture.pool)
        receiver = stack.enter_context(
            _server([sys.executable, "-m", "bench.receiver"], os.environ)
        )
        inbox = ReceiverClient(receiver)
        stack.callback(inbox.close)
        roles_receiver = {"receiver": [receiver.pid]}

        # (a) latency at each rate
        ours_latency: dict[float, tuple[Paced, Matched, Cpu, Stages]] = {}
        with _ours(backend, database_url, api=True, workers=True) as (api, roles):
            assert api is not None
            roles = {**roles, **roles_receiver}
            _create_endpoint(api, fixture.tenant, receiver)
            _warm_up(api, plan, inbox)
            for rate in args.rates:
                _log(backend, f"(a) {rate:g} writes/s for {args.seconds:g} s ...")
                xacts = pg_xacts(database_name)
                before = CpuSample.take(roles, database_name)
                paced = asyncio.run(paced_writes(api, plan, rate, args.seconds, f"a{rate:g}"))
                inbox.wait_for(len(paced.sent), time.monotonic() + LATENCY_DRAIN)
                after = CpuSample.take(roles, database_name)
                time.sleep(0.2)  # a moment for duplicates, if any
                matched = match(paced.sent, inbox.drain(), _by_marker)
                parts = asyncio.run(stages(database_url, matched.firsts))
                cpu = with_xacts(cpu_use(before, after), xacts, database_name)
                ours_latency[rate] = (paced, matched, cpu, parts)
                inbox.settle()

        # (b) throughput: pre-load with every worker stopped, then start them
        _log(backend, f"(b) pre-loading {args.events} events with the workers off ...")
        loaded = asyncio.run(preload(database_url, fixture.tenant.location_id, args.events, "b"))
        sent_b = dict.fromkeys((f"b-{n}" for n in range(args.events)), 0.0)
        started = time.monotonic()
        xacts = pg_xacts(database_name)
        with _ours(backend, database_url, api=False, workers=True) as (_, roles):
            roles = {**roles, **roles_receiver}
            before = CpuSample.take(roles, database_name)
            _log(backend, "(b) workers started; waiting for the deliveries ...")
            inbox.wait_for(args.events, time.monotonic() + args.timeout)
            after = CpuSample.take(roles, database_name)
        time.sleep(0.2)
        ours_bulk = match(sent_b, inbox.drain(), _by_marker)
        from_start = None if ours_bulk.last is None else ours_bulk.last - started

        # the bare loop, alone on the machine, with the same payloads
        bodies = asyncio.run(delivered_bodies(database_url, fixture.tenant.location_id))
        latency: dict[float, LatencyRow] = {}
        for rate, (paced, matched, cpu, parts) in ours_latency.items():
            _log(backend, f"bare: {rate:g} posts/s for {args.seconds:g} s ...")
            same = bodies.get(f"a{rate:g}") or bodies["b"]
            bare = asyncio.run(paced_bare(receiver, same, rate, args.seconds, f"r{rate:g}"))
            inbox.wait_for(len(bare.sent) + 20, time.monotonic() + LATENCY_DRAIN)
            time.sleep(0.2)
            bare_matched = match(bare.sent, inbox.drain(), _by_path)
            latency[rate] = LatencyRow(paced, matched, bare, bare_matched, cpu, parts)
        concurrency = settings.delivery_batch_size * settings.delivery_loops
        _log(backend, f"bare: {len(bodies['b'])} posts, {concurrency} at a time ...")
        bare_before = CpuSample.take(roles_receiver, None)
        bare_sent = asyncio.run(closed_bare(receiver, bodies["b"], concurrency, args.timeout))
        inbox.wait_for(len(bare_sent) + 20, time.monotonic() + LATENCY_DRAIN)
        bare_after = CpuSample.take(roles_receiver, None)
        time.sleep(0.2)
        bare_bulk = match(bare_sent, inbox.drain(), _by_path)
        throughput = ThroughputRow(
            events=args.events,
            preload_seconds=loaded,
            ours=ours_bulk,
            from_start=from_start,
            bare=bare_bulk,
            concurrency=concurrency,
            cpu=with_xacts(cpu_use(before, after), xacts, database_name),
            bare_cpu=cpu_use(bare_before, bare_after),
        )
    if backend == "sqlite":
        topology = "API with embedded workers (contactflow serve), one process"
    else:
        topology = (
            f"API with CONTACTFLOW_EMBEDDED_WORKERS=false + {WORKER_PROCESSES} "
            "`contactflow worker` processes"
        )
    return BackendReport(backend, topology, settings, kind, latency, throughput)


# ----------------------------------------------------------------------------- report


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _pair(first: float | None, second: float | None) -> str:
    return f"{_ms(first)} / {_ms(second)}"


def _ratio(ours: float | None, bare: float | None) -> str:
    if ours is None or bare is None or bare == 0:
        return "n/a"
    return f"{ours / bare:.2f}"


def _cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def render(report: BackendReport) -> str:
    settings = report.settings
    write = "POST /contacts/" if report.kind == "create" else "PUT /contacts/{id}"
    lines = [
        f"== {report.backend}: {report.topology} ==",
        f"settings: delivery_loops={settings.delivery_loops}, "
        f"delivery_batch_size={settings.delivery_batch_size}, "
        f"worker_poll_seconds={settings.worker_poll_seconds:g}, "
        f"lease_seconds={settings.lease_seconds:g}",
        "",
        f"(a) event-to-webhook latency, {write} in an open loop; latency = arrival at the "
        "receiver minus the moment the write's HTTP response came back (monotonic clock); "
        "bare = arrival minus the moment httpx began the POST; from createdAt = arrival minus "
        "the event's createdAt in the payload (wall clock, ms resolution)",
    ]
    latency_rows = []
    for rate, row in report.latency.items():
        ours, bare = row.ours_matched, row.bare_matched
        aim = f"<= {AIM_P50_MS:g} / {AIM_P99_MS:g}" if rate == AIM_RATE_LATENCY else "-"
        latency_rows.append(
            [
                f"{rate:g}",
                f"{row.ours.achieved:.0f}",
                _pair(
                    percentile_ms(row.ours.durations, 0.5), percentile_ms(row.ours.durations, 0.99)
                ),
                f"{ours.delivered}/{ours.expected}",
                _pair(ours.p(0.5), ours.p(0.99)),
                aim,
                f"{row.bare.achieved:.0f}",
                _pair(bare.p(0.5), bare.p(0.99)),
                f"{_ratio(ours.p(0.5), bare.p(0.5))} / {_ratio(ours.p(0.99), bare.p(0.99))}",
                _pair(
                    percentile_ms(ours.from_created, 0.5), percentile_ms(ours.from_created, 0.99)
                ),
                f"{row.ours.errors}/{row.ours.unsent}/{ours.duplicates}",
                f"{row.bare.errors}/{row.bare.unsent}",
            ]
        )
    lines.append(
        _table(
            [
                "writes/s",
                "achieved",
                "write p50/p99 ms",
                "delivered",
                "ours p50/p99 ms",
                "aim",
                "bare achieved",
                "bare p50/p99 ms",
                "ours/bare",
                "from createdAt",
                "err/unsent/dup",
                "bare err/unsent",
            ],
            latency_rows,
        )
    )
    lines += [
        "",
        "where (a)'s time goes, from wall-clock timestamps (ms precision): the event's "
        "createdAt -> its delivery row's createdAt (set by the fan-out, just before it "
        "commits) -> arrival at the receiver (wake-up, claim, sign, POST)",
        _table(
            ["writes/s", "createdAt -> fanned out p50/p99 ms", "fanned out -> arrival p50/p99 ms"],
            [
                [
                    f"{rate:g}",
                    _pair(
                        percentile_ms(row.stages.fan_out, 0.5),
                        percentile_ms(row.stages.fan_out, 0.99),
                    ),
                    _pair(
                        percentile_ms(row.stages.delivery, 0.5),
                        percentile_ms(row.stages.delivery, 0.99),
                    ),
                ]
                for rate, row in report.latency.items()
            ],
        ),
    ]
    bulk = report.throughput
    ours_count = bulk.ours.within(bulk.cpu)
    bare_count = bulk.bare.within(bulk.bare_cpu)
    ours_ms = bulk.cpu.ms_per(ours_count, "api", "workers")
    bare_ms = bulk.bare_cpu.ms_per(bare_count, "bench")
    lines += [
        "",
        f"(b) deliveries/s: {bulk.events} events appended with the workers off (in "
        f"{bulk.preload_seconds:.1f} s), then the workers started; rate = deliveries from the "
        "first to the last arrival / that time. bare = one httpx client POSTing the same "
        f"bodies, {bulk.concurrency} at a time. CPU ms/delivery: our processes (API and "
        "workers) or the bare client, and PostgreSQL's backends, per delivery",
        _table(
            [
                "",
                "delivered",
                "deliveries/s",
                "aim",
                "CPU ms/delivery",
                "postgres ms/dlv",
                "first->last s",
                "start->last s",
                "duplicates",
            ],
            [
                [
                    "ours",
                    f"{bulk.ours.delivered}/{bulk.ours.expected}",
                    _rate(bulk.ours.rate),
                    f">= {AIM_DELIVERIES:,.0f}",
                    _float(ours_ms, 2),
                    _float(bulk.cpu.ms_per(ours_count, "postgres"), 2),
                    _span(bulk.ours),
                    _float(bulk.from_start, 2),
                    str(bulk.ours.duplicates),
                ],
                [
                    "bare",
                    f"{bulk.bare.delivered}/{bulk.bare.expected}",
                    _rate(bulk.bare.rate),
                    "",
                    _float(bare_ms, 2),
                    "",
                    _span(bulk.bare),
                    "",
                    str(bulk.bare.duplicates),
                ],
                [
                    "ours/bare",
                    "",
                    _ratio(bulk.ours.rate, bulk.bare.rate),
                    "",
                    _ratio(ours_ms, bare_ms),
                    "",
                    "",
                    "",
                    "",
                ],
            ],
        ),
        "",
        f"CPU, in % of one core ({os.cpu_count()} cores = {(os.cpu_count() or 1) * 100}%): api "
        "includes the embedded workers on SQLite; bench = the write generator or the bare "
        "client; other = everything else on the machine. ms/event = CPU milliseconds of our "
        "processes (bench for bare) and of PostgreSQL per write (a) or delivery (b); pg "
        "xacts/event = transactions in the benchmark's database per write or delivery",
        _table(
            ["phase", *CPU_COLUMNS, "ms/event", "pg ms/event", "pg xacts/event"],
            [
                *(
                    _cpu_row(f"ours (a) {rate:g} w/s", row.cpu, row.ours_matched.delivered)
                    for rate, row in report.latency.items()
                ),
                _cpu_row("ours (b)", bulk.cpu, ours_count, xact_count=bulk.ours.delivered),
                _cpu_row("bare (b)", bulk.bare_cpu, bare_count, "bench"),
            ],
        ),
    ]
    lines += ["", _verdict(report)]
    return "\n".join(lines)


def _verdict(report: BackendReport) -> str:
    """One line: each aim, the figure it is about, met or not."""
    parts = []
    at_aim = report.latency.get(float(AIM_RATE_LATENCY))
    if at_aim is not None:
        p50, p99 = at_aim.ours_matched.p(0.5), at_aim.ours_matched.p(0.99)
        for name, value, limit in (("p50", p50, AIM_P50_MS), ("p99", p99, AIM_P99_MS)):
            met = value is not None and value <= limit
            parts.append(
                f"{name} at {AIM_RATE_LATENCY} writes/s {_ms(value)} ms "
                f"(aim <= {limit:g}): {'met' if met else 'NOT met'}"
            )
    rate = report.throughput.ours.rate
    met = rate is not None and rate >= AIM_DELIVERIES
    parts.append(
        f"deliveries/s {_rate(rate)} (aim >= {AIM_DELIVERIES:,.0f}): {'met' if met else 'NOT met'}"
    )
    return "aims: " + "; ".join(parts)


def _cpu_row(
    label: str, cpu: Cpu, count: int, *roles: str, xact_count: int | None = None
) -> list[str]:
    """`count` events during the CPU window (`xact_count` during the transactions' one)."""
    mine = cpu.ms_per(count, *(roles or ("api", "workers")))
    xact_count = count if xact_count is None else xact_count
    return [
        label,
        *(_cores(cpu.use[column]) for column in CPU_COLUMNS),
        _float(mine, 2),
        _float(cpu.ms_per(count, "postgres"), 2),
        "n/a" if cpu.xacts is None or xact_count <= 0 else f"{cpu.xacts / xact_count:.1f}",
    ]


def _float(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _span(matched: Matched) -> str:
    if matched.first is None or matched.last is None:
        return "n/a"
    return f"{matched.last - matched.first:.2f}"


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.events",
        description="Event-to-webhook latency and deliveries/s, beside a bare httpx loop.",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(part) for part in text.split(",")],
        default=[100.0, 1000.0],
        help="write rates of the latency phases, comma-separated (default 100,1000)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per latency phase")
    parser.add_argument(
        "--events", type=int, default=20_000, help="events pre-loaded for the throughput phase"
    )
    parser.add_argument("--write", choices=("create", "update"), default="create")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="at most this long for the pre-loaded events"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.events < 2 or any(rate <= 0 for rate in args.rates):
        parser.error("--seconds and --rates must be > 0, --events >= 2")
    return args


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM (from `timeout`, say) unwinds like Ctrl-C: subprocesses are stopped and the
    database is dropped on the way out."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    backends = chosen_backends(args.backend)
    reports = [render(run_backend(backend, args)) for backend in backends]
    for text in reports:
        print()
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
