"""A sync's backfill: every Contacts API record there was when the sync began, walked in
keyset order (date added, id) and linked to its Mailsuite record, matched by email then phone
before one is created.

Each batch is one transaction that locks the job's row, handles its records and moves the
position past them: a crash or a restart resumes after the last committed batch, and a record
already linked (by an earlier batch, or by the incremental sync) is only reconciled, never
linked twice. A record that cannot be synced is skipped with its reason, its batch going on."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from contactflow.platform import topics, tracing
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database, UnitOfWork
from contactflow.sync.bulk import link_crm_records
from contactflow.sync.models import (
    ACTIVE,
    FINISHED,
    RECORDS,
    RUNNING,
    Sync,
    SyncBackfill,
    batch_attributes,
    sync_origin,
)
from contactflow.sync.objects import kind_of
from contactflow.sync.pairs import Outcome, pairs_for
from contactflow.sync.sides import Record


async def start(uow: UnitOfWork, sync: Sync) -> SyncBackfill:
    """The sync's backfill, running from the first record: a new one, or (a resync) its job
    started again, its counts zeroed; the identity map is kept, so its pairs are compared
    again and nothing is linked twice. A remote account's contacts are counted by its first
    batch, outside this transaction."""
    now = utcnow()
    local = sync.connection_id is None
    # Counting reads no phone number: no region is needed.
    crm = kind_of(sync.object).crm_side(uow, sync.location_id, "")
    job = await uow.session.get(SyncBackfill, sync.id) or SyncBackfill(sync_id=sync.id)
    job.state, job.finished_at = RUNNING, None
    job.total = await crm.count(now) if local else 0
    job.done = job.matched = job.created = job.skipped = job.excluded = 0
    job.last_skip = job.after_added_at = job.after_id = None
    job.started_at = job.updated_at = now
    uow.session.add(job)
    uow.wake(topics.SYNC_BACKFILLS)
    return job


@dataclass(frozen=True)
class Progress:
    """How far a backfill is: records walked of its total, their rate and the time left."""

    done: int
    total: int
    per_second: float | None
    seconds_left: float | None

    @classmethod
    def of(cls, job: SyncBackfill, now: datetime | None = None) -> "Progress":
        end = job.finished_at or (now or utcnow())
        elapsed = (end - job.started_at).total_seconds()
        rate = job.done / elapsed if job.done and elapsed > 0 else None
        remaining = max(job.total - job.done, 0)
        if job.state == FINISHED:
            left: float | None = 0.0
        else:
            left = remaining / rate if rate else None
        return cls(job.done, job.total, rate, left)


def _tally(job: SyncBackfill, outcome: Outcome) -> None:
    if outcome.kind == "matched":
        job.matched += 1
    elif outcome.kind == "created":
        job.created += 1
    elif outcome.kind in ("skipped", "failed"):
        job.skipped += 1
        job.last_skip = outcome.reason
    elif outcome.kind == "excluded":
        job.excluded += 1


async def advance(db: Database, batch: int, region: str) -> bool:
    """One batch of one running backfill of an active sync (the least recently advanced);
    True when it did one."""
    running = (
        select(SyncBackfill.sync_id)
        .join(Sync, Sync.id == SyncBackfill.sync_id)
        .where(SyncBackfill.state == RUNNING, Sync.status == ACTIVE, Sync.connection_id.is_(None))
    )
    # Looked for without the write lock first: almost always there is none.
    if await db.read(lambda connection: connection.scalar(running.limit(1))) is None:
        return False
    async with db.unit_of_work() as uow:
        job = await uow.session.scalar(
            select(SyncBackfill)
            .where(SyncBackfill.sync_id.in_(running))
            .order_by(SyncBackfill.updated_at, SyncBackfill.sync_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if job is None:
            return False
        sync = await uow.session.get(Sync, job.sync_id)
        assert sync is not None
        with tracing.span("sync batch", batch_attributes(sync, "backfill")) as span:
            uow.origin = sync_origin(sync.id)
            await uow.lock(f"sync:{sync.id}")
            pairs = pairs_for(uow, sync, region)
            crm = kind_of(sync.object).crm_side(uow, sync.location_id, region)
            records = await crm.page(job.started_at, position(job), batch)
            span.set(RECORDS, len(records))
            linked = await link_crm_records(pairs, records, "backfill")
        walked(job, records, [outcome for _, outcome in linked], batch)
        return True


def position(job: SyncBackfill) -> tuple[datetime, str] | None:
    """Where the backfill's walk is: past the last record of its last batch."""
    if job.after_added_at is None or job.after_id is None:
        return None
    return job.after_added_at, job.after_id


def walked(job: SyncBackfill, records: list[Record], outcomes: list[Outcome], batch: int) -> None:
    """The job moved past a batch of `records` (of at most `batch`), linked as `outcomes`."""
    for outcome in outcomes:
        _tally(job, outcome)
    job.done += len(records)
    job.updated_at = utcnow()
    if records:
        job.after_added_at, job.after_id = records[-1].position
    if len(records) < batch:
        job.state, job.finished_at = FINISHED, job.updated_at
