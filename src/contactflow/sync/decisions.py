"""A person's decision on a pair of a sync (a conflict resolved, a held delete approved), or
a repair of a reconciliation's findings, made through the sync's own pairs whatever its CRM
side: this workspace's records in one transaction acting as the sync; a remote account's as
the sync's batches reach it, under its lease, in rounds with no remote call inside a
transaction (sync/remote_runs.py, ADR 0043)."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from contactflow.platform.db import Database, UnitOfWork
from contactflow.platform.runtime import outbound_client
from contactflow.settings import Settings
from contactflow.sync import remote_runs
from contactflow.sync.models import Sync, sync_origin
from contactflow.sync.pairs import PairSync, pairs_for
from contactflow.sync.service import find_sync

Made = TypeVar("Made")


async def as_sync(uow: UnitOfWork, sync: Sync, region: str) -> PairSync:
    """The pairs of `sync` (of this workspace), in `uow` acting as the sync (its origin, its
    lock)."""
    uow.origin = sync_origin(sync.id)
    await uow.lock(f"sync:{sync.id}")
    return pairs_for(uow, sync, region)


async def on_pairs(
    db: Database,
    remote: remote_runs.RemoteSyncSettings,
    sync: Sync,
    work: Callable[[PairSync], Awaitable[Made]],
) -> Made:
    """`work` done on the pairs of `sync` as the sync (a repair of a reconciliation's
    findings too): one transaction, or the rounds of a remote sync under its lease."""
    if sync.connection_id is None:
        async with db.unit_of_work() as uow:
            return await work(await as_sync(uow, sync, remote.region))
    return await remote_runs.decide(db, remote, sync, work)


async def as_person(
    db: Database,
    settings: Settings,
    location_id: str,
    sync_id: str,
    work: Callable[[PairSync], Awaitable[Made]],
) -> Made:
    """`work` done on the sync's pairs, its writes the sync's own (no echo follows)."""
    async with db.reader() as session:
        sync = await find_sync(session, location_id, sync_id)
    async with outbound_client() as http:
        return await on_pairs(db, remote_runs.RemoteSyncSettings.of(settings, http), sync, work)
