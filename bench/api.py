"""Throughput and latency of the Contacts API against a bare Starlette baseline, under wrk.

    uv run python -m bench.api [--backend sqlite|postgresql|both] [--seconds N] [--concurrency C]

For each backend: a fresh database (a temporary SQLite file, or a new PostgreSQL database that
is dropped afterwards) is migrated and seeded with the demo data plus extra contacts, our app is
started in a uvicorn subprocess, one real response per scenario is captured from it, and a bare
Starlette app that returns those captured bytes from memory (no database, no auth) is started in
another subprocess, and a FastAPI app (the floor) that returns them from routes declared with
our routes' parameters (bench/servers.py) in a third. Every scenario then runs against the three
servers, one right after the other, with the same requests, at a fixed concurrency, from
Debian's wrk (bench/wrk.py). floor/bare is what the framework itself keeps of the bare rate for
these routes; ours/floor what our work per request keeps of the framework's. See
bench/README.md.
"""

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import secrets
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url

from bench import wrk
from bench.load import LOOPBACK, REQUEST_TIMEOUT, _process_cpu
from bench.servers import BARE_ROUTES, Canned, save_bodies
from contactflow.contacts import service
from contactflow.contacts.models import Contact
from contactflow.contacts.schemas import ContactCreate
from contactflow.demo import TAGS, create_demo
from contactflow.platform.db import Database
from contactflow.platform.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
# The same variable the tests read; the benchmark only talks to loopback addresses.
PG_ADMIN_DSN = os.environ.get("CONTACTFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
API_VERSION = "2021-07-28"
REGION = "US"
# The demo puts 100 contacts in each location; these make the listed one hold more than a page.
EXTRA_CONTACTS = 200
LIST_LIMIT = 100
SEARCH_TAG = "vip"
SEARCH_PAGE_LIMIT = 20
# Generous: on a busy shared machine a server can take a minute or more to start.
STARTUP_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0
# Before measuring, our server finishes what seeding queued for its background loops (the demo
# flows' runs and emails for the seeded contacts): it counts as settled once it uses less than
# SETTLED_CPU of a core over SETTLE_WINDOW seconds, or after SETTLE_TIMEOUT.
SETTLED_CPU = 0.10
SETTLE_WINDOW = 2.0
SETTLE_TIMEOUT = 300.0


# ----------------------------------------------------------------------------- database


@dataclass(frozen=True)
class Fixture:
    """What the scenarios need from the seeded database."""

    read_location: str
    read_key: str
    contact_id: str
    listed_total: int
    write_location: str
    write_key: str


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def sqlite_database(keep: bool = False) -> Iterator[str]:
    """A new SQLite file, removed afterwards unless `keep`."""
    if keep:
        yield f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='contactflow-bench-')}/bench.db"
        return
    with tempfile.TemporaryDirectory(prefix="contactflow-bench-") as directory:
        yield f"sqlite+aiosqlite:///{directory}/bench.db"


@contextmanager
def postgres_database(keep: bool = False) -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards unless `keep`."""
    name = f"cf_bench_{secrets.token_hex(6)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(PG_ADMIN_DSN).set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        if not keep:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_reachable() -> bool:
    async def probe() -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError):  # TimeoutError is an OSError
        return False
    return True


def chosen_backends(choice: str) -> list[str]:
    """The backends `--backend CHOICE` names, less PostgreSQL when it is down and SQLite was
    asked for too. Exits with 2 when CONTACTFLOW_TEST_PG is not a loopback address, and with
    1 when PostgreSQL alone was asked for and is down."""
    backends = ["sqlite", "postgresql"] if choice == "both" else [choice]
    if "postgresql" not in backends:
        return backends
    if make_url(PG_ADMIN_DSN).host not in LOOPBACK_HOSTS:
        print("CONTACTFLOW_TEST_PG must point at a loopback address", file=sys.stderr)
        raise SystemExit(2)
    if not postgres_reachable():
        print(f"PostgreSQL is not reachable at {make_url(PG_ADMIN_DSN).host}", file=sys.stderr)
        if choice == "postgresql":
            raise SystemExit(1)
        print("SQLite only", file=sys.stderr)
        backends.remove("postgresql")
    return backends


async def _seed(database_url: str) -> Fixture:
    db = Database(database_url)
    try:
        demo = await create_demo(db, region=REGION, seed=20240501)
        read, write = demo.locations[0], demo.locations[1]
        async with db.unit_of_work() as uow:
            for number in range(EXTRA_CONTACTS):
                fields = ContactCreate(
                    first_name="Seed",
                    last_name=f"Contact {number}",
                    email=f"seed.{number}@example.com",
                    phone=f"+1303{number:07d}",
                    tags=[TAGS[number % len(TAGS)], TAGS[(number * 3 + 1) % len(TAGS)]],
                    source="bench",
                )
                await service.create_contact(uow, read.id, fields, REGION)
        async with db.reader() as session:
            in_read = Contact.location_id == read.id
            first = await session.scalar(
                sql_select(Contact.id).where(in_read).order_by(Contact.date_added).limit(1)
            )
            total = await session.scalar(
                sql_select(func.count()).select_from(Contact).where(in_read)
            )
        if db.dialect == "postgresql":
            # What autovacuum would have done by the time a real database serves traffic.
            # Without statistics the planner takes the just-filled tables for empty ones and
            # the tag search runs about 100 times slower (a nested loop over every tagged row).
            async with db.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("VACUUM ANALYZE")
    finally:
        await db.dispose()
    if first is None or total is None:
        raise RuntimeError("seeding left the listed location empty")
    return Fixture(
        read_location=read.id,
        read_key=read.api_key,
        contact_id=first,
        listed_total=total,
        write_location=write.id,
        write_key=write.api_key,
    )


def prepare(database_url: str) -> Fixture:
    upgrade(database_url)  # Alembic runs its own event loop, so not inside ours
    return asyncio.run(_seed(database_url))


# ----------------------------------------------------------------------------- scenarios


def _headers(key: str, *, json_body: bool) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {key}",
        "Version": API_VERSION,
        "Accept": "application/json",
    }
    if json_body:
        headers["Content-Type"] = "application/json"
    return headers


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    status: int  # the status every response must have to count as a success
    request: wrk.Request


def scenarios(fixture: Fixture) -> list[Scenario]:
    create_body = json.dumps(
        {
            "locationId": fixture.write_location,
            "firstName": "Bench",
            "lastName": f"Load {wrk.NUMBER}",
            "email": f"bench.load.{wrk.NUMBER}@example.com",
            "phone": f"+1415{wrk.NUMBER}",
            "tags": ["bench"],
            "source": "bench",
        }
    )
    search_body = json.dumps(
        {
            "locationId": fixture.read_location,
            "pageLimit": SEARCH_PAGE_LIMIT,
            "filters": [{"field": "tags", "operator": "eq", "value": SEARCH_TAG}],
        }
    )
    read = _headers(fixture.read_key, json_body=False)
    read_json = _headers(fixture.read_key, json_body=True)
    write = _headers(fixture.write_key, json_body=True)
    list_path = f"/contacts/?locationId={fixture.read_location}&limit={LIST_LIMIT}"
    found = [
        Scenario(
            "get",
            "GET /contacts/{id}",
            200,
            wrk.Request("GET", f"/contacts/{fixture.contact_id}", read),
        ),
        Scenario(
            "create", "POST /contacts/", 201, wrk.Request("POST", "/contacts/", write, create_body)
        ),
        Scenario(
            "list", f"GET /contacts/?limit={LIST_LIMIT}", 200, wrk.Request("GET", list_path, read)
        ),
        Scenario(
            "search",
            "POST /contacts/search",
            200,
            wrk.Request("POST", "/contacts/search", read_json, search_body),
        ),
    ]
    assert {scenario.name for scenario in found} == set(BARE_ROUTES)
    return found


def _base(request: wrk.Request) -> int:
    """The first number of a run's block (0 for requests that are not numbered)."""
    if request.body is None or wrk.NUMBER not in request.body:
        return 0
    return wrk.next_base()


def capture(base_url: str, planned: list[Scenario]) -> dict[str, Canned]:
    """One real response of ours per scenario: the bytes the bare app will serve."""
    bodies: dict[str, Canned] = {}
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        for scenario in planned:
            request = scenario.request
            response = client.request(
                request.method,
                request.path,
                content=request.example(_base(request)),
                headers=request.headers,
            )
            if response.status_code != scenario.status:
                raise RuntimeError(
                    f"{scenario.label}: expected {scenario.status}, got "
                    f"{response.status_code}: {response.text[:500]}"
                )
            bodies[scenario.name] = Canned(status=response.status_code, body=response.content)
    listed = len(json.loads(bodies["list"].body)["contacts"])
    found = len(json.loads(bodies["search"].body)["contacts"])
    if listed != LIST_LIMIT or found != SEARCH_PAGE_LIMIT:
        raise RuntimeError(f"seed too small: list gave {listed}, search gave {found} contacts")
    return bodies


# ----------------------------------------------------------------------------- servers


def _read_port(process: subprocess.Popen[str], deadline: float) -> int:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()
            if not line:
                break
            return int(line.strip())
        if process.poll() is not None:
            break
    raise RuntimeError(f"server did not announce its port (exit code {process.poll()})")


def _wait_ready(process: subprocess.Popen[str], base_url: str, deadline: float) -> None:
    with httpx.Client(base_url=base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"server at {base_url} did not become ready")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    if process.stdout is not None:
        process.stdout.close()


@dataclass(frozen=True)
class Target:
    """A server under test: where it listens and which process serves it."""

    kind: str
    port: int
    pid: int

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@contextmanager
def server(
    kind: str, argument: str, module: tuple[str, ...] = ("bench.servers",)
) -> Iterator[Target]:
    """`python -m MODULE... KIND ARGUMENT` in a subprocess, stopped on exit."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", *module, kind, argument],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        target = Target(kind=kind, port=_read_port(process, deadline), pid=process.pid)
        _wait_ready(process, target.base_url, deadline)
        yield target
    finally:
        _stop(process)


def settle(target: Target) -> float:
    """Wait until the server is all but idle; how long that took, in seconds."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_TIMEOUT:
        before = _process_cpu(target.pid)
        time.sleep(SETTLE_WINDOW)
        after = _process_cpu(target.pid)
        if before is None or after is None or (after - before) / SETTLE_WINDOW < SETTLED_CPU:
            break
    return time.monotonic() - started


# ----------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    size: int  # bytes in the captured response body
    ours: wrk.WrkResult
    floor: wrk.WrkResult
    bare: wrk.WrkResult
    load: str  # the load averages (uptime) when the scenario started


def _cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _cpu_per_request(result: wrk.WrkResult) -> str:
    """Server CPU milliseconds per successful request."""
    if result.cpu.server is None or not result.completed:
        return "n/a"
    return f"{result.cpu.server * result.elapsed / result.completed * 1000:.2f}"


def _latency(result: wrk.WrkResult) -> str:
    return f"{result.p50_ms:.1f} / {result.p99_ms:.1f}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` prints them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in [headers, *rows]) for i in range(len(headers))]

    def render(line: list[str]) -> str:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        return "  ".join(cells)

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([render(headers), rule, *(render(line) for line in rows)])


def _ratio(numerator: wrk.WrkResult, denominator: wrk.WrkResult) -> str:
    return f"{numerator.rate / denominator.rate:.3f}" if denominator.rate else "n/a"


def report(backend: str, fixture: Fixture, rows: list[Row], concurrency: int) -> str:
    main = [
        [
            row.scenario.label,
            f"{row.ours.rate:.0f}",
            f"{row.floor.rate:.0f}",
            f"{row.bare.rate:.0f}",
            _ratio(row.ours, row.bare),
            _ratio(row.floor, row.bare),
            _ratio(row.ours, row.floor),
            _latency(row.ours),
            _latency(row.bare),
            row.load,
        ]
        for row in rows
    ]
    cpu = [
        [
            row.scenario.label if result is row.ours else "",
            str(row.size) if result is row.ours else "",
            name,
            _cores(result.cpu.server),
            _cpu_per_request(result),
            _cores(result.cpu.client),
            _cores(result.cpu.postgres),
            _cores(result.cpu.other),
            _cores(result.cpu.idle),
            str(result.completed),
            str(result.errors),
        ]
        for row in rows
        for name, result in (("ours", row.ours), ("floor", row.floor), ("bare", row.bare))
    ]
    lines = [
        f"== {backend}: concurrency {concurrency}, {fixture.listed_total} contacts in the "
        "listed location ==",
        _table(
            [
                "scenario",
                "ours req/s",
                "floor req/s",
                "bare req/s",
                "ours/bare",
                "floor/bare",
                "ours/floor",
                "ours p50/p99 ms",
                "bare p50/p99 ms",
                "load 1/5/15 min",
            ],
            main,
        ),
        "",
        f"CPU while measuring, in % of one core ({os.cpu_count()} cores = "
        f"{(os.cpu_count() or 1) * 100}%); client = wrk; other = other programs on this machine",
        _table(
            [
                "scenario",
                "resp bytes",
                "app",
                "server",
                "srv ms/req",
                "client",
                "postgres",
                "other",
                "idle",
                "requests",
                "errors",
            ],
            cpu,
        ),
    ]
    if any(row.ours.errors or row.floor.errors or row.bare.errors for row in rows):
        lines.append("WARNING: some requests failed or got an unexpected status (see errors).")
    return "\n".join(lines)


def describe_load(concurrency: int, threads: int) -> str:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    version = subprocess.run(  # noqa: S603 - wrk's version line
        [wrk.WRK, "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return (
        f"load generator: {version[0] if version else 'wrk'}; {threads} thread(s), "
        f"{concurrency} keep-alive HTTP/1.1 connections to {LOOPBACK}, closed loop, "
        "a Lua script per scenario (bench/wrk.py)\n"
        f"servers: one subprocess each, uvicorn with 1 worker ({loop} loop, {http} parser), "
        f"log level warning; python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{platform.node()}, load average {load_average()}"
    )


# ----------------------------------------------------------------------------- main


@dataclass(frozen=True)
class Load:
    concurrency: int
    threads: int
    seconds: float
    warmup: float


def _drive(
    target: Target, scenario: Scenario, load: Load, scratch: Path, database: str | None
) -> wrk.WrkResult:
    """Warm up (unmeasured), then measure."""

    def once(seconds: float) -> wrk.WrkResult:
        return wrk.run(
            target.port,
            scenario.request,
            seconds=seconds,
            connections=load.concurrency,
            threads=load.threads,
            base=_base(scenario.request),
            server_pid=target.pid,
            scratch=scratch,
            database=database,
        )

    if load.warmup > 0:
        once(load.warmup)
    return once(load.seconds)


def run_backend(backend: str, load: Load) -> str:
    database = sqlite_database() if backend == "sqlite" else postgres_database()
    with database as database_url, tempfile.TemporaryDirectory(prefix="cf-bench-") as scratch:
        database_name = make_url(database_url).database if backend == "postgresql" else None
        print(f"[{backend}] migrating and seeding {make_url(database_url).database} ...")
        fixture = prepare(database_url)
        planned = scenarios(fixture)
        rows: list[Row] = []
        with server("ours", database_url) as ours:
            print(f"[{backend}] waiting for our server's background loops to settle ...")
            settled = settle(ours)
            print(f"[{backend}] settled after {settled:.0f} s", flush=True)
            bodies = capture(ours.base_url, planned)
            bodies_file = Path(scratch) / "bodies.json"
            save_bodies(bodies_file, bodies)
            with (
                server("floor", str(bodies_file)) as floor,
                server("bare", str(bodies_file)) as bare,
            ):
                for scenario in planned:
                    started = load_average()
                    results: dict[str, wrk.WrkResult] = {}
                    for target in (ours, floor, bare):
                        print(f"[{backend}] {scenario.label}: {target.kind} ...", flush=True)
                        results[target.kind] = _drive(
                            target, scenario, load, Path(scratch), database_name
                        )
                    size = len(bodies[scenario.name].body)
                    rows.append(
                        Row(
                            scenario,
                            size,
                            results["ours"],
                            results["floor"],
                            results["bare"],
                            started,
                        )
                    )
    return report(backend, fixture, rows, load.concurrency)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api",
        description=(
            "Requests/s and p50/p99 latency of the Contacts API vs FastAPI alone and a bare "
            "Starlette app."
        ),
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds per scenario and server"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds before each measurement"
    )
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.warmup < 0 or args.concurrency < 1 or args.threads < 1:
        parser.error("--seconds must be >= 1, --warmup >= 0, --concurrency and --threads >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk.require()
    backends = chosen_backends(args.backend)
    load = Load(args.concurrency, args.threads, args.seconds, args.warmup)
    print(describe_load(load.concurrency, load.threads), flush=True)
    reports = []
    for backend in backends:
        reports.append(run_backend(backend, load))
        print(reports[-1], flush=True)  # kept, should a later backend fail
    print()
    print(describe_load(load.concurrency, load.threads))
    print(
        f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; command: python -m bench.api "
        + " ".join(sys.argv[1:] if argv is None else argv)
    )
    for text in reports:
        print()
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
