"""Reconciliations of a sync: asked for (a person, or the sync's schedule), run by the
workers (the comparison reads without the write lock, then its findings are stored in one
transaction), read back with their findings, and repaired: one finding at once, or all open
ones as a job that goes batch by batch with its progress.

A repair does what the sync would have done had it seen the change: a missing record is
linked to its match or made on the other side, a pair out of step is brought in step by the
sync's own plan (its direction and conflict policies), an orphan link is settled. It runs as
the sync (its origin, its lock), so its writes are not synced back as changes.

Of a sync of a remote account (ADR 0044), the remote's records are listed first, through
its connection and outside any transaction (its contacts; or its tasks, notes or
appointments contact by contact, ADR 0045), and compared as this workspace's are; a remote
that fails meanwhile fails the reconciliation (the sync says why). Its repairs go as a
person's decisions do (sync/decisions.py): in rounds under the sync's lease, the remote
written between them."""

import time
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, case, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows.connections.oauth_client import AuthorizationFailed
from contactflow.flows.connections.remote_client import RemoteFailed
from contactflow.platform import topics
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database, UnitOfWork
from contactflow.platform.errors import Conflict, NotFound, ServiceUnavailable
from contactflow.platform.ids import new_id
from contactflow.settings import Settings
from contactflow.sync import decisions, drift, remote_runs
from contactflow.sync import events as sync_events
from contactflow.sync.models import (
    ACTIVE,
    FAILED,
    FINISHED,
    OPEN,
    QUEUED,
    REPAIRED,
    RUNNING,
    Sync,
    SyncBackfill,
    SyncFinding,
    SyncReconciliation,
)
from contactflow.sync.pairs import Outcome, PairSync, guarded
from contactflow.sync.remote_runs import RemoteSyncSettings
from contactflow.sync.service import find_sync, reconciliation_lock, schedule
from contactflow.sync.sides import RemoteNeeded

RECONCILIATION_NOT_FOUND = "Reconciliation not found"
FINDING_NOT_FOUND = "Finding not found"
# A run whose worker stopped mid-way is taken up again after this long.
STALE: Final = timedelta(minutes=10)
DONE: Final[dict[str, str]] = {
    "matched": "linked to its match on the other side",
    "created": "made on the other side and linked",
    "synced": "brought in step",
    "unchanged": "already in step",
}


async def _unfinished(session: AsyncSession, sync: Sync) -> str | None:
    """Why the sync cannot be reconciled now, or None."""
    job = await session.get(SyncBackfill, sync.id)
    if job is not None and job.state != FINISHED:
        return "sync: its backfill is still running; reconcile it once the backfill finished"
    waiting = await session.scalar(
        select(SyncReconciliation.id).where(
            SyncReconciliation.sync_id == sync.id,
            SyncReconciliation.state.in_((QUEUED, RUNNING)),
        )
    )
    return None if waiting is None else f"sync: reconciliation {waiting} is not finished yet"


def _queue(uow: UnitOfWork, sync: Sync, scheduled: bool) -> SyncReconciliation:
    reconciliation = SyncReconciliation(
        sync_id=sync.id,
        scheduled=scheduled,
        state=QUEUED,
        found={},
        in_sync=0,
        pending=0,
        repair_total=0,
        repair_done=0,
        repair_failed=0,
        created_at=utcnow(),
    )
    uow.session.add(reconciliation)
    uow.wake(topics.SYNC_RECONCILIATIONS)
    return reconciliation


async def request(uow: UnitOfWork, location_id: str, sync_id: str) -> SyncReconciliation:
    """A reconciliation of the sync, queued for the workers. 409 while its backfill runs or
    another reconciliation of it is not finished."""
    sync = await find_sync(uow.session, location_id, sync_id)
    await uow.lock(reconciliation_lock(sync.id))
    reason = await _unfinished(uow.session, sync)
    if reason is not None:
        raise Conflict(reason)
    reconciliation = _queue(uow, sync, scheduled=False)
    await uow.session.flush()
    return reconciliation


def _runs_at() -> ColumnElement[datetime]:
    """When a sync's scheduled reconciliation may run: when it falls due, or, of a remote
    sync backing off after its remote failed, once that wait is over (its remote is not
    called meanwhile; one asked for by a person runs at once)."""
    return case((Sync.retry_at > Sync.reconcile_due_at, Sync.retry_at), else_=Sync.reconcile_due_at)


async def _schedule_due(db: Database) -> bool:
    due = (Sync.status == ACTIVE) & (_runs_at() <= utcnow())
    if await db.read(lambda c: c.scalar(select(Sync.id).where(due).limit(1))) is None:
        return False
    async with db.unit_of_work() as uow:
        syncs = await uow.session.scalars(select(Sync).where(due).with_for_update(skip_locked=True))
        for sync in syncs:
            schedule(sync, sync.reconcile_minutes)
            await uow.lock(reconciliation_lock(sync.id))
            if await _unfinished(uow.session, sync) is None:
                _queue(uow, sync, scheduled=True)
    return True


async def next_due(db: Database) -> datetime | None:
    """When the first scheduled reconciliation of an active sync may run."""
    first = select(func.min(_runs_at())).where(Sync.status == ACTIVE)
    return await db.read(lambda connection: connection.scalar(first))


async def _any(db: Database, condition: ColumnElement[bool]) -> bool:
    """Whether a reconciliation meets `condition`: read without the write lock first, as
    almost always none does."""
    found = select(SyncReconciliation.id).where(condition).limit(1)
    return await db.read(lambda connection: connection.scalar(found)) is not None


def _oldest(condition: ColumnElement[bool]) -> Select[SyncReconciliation]:
    """The oldest reconciliation meeting `condition`."""
    return (
        select(SyncReconciliation).where(condition).order_by(SyncReconciliation.created_at).limit(1)
    )


async def _first_unlocked(
    uow: UnitOfWork, condition: ColumnElement[bool]
) -> SyncReconciliation | None:
    """The oldest reconciliation meeting `condition` that no other worker holds, locked."""
    return await uow.session.scalar(_oldest(condition).with_for_update(skip_locked=True))


async def _claim(db: Database) -> tuple[str, str] | None:
    stale = utcnow() - STALE
    ready = or_(
        SyncReconciliation.state == QUEUED,
        (SyncReconciliation.state == RUNNING) & (SyncReconciliation.started_at < stale),
    )
    if not await _any(db, ready):
        return None
    async with db.unit_of_work() as uow:
        reconciliation = await _first_unlocked(uow, ready)
        if reconciliation is None:
            return None
        reconciliation.state, reconciliation.started_at = RUNNING, utcnow()
        return reconciliation.id, reconciliation.sync_id


async def _ended(db: Database, reconciliation_id: str, began: float) -> None:
    """The reconciliation failed: its remote failed while it was listed."""
    async with db.unit_of_work() as uow:
        reconciliation = await uow.session.get(
            SyncReconciliation, reconciliation_id, with_for_update=True
        )
        if reconciliation is not None and reconciliation.state == RUNNING:
            reconciliation.state, reconciliation.finished_at = FAILED, utcnow()
            reconciliation.seconds = round(time.monotonic() - began, 3)


async def _run_next(db: Database, remote: RemoteSyncSettings) -> bool:
    claimed = await _claim(db)
    if claimed is None:
        return False
    reconciliation_id, sync_id = claimed
    began = time.monotonic()
    async with db.reader() as session:
        sync = await session.get(Sync, sync_id)
    if sync is None:
        return True  # deleted with its reconciliations meanwhile
    listed = None
    if sync.connection_id is not None:
        try:
            listed = await remote_runs.listed(db, remote, sync)
        except (RemoteFailed, AuthorizationFailed):
            await _ended(db, reconciliation_id, began)
            return True
    async with db.reader() as session:
        found = await drift.survey(session, sync, listed=listed)
    async with db.unit_of_work() as uow:
        reconciliation = await uow.session.get(
            SyncReconciliation, reconciliation_id, with_for_update=True
        )
        if reconciliation is None or reconciliation.state != RUNNING:
            return True
        if found.found:
            rows = [
                {
                    "id": new_id(),
                    "reconciliation_id": reconciliation_id,
                    "kind": item.kind,
                    "crm_id": item.crm_id,
                    "mailsuite_id": item.mailsuite_id,
                    "fields": list(item.fields),
                    "detail": item.detail,
                    "state": OPEN,
                }
                for item in found.found
            ]
            await uow.session.execute(insert(SyncFinding), rows)
        reconciliation.in_sync, reconciliation.pending = found.in_sync, found.pending
        reconciliation.found = found.counts()
        reconciliation.state, reconciliation.finished_at = FINISHED, utcnow()
        reconciliation.seconds = round(time.monotonic() - began, 3)
        owner = await uow.session.get(Sync, sync_id)
        if owner is not None:
            await sync_events.reconciled(uow, owner, reconciliation)
    return True


def of_sync(sync_id: str) -> Select[Any]:
    return select(SyncReconciliation).where(SyncReconciliation.sync_id == sync_id)


async def find_reconciliation(
    session: AsyncSession, location_id: str, sync_id: str, reconciliation_id: str
) -> SyncReconciliation:
    await find_sync(session, location_id, sync_id)
    reconciliation = await session.get(SyncReconciliation, reconciliation_id)
    if reconciliation is None or reconciliation.sync_id != sync_id:
        raise NotFound(RECONCILIATION_NOT_FOUND)
    return reconciliation


async def find_finding(
    session: AsyncSession, reconciliation: SyncReconciliation, finding_id: str
) -> SyncFinding:
    finding = await session.get(SyncFinding, finding_id)
    if finding is None or finding.reconciliation_id != reconciliation.id:
        raise NotFound(FINDING_NOT_FOUND)
    return finding


async def list_findings(
    session: AsyncSession,
    reconciliation: SyncReconciliation,
    *,
    after: str | None,
    limit: int,
    kind: str | None = None,
    state: str | None = None,
) -> tuple[list[SyncFinding], str | None]:
    """A page of the findings in id order, and the cursor of the next (None on the last)."""
    query = select(SyncFinding).where(SyncFinding.reconciliation_id == reconciliation.id)
    if kind is not None:
        query = query.where(SyncFinding.kind == kind)
    if state is not None:
        query = query.where(SyncFinding.state == state)
    if after is not None:
        query = query.where(SyncFinding.id > after)
    rows = list(await session.scalars(query.order_by(SyncFinding.id).limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


async def _fix(pairs: PairSync, finding: SyncFinding) -> Outcome:
    if finding.kind == "missingInMailsuite" and finding.crm_id is not None:
        return await pairs.changed("crm", finding.crm_id, "repair")
    if finding.kind == "missingInCrm" and finding.mailsuite_id is not None:
        return await pairs.changed("mailsuite", finding.mailsuite_id, "repair")
    assert finding.crm_id is not None
    assert finding.mailsuite_id is not None
    if finding.kind == "orphan":
        return await pairs.settle_orphan(finding.crm_id, finding.mailsuite_id)
    return await pairs.resync(finding.crm_id)


async def _repair(uow: UnitOfWork, pairs: PairSync, finding: SyncFinding) -> None:
    outcome = await guarded(uow, _fix(pairs, finding))
    if outcome.kind == "deferred":
        raise RemoteNeeded  # taken again once the remote answered (sync/staged.py)
    failed = outcome.kind in ("skipped", "failed")
    finding.state = FAILED if failed else REPAIRED
    finding.outcome = outcome.reason or DONE.get(outcome.kind, outcome.kind)
    finding.repaired_at = utcnow()


async def repair_one(
    db: Database,
    settings: Settings,
    location_id: str,
    sync_id: str,
    reconciliation_id: str,
    finding_id: str,
) -> SyncFinding:
    """Repair one finding now (a repaired one is left as it is)."""
    async with db.reader() as session:
        reconciliation = await find_reconciliation(session, location_id, sync_id, reconciliation_id)
        await find_finding(session, reconciliation, finding_id)

    async def repair(pairs: PairSync) -> SyncFinding:
        finding = await find_finding(pairs.uow.session, reconciliation, finding_id)
        if finding.state != REPAIRED:
            await _repair(pairs.uow, pairs, finding)
            await sync_events.repaired(pairs.uow, pairs.sync, reconciliation, finding)
        return finding

    return await decisions.as_person(db, settings, location_id, sync_id, repair)


async def start_repair(
    uow: UnitOfWork, location_id: str, sync_id: str, reconciliation_id: str
) -> SyncReconciliation:
    """Repair every open finding of the reconciliation, as a job the workers run. 409 while
    it runs or repairs already."""
    reconciliation = await find_reconciliation(uow.session, location_id, sync_id, reconciliation_id)
    if reconciliation.state != FINISHED:
        raise Conflict("reconciliation: it has not finished yet; repair it once it has")
    if reconciliation.repair_state == RUNNING:
        raise Conflict("reconciliation: its findings are being repaired already")
    open_count = await uow.session.scalar(
        select(func.count())
        .select_from(SyncFinding)
        .where(SyncFinding.reconciliation_id == reconciliation.id, SyncFinding.state == OPEN)
    )
    reconciliation.repair_total = int(open_count or 0)
    reconciliation.repair_done = reconciliation.repair_failed = 0
    reconciliation.repair_state = RUNNING if open_count else FINISHED
    uow.wake(topics.SYNC_RECONCILIATIONS)
    return reconciliation


async def _repair_batch(pairs: PairSync, reconciliation_id: str, batch: int) -> None:
    """The next `batch` open findings of the reconciliation repaired, its progress counted."""
    uow = pairs.uow
    reconciliation = await uow.session.get(
        SyncReconciliation, reconciliation_id, with_for_update=True
    )
    if reconciliation is None or reconciliation.repair_state != RUNNING:
        return  # repaired by another worker meanwhile
    findings = list(
        await uow.session.scalars(
            select(SyncFinding)
            .where(SyncFinding.reconciliation_id == reconciliation.id, SyncFinding.state == OPEN)
            .order_by(SyncFinding.id)
            .limit(batch)
        )
    )
    waiting = False
    for finding in findings:
        try:
            await _repair(uow, pairs, finding)
        except RemoteNeeded:
            waiting = True  # the others go on, so that one round asks for all their calls
            continue
        reconciliation.repair_done += 1
        reconciliation.repair_failed += finding.state == FAILED
    if waiting:
        raise RemoteNeeded
    if len(findings) < batch:
        reconciliation.repair_state = FINISHED
        await sync_events.repaired(uow, pairs.sync, reconciliation)


async def _repair_next(db: Database, remote: RemoteSyncSettings, batch: int) -> bool:
    repairing = SyncReconciliation.repair_state == RUNNING
    if not await _any(db, repairing):
        return False
    async with db.reader() as session:
        reconciliation = await session.scalar(_oldest(repairing))
        if reconciliation is None:
            return False
        sync = await session.get(Sync, reconciliation.sync_id)
        assert sync is not None

    async def repair(pairs: PairSync) -> None:
        await _repair_batch(pairs, reconciliation.id, batch)

    try:
        await decisions.on_pairs(db, remote, sync, repair)
    except ServiceUnavailable:
        # The remote failed (the sync says why) or stayed busy: the repair stops, what it
        # did not reach is left open, to be repaired again.
        async with db.unit_of_work() as uow:
            stopped = await uow.session.get(
                SyncReconciliation, reconciliation.id, with_for_update=True
            )
            if stopped is not None and stopped.repair_state == RUNNING:
                stopped.repair_state = FAILED
    return True


async def advance(db: Database, remote: RemoteSyncSettings, batch: int) -> bool:
    """Queue the scheduled reconciliations that are due, run one reconciliation, repair one
    batch of findings; True when any of them did work."""
    scheduled = await _schedule_due(db)
    ran = await _run_next(db, remote)
    return await _repair_next(db, remote, batch) or ran or scheduled
