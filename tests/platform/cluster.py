"""The pieces of a contactflow cluster on one machine, for the cluster tests and the soak bench:
processes started in groups of their own, HAProxy in front of the API processes, and a
PostgreSQL server of its own that may be stopped and started again without touching the
machine's shared one (other tests use that one meanwhile)."""

import asyncio
import os
import random
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select

from contactflow.flows.models import FlowRun
from contactflow.platform.db import Database
from contactflow.platform.events import Event
from contactflow.platform.migrate import upgrade
from tests.receiver import Receiver
from tests.support import free_port
from tests.webhooks.helpers import poll, stored_events, webhook_ids

HAPROXY = Path("/usr/sbin/haproxy")
POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
# The API's settings: no loops of its own, rate limits out of the way.
API_SETTINGS = {
    "embedded_workers": "false",
    "rate_limit_burst": "1000000",
    "rate_limit_daily": "1000000000",
}
# A crashed worker's leases run out this fast, so what it held is taken over within a run.
# The workers rely on NOTIFY to wake; the poll is only a backstop (a 50 ms one costs CPU).
WORKER_SETTINGS = {"lease_seconds": "3", "worker_poll_seconds": "0.5"}
POSTGRES_OS_USER = "postgres"
RUNUSER = "/usr/sbin/runuser"
# A throw-away server: durability is of no use, speed and a small footprint are.
POSTGRES_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c shared_buffers=32MB -c max_connections=200 -c unix_socket_directories='' "
    "-c listen_addresses=127.0.0.1"
)
PG_CTL_SECONDS = 60
READ_BACK_CONCURRENCY = 4
SETTLE_SECONDS = 120.0


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
        process = subprocess.Popen(  # noqa: S603 - our own CLI and haproxy, the caller's arguments
            args, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    started.append(process)
    return process


# One line per request: accept time, status, total ms, server, termination state, retries,
# method (read by bench/soak.py).
REQUEST_LOG_FORMAT = "%Ts.%ms %ST %Tt %s %tsc %rc %HM"


def haproxy_config(
    front: int, backends: list[int], *, request_log: bool = False, stats: int | None = None
) -> str:
    """Health checks on /readyz, patient enough for a loaded machine; a connection refused by
    a dead backend is retried on the other one (`retries` with `option redispatch`), and so is
    an idempotent request whose backend died before answering (`retry-on`), never a POST
    that reached one. With `request_log`, each request is logged on stdout; with `stats`,
    HAProxy's view of its servers is served as CSV at `/stats;csv` on that port."""
    servers = "\n".join(
        f"    server api{n} 127.0.0.1:{port} check inter 500 fall 3 rise 1"
        for n, port in enumerate(backends)
    )
    global_log = "    log stdout format raw local0 info\n" if request_log else ""
    request_log_format = (
        f'    log global\n    log-format "{REQUEST_LOG_FORMAT}"\n' if request_log else ""
    )
    stats_frontend = (
        f"frontend stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats\n"
        if stats is not None
        else ""
    )
    return f"""global
    maxconn 512
{global_log}defaults
    mode http
{request_log_format}    timeout connect 1s
    timeout check 3s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
frontend api
    bind 127.0.0.1:{front}
    default_backend apis
backend apis
    balance roundrobin
    http-request disable-l7-retry if !{{ method GET HEAD PUT }}
    option httpchk GET /readyz
    http-check expect status 200
{servers}
{stats_frontend}"""


@dataclass
class PrivatePostgres:
    """A PostgreSQL server in a directory of its own, run by the `postgres` OS user (the server
    refuses to run as root) on a free loopback port, with trust authentication."""

    directory: Path
    port: int
    binaries: Path

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def _pg_ctl(self, *args: str) -> None:
        pg_ctl = self.binaries / "pg_ctl"
        run_as_postgres(
            pg_ctl, "-D", str(self.directory / "data"), "-t", str(PG_CTL_SECONDS), "-w", *args
        )

    def start(self) -> None:
        """Start the server and return once it accepts connections."""
        options = f"-p {self.port} {POSTGRES_OPTIONS}"
        self._pg_ctl("-l", str(self.log), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends its sessions, `immediate` is a crash."""
        self._pg_ctl("-m", mode, "stop")


def run_as_postgres(tool: Path, *args: str) -> None:
    subprocess.run(  # noqa: S603 - PostgreSQL's own tools on our directory
        [RUNUSER, "-u", POSTGRES_OS_USER, "--", str(tool), *args],
        check=True,
        capture_output=True,
        timeout=PG_CTL_SECONDS + 10,
    )


def postgres_binaries() -> Path | None:
    return POSTGRES_BINARIES[-1] if POSTGRES_BINARIES else None


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A new PostgreSQL server at the newest schema, stopped and removed at exit, whatever
    happened meanwhile."""
    binaries = postgres_binaries()
    if binaries is None:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    # Not under pytest's own temporary directory, which only root may enter.
    directory = Path(tempfile.mkdtemp(prefix="contactflow-pg-"))
    shutil.chown(directory, POSTGRES_OS_USER, POSTGRES_OS_USER)
    server = PrivatePostgres(directory, free_port(), binaries)
    try:
        run_as_postgres(
            binaries / "initdb",
            *("-D", str(directory / "data"), "-U", "postgres", "--auth=trust", "--no-sync"),
        )
        server.start()
        upgrade(server.url)
        yield server
    finally:
        with suppress(subprocess.SubprocessError):
            server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


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


async def read_back(client: httpx.AsyncClient, last_names: dict[str, set[str]]) -> list[str]:
    """The acknowledged writes that do not read back through the balancer."""
    wrong: list[str] = []
    gate = asyncio.Semaphore(READ_BACK_CONCURRENCY)

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


async def ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False


async def settled(
    db: Database,
    receiver: Receiver,
    location_id: str,
    first_seq: int,
    flow_id: str,
    settle_seconds: float = SETTLE_SECONDS,
) -> None:
    """Wait until every event after `first_seq` is delivered and every run of the flow is
    finished."""

    async def pending() -> tuple[int, int]:
        events = [e.id for e in await stored_events(db, location_id) if e.seq > first_seq]
        undelivered = set(events) - set(webhook_ids(receiver.arrivals))
        async with db.reader() as session:
            unfinished = await session.scalars(
                select(FlowRun.id).where(FlowRun.flow_id == flow_id, FlowRun.finished_at.is_(None))
            )
            return len(undelivered), len(list(unfinished))

    await poll(pending, lambda counts: counts == (0, 0), within=settle_seconds)


def check_deliveries(
    events: list[Event], receiver: Receiver, path: str, disrupted_until: float
) -> int:
    """Each event arrived at `path`; one arrived twice only if its first sending was in flight
    until `disrupted_until` (a killed worker's batch, or one whose outcome could not be
    recorded, is sent again once its leases expire): delivery is at least once. Returns the
    number of repeats."""
    arrivals = [a for a in list(receiver.arrivals) if a.path == path]
    first: dict[str, float] = {}
    count: dict[str, int] = {}
    for arrival in arrivals:
        webhook_id = arrival.headers["webhook-id"]
        first.setdefault(webhook_id, arrival.at)
        count[webhook_id] = count.get(webhook_id, 0) + 1
    assert {e.id for e in events} - set(first) == set(), "events never delivered"
    assert set(first) - {e.id for e in events} == set(), "deliveries of unknown events"
    late = {wid: n for wid, n in count.items() if n > 1 and first[wid] > disrupted_until}
    assert late == {}, f"duplicates not explained by the disruption: {late}"
    return sum(n - 1 for n in count.values())


async def check_runs(db: Database, flow_id: str, events: list[Event]) -> None:
    """One run per ContactCreate event, each succeeded."""
    async with db.reader() as session:
        runs = list(await session.scalars(select(FlowRun).where(FlowRun.flow_id == flow_id)))
    created = sorted(e.id for e in events if e.type == "ContactCreate")
    assert sorted(str(run.event_id) for run in runs) == created
    assert {run.state for run in runs} == {"succeeded"}, [r.error for r in runs if r.error]
