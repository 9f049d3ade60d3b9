"""Sync: the backfill of N contacts, with 2 tasks and 2 notes each, into Mailsuite, the
reconciliation of the contact pairs it made, and the latency of a change reaching the other
side while the workers run.

    uv run python -m bench.sync [--backend sqlite|postgresql|both] [--contacts N]
                                [--contacts-only] [--rate R] [--seconds S] [--sync-apart]

For each backend, on a fresh database (a temporary SQLite file, or a new PostgreSQL database
dropped afterwards):

1. Seeding (not measured): a tenant and N Contacts API contacts written with Core bulk
   inserts, 2,000 a transaction (so their stored wire JSON is NULL, as for any contact
   written around the ORM; the product reads their columns). Each has a first and last name
   and an email; every third has the tags `vip` and `lead`, every fourth a phone. Every
   tenth has a Mailsuite contact already, its address in upper case (the backfill matches
   it); the others are created by the backfill. Unless `--contacts-only`, each contact has
   2 tasks (every fourth completed, a due date, a body) and 2 notes, written the same way.
   Then the contacts sync is created through the service with its default mapping,
   direction `both` (its backfill queued, no worker yet).
2. Backfill, in a child process: the workers run as `contactflow serve` runs them
   (platform/runtime.py with every context's loops) until the contacts backfill is
   finished; then the tasks sync is created through the service (default mapping, `both`)
   and the workers run until its backfill is finished; then the notes sync (`crmToMailsuite`)
   likewise. Each object is measured alone: records/s = its records / (its backfill's
   `finished_at` minus the moment its phase began); CPU is the child's user and system time
   (all threads: aiosqlite's too) over that phase per record; peak is the child's ru_maxrss
   at the phase's end, in MiB (so the highest of all phases so far). The total is the time
   from the workers' start to the last backfill's end; "100k s" extrapolates it linearly to
   100,000 contacts (and their records).
3. Reconciliation, in the same child right after: one is requested through the service (as
   `POST …/reconciliations` does) and the workers run it; seconds is the reconciliation's
   own `seconds` (the comparison and the writing of its findings), pairs/s = linked pairs /
   seconds. It should find nothing.
4. Incremental, in another child: the workers run and, in the same process (as the API runs
   beside its embedded workers), R contacts a second for S seconds are changed through the
   contacts service (a new first name, each in its own transaction; each contact changed
   once). Latency is the pair's `synced_at` (written in the sync's transaction that updated
   the Mailsuite contact) minus the contact's `date_updated` (written in the change's
   transaction), over every change; p50 and p99 in milliseconds. CPU ms/change is the
   child's user and system time over the phase (from the first change until the last is
   synced) per change: the change, its webhook fan-out, the flow triggers and the sync.
   With `--sync-apart` (PostgreSQL only: the scale path, whose processes wake each other
   through LISTEN/NOTIFY), the sync's loops run in a process of their own, as
   `contactflow worker --only sync` runs them, and the writing child runs every other
   group; each process's CPU per change is given (writer / sync worker).
"""

import argparse
import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.api import ROOT, _table, chosen_backends, postgres_database, sqlite_database
from bench.events import percentile_ms
from bench.mail import _cpu_seconds, _peak_mib, _settings
from bench.sync_seed import seed
from contactflow.background import CONTEXT_WORKERS
from contactflow.contacts import service as crm
from contactflow.contacts.models import Contact
from contactflow.contacts.schemas import ContactUpdate
from contactflow.platform import crypto
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.migrate import upgrade
from contactflow.platform.runtime import WEBHOOKS, running_workers
from contactflow.sync import reconciliations, service
from contactflow.sync.models import (
    FINISHED,
    Sync,
    SyncBackfill,
    SyncLink,
    SyncObject,
    SyncReconciliation,
)
from contactflow.sync.service import SyncSettings

TARGET = 100_000
REGION = "US"
POLL = 0.05
# The incremental phase waits at most this long for the last change to be synced.
SETTLE_SECONDS = 120
SYNC_GROUP = "sync"
# PostgreSQL's autovacuum_naptime: how often its analyze looks at tables that changed.
AUTOANALYZE_SECONDS = 60.0
# What belongs to a contact, backfilled after the contacts, one object after the other.
CHILDREN: tuple[SyncObject, ...] = ("tasks", "notes")


# Children ------------------------------------------------------------------------------


async def _until(check: Any, within: float) -> Any:
    """Poll `check()` until it returns something other than None, for at most `within` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await check()
        if found is not None:
            return found
        await asyncio.sleep(POLL)
    raise TimeoutError(f"nothing after {within:.0f} s")


async def _backfill(
    database_url: str, location: str, sync_id: str, children: bool
) -> dict[str, Any]:
    """Run the workers until the contacts backfill has finished, then (with `children`) the
    tasks sync's and the notes sync's, one after the other; then reconcile the contact
    pairs."""
    settings = _settings(database_url)
    crypto.configure(settings)
    db = Database(database_url)

    async def finished_job(job_id: str) -> SyncBackfill | None:
        async with db.reader() as session:
            job = await session.get(SyncBackfill, job_id)
            return job if job is not None and job.state == FINISHED else None

    async def phase(object_name: SyncObject, job_id: str | None) -> dict[str, Any]:
        """The backfill of `object_name`'s sync (made now when `job_id` is None), measured."""
        cpu, began = _cpu_seconds(), utcnow()
        if job_id is None:
            async with db.unit_of_work() as uow:
                made = await service.create_sync(uow, location, SyncSettings(object=object_name))
                job_id = made.id
        job = await _until(lambda: finished_job(job_id), 3600)
        used, peak = _cpu_seconds() - cpu, _peak_mib()
        async with db.reader() as session:
            linked = await session.scalar(select(func.count()).where(SyncLink.sync_id == job_id))
        return {
            "records": job.done,
            "matched": job.matched,
            "created": job.created,
            "skipped": job.skipped,
            "seconds": (job.finished_at - began).total_seconds(),
            "cpu": used,
            "peak": peak,
            "linked": linked,
            "finished": job.finished_at.timestamp(),
        }

    try:
        began = utcnow()
        async with running_workers(db, settings, CONTEXT_WORKERS):
            objects = {"contacts": await phase("contacts", sync_id)}
            for child in CHILDREN if children else ():
                objects[child] = await phase(child, None)
            reconciled = await _reconciled(db, location, sync_id)
        last = max(measured["finished"] for measured in objects.values())
        return {
            "objects": objects,
            "total": last - began.timestamp(),
            "batch": settings.sync_batch_size,
            **reconciled,
        }
    finally:
        await db.dispose()


async def _reconciled(db: Database, location: str, sync_id: str) -> dict[str, Any]:
    """A reconciliation of the sync requested and run by the workers (running): its own
    seconds, this process's CPU seconds meanwhile, and what it found."""

    async def finished(reconciliation_id: str) -> SyncReconciliation | None:
        async with db.reader() as session:
            found = await session.get(SyncReconciliation, reconciliation_id)
            return found if found is not None and found.state == FINISHED else None

    cpu = _cpu_seconds()
    async with db.unit_of_work() as uow:
        reconciliation_id = (await reconciliations.request(uow, location, sync_id)).id
    done = await _until(lambda: finished(reconciliation_id), 3600)
    return {
        "reconcile_seconds": done.seconds,
        "reconcile_cpu": _cpu_seconds() - cpu,
        "in_sync": done.in_sync,
        "found": sum(done.found.values()),
    }


async def _reconcile_kept(database_url: str) -> dict[str, Any]:
    """The contacts sync of a database that `--keep` kept, reconciled again by the workers
    (nothing else run): the reconciliation's figures and its linked pairs."""
    settings = _settings(database_url)
    crypto.configure(settings)
    db = Database(database_url)
    try:
        async with db.reader() as session:
            sync = (await session.scalars(select(Sync).where(Sync.object == "contacts"))).one()
            linked = await session.scalar(select(func.count()).where(SyncLink.sync_id == sync.id))
        async with running_workers(db, settings, CONTEXT_WORKERS):
            reconciled = await _reconciled(db, sync.location_id, sync.id)
        return {"linked": linked, **reconciled}
    finally:
        await db.dispose()


async def _sync_worker(database_url: str) -> None:
    """The sync's loops alone until standard input closes; then this process's CPU seconds
    since they started."""
    settings = _settings(database_url).model_copy(update={"worker_groups": [SYNC_GROUP]})
    crypto.configure(settings)
    db = Database(database_url)
    loop = asyncio.get_running_loop()
    try:
        async with running_workers(db, settings, CONTEXT_WORKERS):
            cpu = _cpu_seconds()
            print("ready", flush=True)
            await loop.run_in_executor(None, sys.stdin.read)
            print(json.dumps({"cpu": _cpu_seconds() - cpu}), flush=True)
    finally:
        await db.dispose()


async def _apart(database_url: str) -> asyncio.subprocess.Process:
    """A process that runs the sync's loops alone, once they run."""
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.sync",
        "--child",
        "sync-worker",
        "--database",
        database_url,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert worker.stdout is not None
    if (await worker.stdout.readline()).strip() != b"ready":
        raise RuntimeError("the sync worker did not start")
    return worker


async def _incremental(
    database_url: str, location: str, sync_id: str, rate: float, seconds: float, apart: bool
) -> dict[str, Any]:
    """Change `rate` contacts a second for `seconds` while the workers run (the sync's in a
    process of its own when `apart`); the latencies and the CPU per change."""
    settings = _settings(database_url)
    if apart:
        others = [group for group in (WEBHOOKS, *CONTEXT_WORKERS) if group != SYNC_GROUP]
        settings = settings.model_copy(update={"worker_groups": others})
    crypto.configure(settings)
    db = Database(database_url)
    worker = await _apart(database_url) if apart else None
    try:
        async with db.reader() as session:
            ids = list(
                await session.scalars(
                    select(Contact.id)
                    .where(Contact.location_id == location)
                    .order_by(Contact.id)
                    .limit(int(rate * seconds))
                )
            )
        async with running_workers(db, settings, CONTEXT_WORKERS):
            started, cpu = time.monotonic(), _cpu_seconds()
            for number, contact_id in enumerate(ids):
                await asyncio.sleep(max(0.0, started + number / rate - time.monotonic()))
                async with db.unit_of_work() as uow:
                    fields = ContactUpdate(first_name=f"Changed{number}")
                    await crm.update_contact(uow, location, contact_id, fields, REGION)
            elapsed = time.monotonic() - started

            async def latencies() -> list[float] | None:
                async with db.reader() as session:
                    rows = list(
                        await session.execute(
                            select(SyncLink.synced_at, Contact.date_updated)
                            .join(Contact, Contact.id == SyncLink.crm_id)
                            .where(SyncLink.sync_id == sync_id, Contact.id.in_(ids))
                        )
                    )
                if any(synced < changed for synced, changed in rows):
                    return None
                return sorted((synced - changed).total_seconds() for synced, changed in rows)

            measured = await _until(latencies, SETTLE_SECONDS)
            cpu = _cpu_seconds() - cpu
        worker_cpu = None
        if worker is not None:
            output, _ = await worker.communicate(b"")
            worker_cpu = json.loads(output.decode().strip().splitlines()[-1])["cpu"]
        return {
            "changes": len(ids),
            "behind": max(0.0, elapsed - len(ids) / rate),
            "reached": len(ids) / elapsed,
            "p50": percentile_ms(measured, 0.5),
            "p99": percentile_ms(measured, 0.99),
            "max": measured[-1] * 1000,
            "cpu": cpu * 1000 / len(ids),
            "worker_cpu": None if worker_cpu is None else worker_cpu * 1000 / len(ids),
        }
    finally:
        if worker is not None and worker.returncode is None:
            worker.kill()
            await worker.wait()
        await db.dispose()


# The run -------------------------------------------------------------------------------


def _child(*args: str) -> dict[str, Any]:
    process = subprocess.run(  # noqa: S603 - this module, fixed arguments
        [sys.executable, "-m", "bench.sync", "--child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        timeout=7200,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(f"child failed ({process.returncode}): {process.stdout[-2000:]}")
    result: dict[str, Any] = json.loads(process.stdout.strip().splitlines()[-1])
    return result


def run_backend(
    backend: str,
    contacts: int,
    children: bool,
    rate: float,
    seconds: float,
    apart: bool,
    keep: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    with ExitStack() as stack:
        database = sqlite_database if backend == "sqlite" else postgres_database
        url = stack.enter_context(database(keep))
        if keep:
            print(f"{backend}: the database is kept: --reconcile {url}", flush=True)
        upgrade(url)
        location, sync_id = asyncio.run(seed(url, contacts, children))
        where = ["--database", url, "--location", location, "--sync", sync_id]
        if backend == "postgresql":
            stack.enter_context(autoanalyze(url))
        backfill = _child("backfill", *where, *([] if children else ["--contacts-only"]))
        pace = ["--rate", str(rate), "--seconds", str(seconds)]
        live = _child("incremental", *where, *pace, *(["--sync-apart"] if apart else []))
    return backfill, live


@contextmanager
def autoanalyze(url: str) -> Iterator[None]:
    """ANALYZE the PostgreSQL database every AUTOANALYZE_SECONDS while the block runs, as
    autovacuum does on a server that runs it (the default; this machine's has it off). The
    seeded tables and those the backfill fills would otherwise keep no statistics, and their
    queries be planned as for empty tables: a batch's links read through the index of the
    other side, every link of the sync for each batch."""
    stop = threading.Event()
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def analyze() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute("ANALYZE")
        finally:
            await connection.close()

    def run() -> None:
        while not stop.wait(AUTOANALYZE_SECONDS):
            asyncio.run(analyze())

    thread = threading.Thread(target=run, name="autoanalyze", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def report(
    backend: str, contacts: int, backfill: dict[str, Any], live: dict[str, Any], rate: float
) -> str:
    objects: dict[str, dict[str, Any]] = backfill["objects"]
    rows = [
        [
            backend,
            name,
            f"{measured['records']:,}",
            f"{measured['matched']:,}/{measured['created']:,}/{measured['skipped']:,}",
            f"{measured['seconds']:.1f}",
            f"{measured['records'] / measured['seconds']:,.0f}",
            f"{measured['cpu'] * 1000 / max(measured['records'], 1):.2f}",
            f"{measured['peak']:.0f}",
        ]
        for name, measured in objects.items()
    ]
    total = backfill["total"]
    peak = max(measured["peak"] for measured in objects.values())
    rows.append([backend, "total", "", "", f"{total:.1f}", "", "", f"{peak:.0f}"])
    table = _table(
        [
            "backend",
            "object",
            "records",
            "matched/created/skipped",
            "seconds",
            "records/s",
            "CPU ms/record",
            "peak MiB",
        ],
        rows,
    )
    reconcile = backfill["reconcile_seconds"]
    linked = objects["contacts"]["linked"]
    cpu = f"{live['cpu']:.1f}"
    if live["worker_cpu"] is not None:
        cpu += f" (writer) / {live['worker_cpu']:.1f} (sync worker)"
    return (
        f"{backend}: backfill of {contacts:,} contacts in {total:.1f} s "
        f"(at that rate 100k in {total * TARGET / contacts:,.0f} s; batch {backfill['batch']})\n"
        f"{table}\n"
        f"the contacts' reconciliation found {backfill['in_sync']} pairs in step and "
        f"{backfill['found']} findings in {reconcile:.2f} s ({linked / reconcile:,.0f} pairs/s, "
        f"{backfill['reconcile_cpu']:.1f} s of CPU); "
        f"{live['changes']} changes at {rate:g}/s ended {live['behind']:.1f} s behind their "
        f"schedule ({live['reached']:.0f}/s), synced in p50 {live['p50']:.0f} ms, "
        f"p99 {live['p99']:.0f} ms, the slowest {live['max']:.0f} ms, {cpu} ms of CPU a change"
    )


def _complete(backfill: dict[str, Any], contacts: int) -> bool:
    """Every record linked once, and the reconciliation found nothing."""
    wanted = {name: contacts * (1 if name == "contacts" else 2) for name in backfill["objects"]}
    linked = {name: measured["linked"] for name, measured in backfill["objects"].items()}
    if backfill["found"] or linked != wanted:
        print(f"expected {wanted} pairs and no findings, found {linked}")
        return False
    return True


def _load() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument(
        "--contacts-only", action="store_true", help="no tasks nor notes: contacts alone"
    )
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--sync-apart", action="store_true", help="the sync's loops in a process of their own"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep each database and print its URL afterwards"
    )
    parser.add_argument(
        "--reconcile",
        metavar="URL",
        help="only reconcile the contacts sync again, on a database --keep kept",
    )
    parser.add_argument("--child", choices=("backfill", "incremental", "sync-worker"))
    parser.add_argument("--database")
    parser.add_argument("--location")
    parser.add_argument("--sync")
    args = parser.parse_args(argv)
    if args.child == "backfill":
        children = not args.contacts_only
        result = asyncio.run(_backfill(args.database, args.location, args.sync, children))
        print(json.dumps(result))
        return 0
    if args.child == "sync-worker":
        asyncio.run(_sync_worker(args.database))
        return 0
    if args.child == "incremental":
        result = asyncio.run(
            _incremental(
                args.database, args.location, args.sync, args.rate, args.seconds, args.sync_apart
            )
        )
        print(json.dumps(result))
        return 0
    if args.reconcile is not None:
        print(f"load average at start: {_load()}", flush=True)
        kept = asyncio.run(_reconcile_kept(args.reconcile))
        print(
            f"the contacts' reconciliation found {kept['in_sync']} of {kept['linked']} pairs in "
            f"step and {kept['found']} findings in {kept['reconcile_seconds']:.2f} s "
            f"({kept['linked'] / kept['reconcile_seconds']:,.0f} pairs/s), "
            f"{kept['reconcile_cpu']:.2f} s of CPU"
        )
        return 0
    if args.rate * args.seconds > args.contacts:
        parser.error("--rate x --seconds changes need as many --contacts (each changed once)")
    if args.sync_apart and args.backend != "postgresql":
        parser.error("--sync-apart needs --backend postgresql (processes woken by NOTIFY)")
    print(f"load average at start: {_load()}", flush=True)
    for backend in chosen_backends(args.backend):
        children = not args.contacts_only
        backfill, live = run_backend(
            backend, args.contacts, children, args.rate, args.seconds, args.sync_apart, args.keep
        )
        print(report(backend, args.contacts, backfill, live, args.rate), flush=True)
        if not _complete(backfill, args.contacts):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
