"""Sync: the backfill alone, in this process, with no workers: the CPU per record of
`backfill.advance` called in a loop, for N contacts, then their 2N tasks, then their 2N notes.

    uv run python -m bench.sync_backfill [--backend sqlite|postgresql|both] [--contacts N]

The database is seeded as bench/sync.py seeds it (bench/sync_seed.py). Each object's sync
is created through the service and its backfill advanced a batch (CONTACTFLOW_SYNC_BATCH_SIZE,
100 by default) a transaction until it has finished. CPU is this process's user and system
time (all threads: aiosqlite's too) over the object's loop, per record; peak is ru_maxrss
at its end. No consumer reads the events written, so this is the backfill's own cost, the
figure to compare before and after a change of its path (`py-spy record -- python -m
bench.sync_backfill` profiles it)."""

import argparse
import asyncio
import sys
import time
from contextlib import ExitStack
from typing import Any

from sqlalchemy import func, select

from bench.api import _table, chosen_backends, postgres_database, sqlite_database
from bench.mail import _cpu_seconds, _peak_mib, _settings
from bench.sync import CHILDREN, REGION
from bench.sync_seed import seed
from contactflow.platform.db import Database
from contactflow.platform.migrate import upgrade
from contactflow.sync import backfill, service
from contactflow.sync.models import SyncBackfill, SyncLink, SyncObject
from contactflow.sync.service import SyncSettings


async def _objects(database_url: str, contacts: int) -> list[list[str]]:
    location, sync_id = await seed(database_url, contacts, children=True)
    batch = _settings(database_url).sync_batch_size
    db = Database(database_url)
    rows: list[list[str]] = []
    try:
        for object_name in ("contacts", *CHILDREN):
            rows.append(await _measured(db, location, sync_id, object_name, batch))
            sync_id = ""
    finally:
        await db.dispose()
    return rows


async def _measured(
    db: Database, location: str, sync_id: str, object_name: SyncObject, batch: int
) -> list[str]:
    """The backfill of `object_name`'s sync (made now unless `sync_id`), to its end."""
    if not sync_id:
        async with db.unit_of_work() as uow:
            sync_id = (
                await service.create_sync(uow, location, SyncSettings(object=object_name))
            ).id
    cpu, began = _cpu_seconds(), time.monotonic()
    while await backfill.advance(db, batch, REGION):
        pass
    seconds, used = time.monotonic() - began, _cpu_seconds() - cpu
    async with db.reader() as session:
        job: Any = await session.get(SyncBackfill, sync_id)
        linked = await session.scalar(select(func.count()).where(SyncLink.sync_id == sync_id))
    return [
        object_name,
        f"{job.done:,}",
        f"{job.matched:,}/{job.created:,}/{job.skipped:,}",
        f"{linked:,}",
        f"{seconds:.1f}",
        f"{used * 1000 / max(job.done, 1):.3f}",
        f"{_peak_mib():.0f}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--contacts", type=int, default=5_000)
    args = parser.parse_args(argv)
    with open("/proc/loadavg") as loadavg:
        print(f"load average at start: {' '.join(loadavg.read().split()[:3])}", flush=True)
    headers = ["object", "records", "matched/created/skipped", "linked", "seconds"]
    headers += ["CPU ms/record", "peak MiB"]
    for backend in chosen_backends(args.backend):
        with ExitStack() as stack:
            url = stack.enter_context(
                sqlite_database() if backend == "sqlite" else postgres_database()
            )
            upgrade(url)
            rows = asyncio.run(_objects(url, args.contacts))
        print(f"{backend}, {args.contacts:,} contacts\n{_table(headers, rows)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
