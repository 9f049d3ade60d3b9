"""Flow execution throughput and trigger-to-action latency, beside a flow that does nothing.

    uv run python -m bench.flows [--backend sqlite|postgresql|both] [--events N] [--rate R]

For each backend, on a fresh database (a temporary SQLite file, or a new PostgreSQL database
dropped afterwards) with one tenant and one Mailsuite contact, two flows on the same trigger
(`contacts.contact.created`) and the same condition (`trigger.email exists`):

- **timeline**: one action, `mailsuite.timeline.add_note` on the Mailsuite contact;
- **filter only**: one filter step that passes, the baseline: what the engine costs per run
  (consuming the event, the run, its claim, one step run, the end) with no action.

Each flow is measured on its own, in this order, published and enabled just before its phases
(so it reads only its own events):

(a) drain: with no worker running, N ContactCreate events are appended in transactions of
    1,000 (bench/events.py `preload`); then a child process runs the workers as `contactflow
    serve` does (platform/runtime.py with the Mailsuite and flows loops) until all N runs have
    finished. executions/s = N / (time from the workers' start to the last run's end).
(b) live: the child runs the workers and, in the same process (as the API runs beside its
    embedded workers), appends one event every 1 / R seconds for S seconds, each in its own
    transaction; latency is the step's `finished_at` minus its event's `createdAt`.

CPU is the child's user and system time (all threads: aiosqlite's too) per execution;
transactions are those the child's engine began (reads and writes) and committed, per
execution; on PostgreSQL also the CPU of the database's backends. See bench/README.md.
"""

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import event as sql_event
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from tests.support import make_tenant

from bench.api import (
    ROOT,
    _table,
    chosen_backends,
    postgres_database,
    sqlite_database,
)
from bench.events import percentile_ms, preload
from bench.load import _backends_cpu
from contactflow.background import CONTEXT_WORKERS
from contactflow.contacts import service as crm
from contactflow.contacts.schemas import ContactCreate
from contactflow.flows import service as flows
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.engine import worker_loops
from contactflow.flows.models import CANCELLED, FAILED, SUCCEEDED, FlowRun, StepRun
from contactflow.mailsuite import contacts as mail_contacts
from contactflow.mailsuite.schemas import ContactCreate as MailContactCreate
from contactflow.platform import crypto, events
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.event_types import CONTACT_CREATE
from contactflow.platform.ids import new_id
from contactflow.platform.jobs import Worker
from contactflow.platform.migrate import upgrade
from contactflow.platform.runtime import running_workers
from contactflow.settings import Settings

AIM_RATE = 1000.0  # executions per second
AIM_P99_MS = 100.0
REGION = "US"
STEP = "step"  # the id of each flow's one step, whose end the latency is measured to
WHEN = {"conditions": [{"field": "trigger.email", "operator": "exists"}]}
FLOWS: dict[str, dict[str, Any]] = {
    "timeline": {
        "type": "action",
        "id": STEP,
        "action": "mailsuite.timeline.add_note",
        "input": {"contactId": "", "body": "New contact {{ trigger.lastName }}"},
    },
    "filter only": {"type": "filter", "id": STEP, "conditions": WHEN},
}
CHILD_TIMEOUT = 1800.0


def _settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key_file=str(ROOT / "contactflow.key"))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _database_name(database_url: str) -> str | None:
    url = make_url(database_url)
    return url.database if url.get_backend_name() == "postgresql" else None


# Seeding and reading back ---------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    location_id: str
    mail_contact_id: str


async def _seed(database_url: str) -> Fixture:
    """A tenant, a Mailsuite contact for the notes, and one CRM contact, whose ContactCreate
    event is the payload `preload` copies."""
    db = Database(database_url)
    try:
        tenant = await make_tenant(db)
        async with db.unit_of_work() as uow:
            mail = await mail_contacts.create_contact(
                uow,
                tenant.location_id,
                MailContactCreate(email="timeline@example.com", first_name="Timeline"),
                REGION,
            )
            fields = ContactCreate(first_name="Seed", email="seed@example.com", source="bench")
            await crm.create_contact(uow, tenant.location_id, fields, REGION)
        return Fixture(tenant.location_id, mail.id)
    finally:
        await db.dispose()


async def _enable(database_url: str, fixture: Fixture, name: str, previous: str | None) -> str:
    """Publish and enable the flow `name`, disabling the `previous` one: its id."""
    step = json.loads(json.dumps(FLOWS[name]).replace('""', f'"{fixture.mail_contact_id}"'))
    definition = FlowDefinition.model_validate(
        {"trigger": {"key": "contacts.contact.created"}, "conditions": WHEN, "steps": [step]}
    )
    db = Database(database_url)
    try:
        async with db.unit_of_work() as uow:
            if previous is not None:
                await flows.set_enabled(uow, fixture.location_id, previous, False)
            flow = await flows.create_flow(uow, fixture.location_id, name, definition)
            await flows.publish(uow, fixture.location_id, flow.id)
            await flows.set_enabled(uow, fixture.location_id, flow.id, True)
            return flow.id
    finally:
        await db.dispose()


async def _latencies(database_url: str, flow_id: str, since: datetime) -> list[float]:
    """Seconds from each event createdAt (from `since` on) to its run's step's end, sorted."""
    db = Database(database_url)
    try:
        async with db.reader() as session:
            rows = await session.execute(
                select(events.Event.created_at, StepRun.finished_at)
                .join(FlowRun, FlowRun.event_id == events.Event.id)
                .join(StepRun, (StepRun.run_id == FlowRun.id) & (StepRun.step_id == STEP))
                .where(
                    FlowRun.flow_id == flow_id,
                    events.Event.created_at >= since,
                    StepRun.finished_at.is_not(None),
                )
            )
            return sorted(
                (finished - created).total_seconds()
                for created, finished in rows
                if finished is not None
            )
    finally:
        await db.dispose()


# The child: workers, and the live writes ----------------------------------------------


async def _finished(db: Database, flow_id: str) -> tuple[int, datetime | None]:
    async with db.reader() as session:
        row = (
            await session.execute(
                select(func.count(), func.max(FlowRun.finished_at)).where(
                    FlowRun.flow_id == flow_id, FlowRun.state.in_((SUCCEEDED, FAILED, CANCELLED))
                )
            )
        ).one()
        return int(row[0]), row[1]


async def _live_writes(db: Database, location_id: str, rate: float, seconds: float) -> None:
    """One ContactCreate event every 1 / rate seconds, each in its own transaction of the
    workers' database, as the API's writes beside its embedded workers: each commit wakes
    the loops it concerns."""
    async with db.reader() as session:
        (template,) = await events.read_events(
            session, location_id, after=0, limit=1, types=[CONTACT_CREATE]
        )
    start = time.monotonic()
    for number in range(round(rate * seconds)):
        await asyncio.sleep(max(0.0, start + number / rate - time.monotonic()))
        subject = new_id()
        payload = {**template.payload, "id": subject, "lastName": f"live-{number}"}
        async with db.unit_of_work() as uow:
            await events.append(uow, location_id, CONTACT_CREATE, payload, subject_id=subject)


@asynccontextmanager
async def _running(db: Database, settings: Settings, loops: str) -> AsyncIterator[None]:
    """Every loop `contactflow serve` runs, or the flows context's two alone."""
    if loops == "all":
        async with running_workers(db, settings, CONTEXT_WORKERS):
            yield
        return
    async with db.listening(), httpx.AsyncClient(follow_redirects=False) as http:
        worker = Worker(db, poll_seconds=settings.worker_poll_seconds)
        task = asyncio.create_task(worker.run(worker_loops(db, settings, worker.name, http)))
        try:
            yield
        finally:
            worker.stop()
            await task


def _counter(counts: dict[str, int], name: str) -> Callable[..., None]:
    def count(*_: object) -> None:
        counts[name] += 1

    return count


async def _workers(args: argparse.Namespace) -> dict[str, Any]:
    """Run the workers until `expect` runs of the flow have finished."""
    settings = _settings(args.database)
    crypto.configure(settings)
    db = Database(args.database)
    counts = {"begin": 0, "commit": 0}
    for name in counts:
        sql_event.listen(db.engine.sync_engine, name, _counter(counts, name))
    database = _database_name(args.database)
    backends = _backends_cpu(database) if database else {}
    try:
        cpu, started_at = _cpu_seconds(), utcnow()
        deadline = time.monotonic() + CHILD_TIMEOUT
        async with _running(db, settings, args.loops):
            writes = None
            if args.rate:
                writes = asyncio.create_task(
                    _live_writes(db, args.location, args.rate, args.seconds)
                )
            while True:
                done, last = await _finished(db, args.flow)
                if done >= args.expect or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            if writes is not None:
                await writes
            spent = _cpu_seconds() - cpu
        after = _backends_cpu(database) if database else {}
        postgres = sum(value - backends.get(pid, 0.0) for pid, value in after.items())
        seconds = ((last or utcnow()) - started_at).total_seconds()
        return {
            "runs": done,
            "seconds": seconds,
            "cpu": spent,
            "postgres": postgres if database else None,
            "transactions": counts["begin"],
            "commits": counts["commit"],
        }
    finally:
        await db.dispose()


# The run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    flow: str
    mode: str
    result: dict[str, Any]
    latencies: list[float]


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603 - this module, fixed arguments
        [sys.executable, "-m", "bench.flows", "--child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=CHILD_TIMEOUT + 60,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run_backend(backend: str, args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    with ExitStack() as stack:
        url = stack.enter_context(sqlite_database() if backend == "sqlite" else postgres_database())
        upgrade(url)
        fixture = asyncio.run(_seed(url))
        flow_id: str | None = None
        for name in FLOWS:
            flow_id = asyncio.run(_enable(url, fixture, name, flow_id))
            asyncio.run(preload(url, fixture.location_id, args.events, name.split()[0]))
            common = ["--database", url, "--flow", flow_id, "--location", fixture.location_id]
            common += ["--loops", args.loops]
            drained = _child([*common, "--expect", str(args.events), "--rate", "0"])
            rows.append(Row(name, f"drain {args.events}", drained, []))
            if args.rate:
                expect = args.events + round(args.rate * args.seconds)
                live = ["--rate", str(args.rate), "--seconds", str(args.seconds)]
                since = utcnow()
                result = _child([*common, "--expect", str(expect), *live])
                result["runs"] -= args.events
                latencies = asyncio.run(_latencies(url, flow_id, since))
                rows.append(Row(name, f"live {args.rate:g}/s", result, latencies))
            print(f"{backend}: {name} done", file=sys.stderr, flush=True)
    return rows


def report(backend: str, loops: str, rows: list[Row]) -> str:
    base = {row.mode: row for row in rows if row.flow == "filter only"}
    table: list[list[str]] = []
    for row in rows:
        result, runs = row.result, max(row.result["runs"], 1)
        rate = runs / max(result["seconds"], 1e-9)
        baseline = base[row.mode].result
        base_rate = baseline["runs"] / max(baseline["seconds"], 1e-9)
        p50, p99 = percentile_ms(row.latencies, 0.5), percentile_ms(row.latencies, 0.99)
        postgres = result["postgres"]
        table.append(
            [
                row.flow,
                row.mode,
                str(result["runs"]),
                f"{rate:,.0f}",
                f"{rate / base_rate:.2f}",
                "-" if p50 is None else f"{p50:.1f} / {p99:.1f}",
                f"{result['cpu'] * 1000 / runs:.2f}",
                "n/a" if postgres is None else f"{postgres * 1000 / runs:.2f}",
                f"{result['transactions'] / runs:.1f} / {result['commits'] / runs:.1f}",
            ]
        )
    headers = [
        "flow",
        "mode",
        "runs",
        "exec/s",
        "vs filter",
        "p50 / p99 ms",
        "CPU ms/exec",
        "postgres ms/exec",
        "tx / commits per exec",
    ]
    aims = f"aims: >= {AIM_RATE:,.0f} exec/s, p99 <= {AIM_P99_MS:.0f} ms"
    return f"{backend}, {loops} loops ({aims})\n" + _table(headers, table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--loops", choices=("all", "flows"), default="all")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--database")
    parser.add_argument("--flow")
    parser.add_argument("--location")
    parser.add_argument("--expect", type=int)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(_workers(args))))
        return 0
    backends = chosen_backends(args.backend)
    for backend in backends:
        print(report(backend, args.loops, run_backend(backend, args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
