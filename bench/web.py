"""Server time of the dashboard's pages with 100,000 contacts, 100,000 runs, 1,000,000 events
and 100,000 emails in the location, beside a bare app.

    uv run python -m bench.web [--backend sqlite|postgresql|both] [--contacts N] [--runs N]
        [--events N] [--emails N] [--seconds N] [--only NAME,...]

For each backend: a fresh database is migrated and seeded in bulk (a tenant, a person who
signs in, N contacts with their tags over the last 100 days, ten published flows and N runs
of them over the last 20 days, one with a step; the events and emails over the last 7 days,
the emails to one Mailsuite contact linked to a contact, and the activity counters of the
overview full: every slot of every kind it reads counting a current bucket, and 40 more
event types); our
app runs in a uvicorn subprocess wrapped in a timing middleware (the server's own time per
request, from the request's arrival to the last byte handed to uvicorn); a signed-in session
cookie is taken through the sign-in form; one real page per scenario is captured, and a bare
Starlette app serves those bytes from memory. Each scenario then runs against both servers
with one request in flight (the time of one request, not queueing), from the closed-loop
load generator of bench.load. See bench/README.md.
"""

import argparse
import asyncio
import json
import math
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.support import make_tenant

from bench import wrk
from bench.api import (
    Scenario,
    Target,
    _table,
    chosen_backends,
    load_average,
    postgres_database,
    server,
    settle,
    sqlite_database,
)
from bench.load import REQUEST_TIMEOUT
from bench.servers import ours_app, serve
from contactflow.contacts.models import Contact, ContactTag
from contactflow.contacts.normalize import search_text
from contactflow.flows import service as flows
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import (
    FAILED,
    SUCCEEDED,
    FlowRun,
    FlowVersion,
    StepRun,
    cursor_name,
)
from contactflow.mailsuite.enrolment import CONSUMER as CAMPAIGNS_CONSUMER
from contactflow.mailsuite.models import Email, MailContact, Sender
from contactflow.platform import activity
from contactflow.platform.auth.passwords import hash_password
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.events import ConsumerCursor, Event, EventStream
from contactflow.platform.ids import new_id
from contactflow.platform.migrate import upgrade
from contactflow.platform.tenancy import User
from contactflow.platform.webhooks.dispatch import CONSUMER as WEBHOOKS_CONSUMER
from contactflow.web.overview import KINDS as OVERVIEW_KINDS

FLOWS = 10
# This module again, as the server process: `python -m bench.web --child KIND ARGUMENT`.
CHILD = ("bench.web", "--child")
BATCH = 5_000
# Inside the runs' retention (30 days by default), so none is deleted while measuring.
SPREAD = timedelta(days=20)
PASSWORD = "bench password, not a secret"  # noqa: S105 - a throwaway database's
AIM_P99_MS = 50.0
TIMINGS_PATH = "/__bench/timings"
SCENARIO_HEADER = "x-bench-scenario"
# One in this many runs failed.
FAILED_EVERY = 10
# Event types counted beside those the overview reads: a busy location's counters.
OTHER_KINDS = 40
WEEK = timedelta(days=7)
# The contacts were added over these days, and updated in another order.
CONTACTS_SPREAD = timedelta(days=100)
# Each contact has the tag every one has and one of COHORTS: a tag filter matching 1 in COHORTS.
COHORTS = 100
STEP = {"type": "filter", "id": "only", "conditions": {"conditions": []}}


# ----------------------------------------------------------------------------- seeding


@dataclass(frozen=True)
class Volume:
    contacts: int
    runs: int
    events: int
    emails: int


@dataclass(frozen=True)
class Fixture:
    location_id: str
    email: str
    flow_id: str
    run_id: str
    # The contact whose Mailsuite side holds every email.
    contact_id: str
    volume: Volume


def _person_email(number: int) -> str:
    return f"person{number}@people.example.org"


def _input(number: int) -> dict[str, Any]:
    return {
        "type": "ContactCreate",
        "locationId": "bench",
        "id": f"contact{number:07d}",
        "firstName": "Person",
        "lastName": f"Number {number}",
        "email": _person_email(number),
        "tags": ["bench", f"cohort-{number % 50}"],
    }


async def _seed_events(db: Database, location: str, count: int, consumers: list[str]) -> None:
    """`count` events over the last week after the log's end, and the log's consumers
    (`consumers`) caught up with them, as in a location whose workers keep up."""
    async with db.reader() as session:
        stream = await session.get(EventStream, location)
    first = (stream.last_seq if stream is not None else 0) + 1
    last = first + count - 1
    now = utcnow()
    for start in range(first, last + 1, BATCH):
        rows = [
            {
                "id": new_id(),
                "location_id": location,
                "seq": seq,
                "type": "ContactUpdate",
                "subject_id": f"contact{seq % 100_000:07d}",
                "payload": {"type": "ContactUpdate", "locationId": location, "seq": seq},
                "created_at": now - WEEK * (last - seq) / count,
            }
            for seq in range(start, min(start + BATCH - 1, last) + 1)
        ]
        async with db.unit_of_work() as uow:
            await uow.session.execute(insert(Event), rows)
    async with db.unit_of_work() as uow:
        await uow.session.execute(delete(EventStream).where(EventStream.location_id == location))
        await uow.session.execute(
            delete(ConsumerCursor).where(ConsumerCursor.location_id == location)
        )
        uow.session.add(EventStream(location_id=location, last_seq=last))
        uow.session.add_all(
            ConsumerCursor(consumer=name, location_id=location, position=last) for name in consumers
        )


async def _seed_contacts(db: Database, location: str, count: int) -> str:
    """`count` contacts added over CONTACTS_SPREAD, each with two tags; the id of the one in
    the middle."""
    now = utcnow()
    middle = ""
    for start in range(0, count, BATCH):
        contacts, tags = [], []
        for number in range(start, min(start + BATCH, count)):
            contact_id = new_id()
            middle = contact_id if number == count // 2 else middle
            name, email = f"Person Number {number}", _person_email(number)
            labels = ["bench", f"cohort-{number % COHORTS}"]
            added = now - CONTACTS_SPREAD * (count - number) / count
            # Updated in an order of its own: a sort by dateUpdated is not the list's order.
            updated = now - CONTACTS_SPREAD * ((number * 7919) % count) / count
            contacts.append(
                {
                    "id": contact_id,
                    "location_id": location,
                    "first_name": "Person",
                    "last_name": f"Number {number}",
                    "name": name,
                    "email": email,
                    "email_lower": email,
                    "type": "lead",
                    "dnd": False,
                    "dnd_settings": {},
                    "custom_fields": [],
                    "search_text": search_text(name, email, tags=labels),
                    "date_added": added,
                    "date_updated": max(added, updated),
                }
            )
            tags += [
                {"contact_id": contact_id, "tag": tag, "position": position}
                for position, tag in enumerate(labels)
            ]
        async with db.unit_of_work() as uow:
            await uow.session.execute(insert(Contact), contacts)
            await uow.session.execute(insert(ContactTag), tags)
    return middle


async def _seed_emails(db: Database, location: str, count: int, crm_contact_id: str) -> None:
    """`count` emails over the last week, all to one Mailsuite contact, linked to the
    contact `crm_contact_id`."""
    now = utcnow()
    async with db.unit_of_work() as uow:
        sender = Sender(location_id=location, name="Bench", from_email="bench@acme.example.org")
        contact = MailContact(
            location_id=location,
            email="reader@people.example.org",
            email_lower="reader@people.example.org",
            crm_contact_id=crm_contact_id,
        )
        uow.session.add_all([sender, contact])
        await uow.session.flush()
        sender_id, contact_id = sender.id, contact.id
    for start in range(0, count, BATCH):
        rows = []
        for number in range(start, min(start + BATCH, count)):
            at = now - WEEK * (count - number) / count
            rows.append(
                {
                    "id": new_id(),
                    "location_id": location,
                    "sender_id": sender_id,
                    "contact_id": contact_id,
                    "to_email": "reader@people.example.org",
                    "subject": f"News number {number}",
                    "html": "<p>News</p>",
                    "text": "News",
                    "message_id": f"<{new_id()}@acme.example.org>",
                    "status": "sent",
                    "scheduled_at": at,
                    "next_attempt_at": at,
                    "sent_at": at,
                    "first_opened_at": at if number % 3 == 0 else None,
                }
            )
        async with db.unit_of_work() as uow:
            await uow.session.execute(insert(Email), rows)


async def _seed_counters(db: Database, location: str) -> None:
    """Every slot of the minute and hour rings counting a current bucket, for the kinds the
    overview reads and OTHER_KINDS more: the most rows its reads can meet."""
    kinds = [*OVERVIEW_KINDS, *(f"Other{number}" for number in range(OTHER_KINDS))]
    rows = []
    for width in activity.WIDTHS:
        last = activity.current_bucket(width)
        for bucket in range(last - width.slots + 1, last + 1):
            rows += [
                {
                    "location_id": location,
                    "width": width.seconds,
                    "kind": kind,
                    "slot": bucket % width.slots,
                    "bucket": bucket,
                    "count": 1 + bucket % 7,
                }
                for kind in kinds
            ]
    async with db.unit_of_work() as uow:
        counts = activity.ActivityCount
        await uow.session.execute(delete(counts).where(counts.location_id == location))
        await uow.session.execute(insert(counts), rows)


async def _seed(database_url: str, volume: Volume) -> Fixture:
    db = Database(database_url)
    try:
        tenant = await make_tenant(db)
        location = tenant.location_id
        email = f"bench-{new_id().lower()}@people.example.org"
        definition = FlowDefinition.model_validate(
            {"trigger": {"key": "contacts.contact.created"}, "steps": [STEP]}
        )
        async with db.unit_of_work() as uow:
            uow.session.add(
                User(
                    location_id=location,
                    first_name="Bench",
                    last_name="Person",
                    email=email,
                    role="admin",
                    password_hash=hash_password(PASSWORD),
                )
            )
            versions = []
            for number in range(FLOWS):
                flow = await flows.create_flow(uow, location, f"Flow {number}", definition)
                await flows.publish(uow, location, flow.id)
                version = await uow.session.scalar(
                    select(FlowVersion.id).where(
                        FlowVersion.flow_id == flow.id, FlowVersion.number.is_not(None)
                    )
                )
                versions.append((flow.id, version))
        runs = volume.runs
        now = utcnow()
        step = SPREAD / runs
        for start in range(0, runs, BATCH):
            rows = []
            for number in range(start, min(start + BATCH, runs)):
                flow_id, version_id = versions[number % FLOWS]
                at = now - step * (runs - number)
                failed = number % FAILED_EVERY == 0
                rows.append(
                    {
                        "id": new_id(),
                        "location_id": location,
                        "flow_id": flow_id,
                        "version_id": version_id,
                        "event_id": new_id(),
                        "state": FAILED if failed else SUCCEEDED,
                        "input": _input(number),
                        "attempts": 1,
                        "next_attempt_at": at,
                        "error": "The remote answered 503" if failed else None,
                        "test": False,
                        "created_at": at,
                        "started_at": at,
                        "finished_at": at,
                        "updated_at": at,
                    }
                )
            async with db.unit_of_work() as uow:
                await uow.session.execute(insert(FlowRun), rows)
        async with db.unit_of_work() as uow:
            run = await uow.session.scalar(
                select(FlowRun)
                .where(FlowRun.location_id == location)
                .order_by(FlowRun.created_at.desc())
                .limit(1)
            )
            assert run is not None
            uow.session.add(
                StepRun(
                    run_id=run.id,
                    step_id="only",
                    action="filter",
                    state="succeeded",
                    position=0,
                    input={"conditions": []},
                    output={"passed": True},
                    attempts=1,
                    started_at=run.created_at,
                    finished_at=run.created_at,
                )
            )
        consumers = [WEBHOOKS_CONSUMER, CAMPAIGNS_CONSUMER]
        consumers += [cursor_name(version_id) for _, version_id in versions if version_id]
        contact_id = await _seed_contacts(db, location, volume.contacts)
        await _seed_events(db, location, volume.events, consumers)
        await _seed_emails(db, location, volume.emails, contact_id)
        await _seed_counters(db, location)
        if db.dialect == "postgresql":
            async with db.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("VACUUM ANALYZE")
        return Fixture(location, email, versions[0][0], run.id, contact_id, volume)
    finally:
        await db.dispose()


# ----------------------------------------------------------------------------- servers


class Timing:
    """The server's own time per request, by the scenario its header names; read (and
    emptied) at TIMINGS_PATH."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: dict[str, list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == TIMINGS_PATH:
            seen, self.seen = self.seen, {}
            await Response(json.dumps(seen), media_type="application/json")(scope, receive, send)
            return
        name = dict(scope["headers"]).get(SCENARIO_HEADER.encode())
        started = time.perf_counter()
        await self.app(scope, receive, send)
        if name is not None:
            self.seen.setdefault(name.decode(), []).append(time.perf_counter() - started)


def bare_app(bodies: dict[str, str]) -> ASGIApp:
    """The captured pages from memory, by path and query: HTTP and routing, nothing else."""

    async def page(request: Request) -> Response:
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Response(bodies[wanted], media_type="text/html; charset=utf-8")

    async def health(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    routes = [Route("/health", health), Route("/{path:path}", page)]
    return Timing(Starlette(routes=routes))


def sign_in(base_url: str, email: str) -> str:
    """The session cookie's value, through the sign-in form as a browser gets it."""
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        form = client.get("/app/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None, form.text[:500]
        data = {"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
        signed_in = client.post("/app/login", data=data)
        assert signed_in.status_code == 303, signed_in.text[:500]
        return signed_in.cookies["cf_session"]


# ----------------------------------------------------------------------------- scenarios


def scenarios(fixture: Fixture, cookie: str, only: frozenset[str]) -> list[Scenario]:
    """The pages measured (those named in `only`, when it names any)."""
    runs = f"/app/l/{fixture.location_id}/runs"
    contacts = f"/app/l/{fixture.location_id}/contacts"
    email = _person_email(fixture.volume.contacts // 3)
    paths = {
        "runs": ("runs, first page", runs),
        "filtered": ("runs, flow + failed", f"{runs}?flow={fixture.flow_id}&state=failed"),
        "text": (
            "runs, text search (1 match)",
            f"{runs}?q=person{fixture.volume.runs // 2}%40people",
        ),
        "text_many": ("runs, text search (every run)", f"{runs}?q=people.example"),
        "run": ("a run's page", f"{runs}/{fixture.run_id}"),
        "flows": ("flows list", f"/app/l/{fixture.location_id}/flows"),
        "overview": ("overview, last hour", f"/app/l/{fixture.location_id}/overview"),
        "overview_week": (
            "overview, last 7 days",
            f"/app/l/{fixture.location_id}/overview?window=7d",
        ),
        "contacts": ("contacts, first page", contacts),
        "contacts_tag": (
            f"contacts, tag filter (1 in {COHORTS})",
            f"{contacts}?{urlencode({'field': 'tags', 'op': 'eq', 'value': 'cohort-7'})}",
        ),
        "contacts_email": (
            "contacts, email filter (is)",
            f"{contacts}?{urlencode({'field': 'email', 'op': 'eq', 'value': email})}",
        ),
        "contacts_text": (
            "contacts, text search (an email)",
            f"{contacts}?{urlencode({'q': email})}",
        ),
        "contacts_sort": (
            "contacts, by date updated, oldest first",
            f"{contacts}?sort=dateUpdated&dir=asc",
        ),
        "contact": (
            f"a contact's page ({fixture.volume.emails} emails)",
            f"{contacts}/{fixture.contact_id}",
        ),
    }
    found = []
    for name, (label, path) in paths.items():
        if only and name not in only:
            continue
        headers = {"Cookie": f"cf_session={cookie}", SCENARIO_HEADER: name}
        found.append(Scenario(name, label, 200, wrk.Request("GET", path, headers)))
    return found


def capture(base_url: str, planned: list[Scenario]) -> dict[str, str]:
    bodies = {}
    with httpx.Client(base_url=base_url, timeout=60, trust_env=False) as client:
        for scenario in planned:
            path = scenario.request.path
            page = client.get(path, headers=scenario.request.headers)
            if page.status_code != 200 or "/app/login" in str(page.url):
                raise RuntimeError(f"{scenario.label}: {page.status_code} {page.text[:300]}")
            bodies[path] = page.text
    return bodies


def server_times(target: Target) -> dict[str, list[float]]:
    with httpx.Client(base_url=target.base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as c:
        seen: dict[str, list[float]] = c.get(TIMINGS_PATH).json()
    return {name: sorted(values) for name, values in seen.items()}


def _percentile_ms(values: list[float], fraction: float) -> float:
    """Nearest rank, as bench.load's."""
    if not values:
        return math.nan
    return values[max(1, math.ceil(fraction * len(values))) - 1] * 1000


@dataclass(frozen=True)
class Load:
    seconds: float
    warmup: float
    # The scenarios to run, by name; empty: all of them.
    only: frozenset[str]


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    ours: wrk.WrkResult
    bare: wrk.WrkResult
    ours_server: list[float]
    bare_server: list[float]
    load_average: str  # when the scenario started


def _measured(
    target: Target, scenario: Scenario, load: Load, scratch: Path, database: str | None
) -> tuple[wrk.WrkResult, list[float]]:
    """One connection (the page's own time, not a queue's), warmed up unmeasured first."""

    def once(seconds: float) -> wrk.WrkResult:
        return wrk.run(
            target.port,
            scenario.request,
            seconds=seconds,
            connections=1,
            threads=1,
            base=0,
            server_pid=target.pid,
            scratch=scratch,
            database=database,
        )

    if load.warmup:
        once(load.warmup)
    server_times(target)  # forget the warm-up's
    result = once(load.seconds)
    return result, server_times(target).get(scenario.name, [])


def run_backend(backend: str, volume: Volume, load: Load) -> str:
    database = sqlite_database() if backend == "sqlite" else postgres_database()
    with database as database_url, tempfile.TemporaryDirectory(prefix="cf-bench-") as scratch:
        database_name = make_url(database_url).database if backend == "postgresql" else None
        print(f"[{backend}] migrating and seeding {volume} ...", flush=True)
        started = time.perf_counter()
        upgrade(database_url)
        fixture = asyncio.run(_seed(database_url, volume))
        print(f"[{backend}] seeded in {time.perf_counter() - started:.0f} s", flush=True)
        rows = []
        with server("ours", database_url, CHILD) as ours:
            # What seeding left the background loops to do is not the pages' time.
            print(f"[{backend}] settled in {settle(ours):.0f} s", flush=True)
            planned = scenarios(fixture, sign_in(ours.base_url, fixture.email), load.only)
            bodies_file = Path(scratch) / "pages.json"
            bodies_file.write_text(json.dumps(capture(ours.base_url, planned)), encoding="utf-8")
            with server("bare", str(bodies_file), CHILD) as bare:
                for scenario in planned:
                    print(f"[{backend}] {scenario.label} ...", flush=True)
                    started_at = load_average()
                    ours_result, ours_times = _measured(
                        ours, scenario, load, Path(scratch), database_name
                    )
                    bare_result, bare_times = _measured(bare, scenario, load, Path(scratch), None)
                    rows.append(
                        Row(scenario, ours_result, bare_result, ours_times, bare_times, started_at)
                    )
    return report(backend, fixture, rows)


def _pair(values: list[float]) -> str:
    return f"{_percentile_ms(values, 0.5):.1f} / {_percentile_ms(values, 0.99):.1f}"


def report(backend: str, fixture: Fixture, rows: list[Row]) -> str:
    table = [
        [
            row.scenario.label,
            _pair(row.ours_server),
            f"{row.ours.p50_ms:.1f} / {row.ours.p99_ms:.1f}",
            _pair(row.bare_server),
            f"{row.bare.p50_ms:.1f} / {row.bare.p99_ms:.1f}",
            f"{row.ours.rate:.0f}",
            "yes" if _percentile_ms(row.ours_server, 0.99) <= AIM_P99_MS else "NO",
            str(row.ours.errors + row.bare.errors),
            row.load_average,
        ]
        for row in rows
    ]
    headers = [
        "scenario",
        "ours server p50/p99 ms",
        "ours client p50/p99",
        "bare server p50/p99",
        "bare client p50/p99",
        "ours req/s",
        f"p99<={AIM_P99_MS:.0f}",
        "errors",
        "load average",
    ]
    volume = fixture.volume
    title = (
        f"== {backend}: {volume.contacts} contacts, {volume.runs} runs, {volume.events} events"
        f" and {volume.emails} emails in the location, one request in flight =="
    )
    return "\n".join([title, _table(headers, table)])


# ----------------------------------------------------------------------------- main


# What names the scenarios, for checking --only before anything is seeded.
PLACEHOLDER = Fixture("location", "", "flow", "run", "contact", Volume(3, 2, 1, 1))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.web", description="Server time of the dashboard's pages."
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts in the location")
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the location")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the location")
    parser.add_argument("--emails", type=int, default=100_000, help="emails in the location")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds each")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument(
        "--only", default="", help="the scenarios to run, by name, comma-separated (default all)"
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ARGUMENT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    known = {scenario.name for scenario in scenarios(PLACEHOLDER, "", frozenset())}
    unknown = set(args.only.split(",")) - known - {""}
    if unknown:
        parser.error(f"--only: unknown {sorted(unknown)}; one of {sorted(known)}")
    if (
        args.contacts < 3
        or args.runs < 2
        or args.events < 1
        or args.emails < 1
        or args.seconds <= 0
        or args.warmup < 0
    ):
        parser.error(
            "--contacts must be >= 3, --runs >= 2, --events and --emails >= 1, --seconds > 0"
            " and --warmup >= 0"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        kind, argument = args.child
        if kind == "ours":
            serve(lambda port: Timing(ours_app(argument, port)))
        else:
            pages = json.loads(Path(argument).read_text(encoding="utf-8"))
            serve(lambda _port: bare_app(pages))
        return 0
    backends = chosen_backends(args.backend)
    volume = Volume(args.contacts, args.runs, args.events, args.emails)
    only = frozenset(name for name in args.only.split(",") if name)
    load = Load(args.seconds, args.warmup, only)
    reports = [run_backend(backend, volume, load) for backend in backends]
    for text in reports:
        print()
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
