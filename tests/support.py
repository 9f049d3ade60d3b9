"""Test helpers: real servers on loopback, tenants with keys, database set-up, and the
`contactflow` command (as a process, or in this process where starting one costs too much)."""

import asyncio
import atexit
import functools
import json
import os
import secrets
import shutil
import socket
import sqlite3
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from sqlalchemy import Connection, select
from starlette.types import ASGIApp
from typer.testing import CliRunner, Result

from contactflow.app import create_app
from contactflow.cli import app as cli
from contactflow.cli_support import console
from contactflow.contacts import reads
from contactflow.contacts.models import Calendar, Contact
from contactflow.platform.auth.api_keys import create_key
from contactflow.platform.auth.scopes import DEFAULT_KEY_SCOPES
from contactflow.platform.db import Database
from contactflow.platform.migrate import upgrade
from contactflow.platform.tenancy import Company, Location, User
from contactflow.settings import Settings, get_settings

PG_ADMIN_DSN = os.environ.get("CONTACTFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
CONTACTFLOW = Path(sys.executable).with_name("contactflow")


# The tests' clients speak plain HTTP to loopback: one TLS context serves them all, where each
# new client would load the CA bundle again (tens of milliseconds of CPU).
TLS = ssl.create_default_context()


# A test server shares a loaded 2-core machine with everything else the suite runs: an answer
# may take longer than httpx's default 5 s without anything being wrong.
CLIENT_TIMEOUT_SECONDS = 30.0


def api_client(base_url: str, headers: Mapping[str, str], **options: Any) -> httpx.AsyncClient:
    options.setdefault("timeout", CLIENT_TIMEOUT_SECONDS)
    return httpx.AsyncClient(base_url=base_url, headers=headers, verify=TLS, **options)


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def fresh_postgres_database(template: str | None = None) -> Iterator[str]:
    """A new database for one test run, dropped afterwards: empty, or a copy of `template`."""
    name = f"cf_test_{secrets.token_hex(6)}"
    copied = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_admin(f'CREATE DATABASE "{name}"{copied}'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Running every migration takes a PostgreSQL database 4 s and a SQLite file up to 8 s (each
# table rebuilt and synced to disk); a test that needs a database of its own gets a copy of
# one migrated once per process instead, which takes a fraction of a second.


@functools.cache
def _postgres_template() -> str:
    """A migrated database no one connects to, dropped as the process ends: PostgreSQL
    copies a database only while it has no sessions."""
    name = f"cf_template_{secrets.token_hex(6)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    atexit.register(lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    upgrade(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    return name


@functools.cache
def _sqlite_template() -> Path:
    """A migrated SQLite file, its write-ahead log folded into it, so that the file alone is
    the database."""
    directory = Path(tempfile.mkdtemp(prefix="cf_template_"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "contactflow.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@contextmanager
def migrated_database(
    like_url: str, directory: Path, name: str = "contactflow.db"
) -> Iterator[str]:
    """A new database of the same engine as `like_url`, at the newest schema: a SQLite file
    `name` in `directory`, or a PostgreSQL database dropped afterwards."""
    if like_url.startswith("sqlite"):
        path = directory / name
        shutil.copyfile(_sqlite_template(), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    with fresh_postgres_database(template=_postgres_template()) as url:
        yield url


def server_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test server: webhooks may reach loopback over http, retries are
    compressed from minutes to milliseconds, and the rate limits are out of the way
    (tests/security sets small ones where it tests them). Its loops wake on its own commits
    and when their next item falls due; the half-second poll is for what tests write through
    a database handle of their own on SQLite (no NOTIFY there), and an idle server costs a
    few percent of a core where a 50 ms poll cost a third."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "rate_limit_burst": 1_000_000,
        "rate_limit_daily": 1_000_000_000,
        "dev_mode": True,
        "webhook_allowed_networks": ["127.0.0.1/32"],
        "webhook_retry_delays": [0.05, 0.1, 0.2, 0.4],
        "worker_poll_seconds": 0.5,
        "lease_seconds": 5,
    }
    return Settings(**{**values, **overrides})


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    settings: Settings


KEEP_ALIVE_SECONDS = 300


@contextmanager
def live_server(
    settings: Settings, app: ASGIApp | None = None, *, host_name: str | None = None
) -> Iterator[LiveServer]:
    """uvicorn on 127.0.0.1 with a random port, in a thread with its own event loop; the app
    is create_app(settings) unless the test built one. Proxy headers are left to the app, as
    `contactflow serve` does. Idle connections are kept for longer than any test pauses
    (uvicorn's 5 s default let a server close a pooled connection just as a test reused it
    after waiting on a CLI process).

    With `host_name`, the server is addressed by that name (a browser keeps cookies per host
    name, whatever the port) and its base URL setting is its own address, as `contactflow
    serve` sets it, so that the links and OAuth redirect URIs it gives lead back to it. The
    socket is bound before the app is built: the port is part of that address."""
    with socket.create_server(("127.0.0.1", 0)) as listening:
        base_url = f"http://{host_name or '127.0.0.1'}:{listening.getsockname()[1]}"
        if host_name is not None:
            settings = settings.model_copy(update={"base_url": base_url})
        config = uvicorn.Config(
            app or create_app(settings),
            log_level="warning",
            lifespan="on",
            proxy_headers=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started:
                if time.monotonic() > deadline or not thread.is_alive():
                    raise RuntimeError("uvicorn did not start")
                time.sleep(0.01)
            yield LiveServer(base_url=base_url, settings=settings)
        finally:
            server.should_exit = True
            thread.join(timeout=30)


@dataclass(frozen=True)
class Tenant:
    company_id: str
    location_id: str
    key: str
    user_ids: list[str]
    calendar_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Version": "2021-07-28"}


async def make_tenant(
    db: Database,
    *,
    scopes: tuple[str, ...] = DEFAULT_KEY_SCOPES,
    allow_duplicates: bool = False,
    upsert_priority: tuple[str, ...] = ("email", "phone"),
    sandbox: bool = False,
) -> Tenant:
    async with db.unit_of_work() as uow:
        company = Company(name="Test Company")
        uow.session.add(company)
        await uow.session.flush()
        location = Location(
            company_id=company.id,
            name="Test Location",
            sandbox=sandbox,
            allow_duplicate_contact=allow_duplicates,
            upsert_priority=list(upsert_priority),
        )
        uow.session.add(location)
        await uow.session.flush()
        users = [
            User(location_id=location.id, first_name=name, last_name="Tester", email=f"{name}@t.io")
            for name in ("ada", "bob")
        ]
        calendar = Calendar(location_id=location.id, name="Calls")
        uow.session.add_all([*users, calendar])
        await uow.session.flush()
        _, key = await create_key(uow, location.id, list(scopes))
        return Tenant(
            company_id=company.id,
            location_id=location.id,
            key=key,
            user_ids=[user.id for user in users],
            calendar_id=calendar.id,
        )


# `contactflow` -----------------------------------------------------------------------------

# How long a `contactflow serve` process may take to answer (every module compiled anew, on a
# loaded machine).
SERVE_STARTUP_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_until_serving(base_url: str, within: float, *, alive: Any = None) -> None:
    """Poll `base_url`/livez until it answers 200; `alive()`, when given, must stay true."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=base_url) as http:
        while True:
            assert alive is None or alive(), "the server process ended"
            assert time.monotonic() < deadline, f"{base_url} did not start"
            try:
                if (await http.get("/livez")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


@asynccontextmanager
async def serve_process(
    database_url: str, env: Mapping[str, str] | None = None, **settings: str
) -> AsyncIterator[str]:
    """`contactflow serve` in a process of its own on `database_url`, with `settings` as
    CONTACTFLOW_ variables and `env` as other variables: its base URL while the block runs."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(CONTACTFLOW),
        *("serve", "--port", str(port)),
        env={**cli_env(database_url, **settings), **(env or {})},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_serving(
            base_url, SERVE_STARTUP_SECONDS, alive=lambda: process.returncode is None
        )
        yield base_url
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


def settings_env(**settings: str) -> dict[str, str]:
    """This process's environment with `settings` as its only CONTACTFLOW_ variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONTACTFLOW_")}
    env.update({f"CONTACTFLOW_{key.upper()}": value for key, value in settings.items()})
    return env


def cli_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a `contactflow` process on `database_url` (wide columns, so that
    a table's row is a line)."""
    env = settings_env(
        database_url=database_url,
        dev_mode="true",
        webhook_allowed_networks=json.dumps(["127.0.0.1/32"]),
        webhook_retry_delays=json.dumps([0.05, 0.1, 0.2, 0.4]),
        **{"worker_poll_seconds": "0.05", **settings},
    )
    env.update({"COLUMNS": "400", "PYTHONUNBUFFERED": "1"})
    return env


async def run_cli(
    database_url: str,
    *args: str,
    within: float = 60.0,
    settings: Mapping[str, str] | None = None,
) -> str:
    """Run `contactflow ARGS` as a process to completion, with `settings` as CONTACTFLOW_
    variables; its stdout (it must exit 0). A process starts in seconds (every module is
    compiled anew), so tests run several at once or use `invoke_cli`."""
    process = await asyncio.create_subprocess_exec(
        str(CONTACTFLOW),
        *args,
        env=cli_env(database_url, **(settings or {})),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(within):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, (args, out.decode(), err.decode())
    return out.decode()


def _invoke(
    database_url: str,
    args: tuple[str, ...],
    stdin: str,
    columns: int,
    settings: Mapping[str, str],
) -> Result:
    get_settings.cache_clear()  # the command reads its settings from the environment
    try:
        # Set on the console itself: it read COLUMNS once, when it was made at import.
        console.width = columns
        env = {f"CONTACTFLOW_{key.upper()}": value for key, value in settings.items()}
        env["CONTACTFLOW_DATABASE_URL"] = database_url
        return CliRunner().invoke(cli, list(args), input=stdin, env=env)
    finally:
        get_settings.cache_clear()


async def invoke_cli(
    database_url: str,
    *args: str,
    stdin: str = "",
    columns: int = 400,
    settings: Mapping[str, str] | None = None,
) -> Result:
    """The real `contactflow ARGS` in this process (no process start-up to pay for); in a
    thread, since the command runs its own event loop. Commands that change this process's
    global state (the secrets key ring) must run as processes, with `run_cli`. Tables print
    `columns` wide (by default, wide enough for a row on a line); `settings` are CONTACTFLOW_
    variables of the command's environment."""
    return await asyncio.to_thread(_invoke, database_url, args, stdin, columns, settings or {})


async def cli_output(database_url: str, *args: str) -> str:
    """What `invoke_cli` printed to stdout, without surrounding blank space; the command must
    succeed."""
    result = await invoke_cli(database_url, *args)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout.strip()


async def stale_stored_wires(db: Database) -> list[str]:
    """Ids of the contacts whose stored wire JSON (ADR 0025) is not the JSON their columns,
    tags and followers make, read in one snapshot."""

    def stale(connection: Connection) -> list[str]:
        stored = dict(
            connection.execute(
                select(Contact.id, Contact.wire).where(Contact.wire.is_not(None))
            ).all()
        )
        ids = list(stored)
        found: list[str] = []
        for start in range(0, len(ids), 500):
            built = reads.built_wires(connection, ids[start : start + 500])
            found += [
                contact_id for contact_id, wire in built.items() if stored[contact_id] != wire
            ]
        return found

    async with db.engine.connect() as connection:
        if db.dialect == "postgresql":
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            return await connection.run_sync(stale)


@asynccontextmanager
async def checked_database(url: str) -> AsyncIterator[Database]:
    """A test database that, once its tests are done with it, checks that every contact's
    stored wire JSON is current (ADR 0025), whatever they did to contacts."""
    database = Database(url)
    try:
        yield database
        stale = await stale_stored_wires(database)
    finally:
        await database.dispose()
    assert not stale, f"contacts whose stored wire JSON is out of date: {stale[:10]}"
