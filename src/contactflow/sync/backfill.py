"""A sync's backfill: every Contacts API record there was when the sync began, walked in
keyset order (date added, id) and linked to its Mailsuite record, matched by email then phone
before one is created. Then, of a sync that writes the Contacts API, the Mailsuite records
that no link names (made before the sync, or left unmatched), walked in id order and each
synced as a change of it is: matched on the Contacts API side by email then phone, or made
there (a task of a contact not linked yet waits for it).

Each batch is one transaction that locks the job's row, handles its records and moves the
position past them: a crash or a restart resumes after the last committed batch, and a record
already linked (by an earlier batch, or by the incremental sync) is only reconciled, never
linked twice. A record that cannot be synced is skipped with its reason, its batch going on."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform import topics, tracing
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database, UnitOfWork
from contactflow.sync.bulk import link_crm_records
from contactflow.sync.change_batch import Change, sync_changes
from contactflow.sync.models import (
    ACTIVE,
    FINISHED,
    RECORDS,
    RUNNING,
    SideName,
    Sync,
    SyncBackfill,
    SyncLink,
    batch_attributes,
    sync_origin,
)
from contactflow.sync.objects import kind_of
from contactflow.sync.pairs import Outcome, pairs_for, writes
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
    job.state, job.finished_at, job.walking = RUNNING, None, "crm"
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
            if job.walking == "mailsuite":
                ids = list(await uow.session.scalars(unlinked(sync, job.after_id, batch)))
                span.set(RECORDS, len(ids))
                changed = await sync_changes(pairs, mailsuite_changes(ids))
                walked_mailsuite(job, ids, [outcome for _, outcome in changed], batch)
                return True
            crm = kind_of(sync.object).crm_side(uow, sync.location_id, region)
            records = await crm.page(job.started_at, position(job), batch)
            span.set(RECORDS, len(records))
            linked = await link_crm_records(pairs, records, "backfill")
        walked(job, records, [outcome for _, outcome in linked], batch)
        await turn(uow.session, sync, job)
        return True


def position(job: SyncBackfill) -> tuple[datetime, str] | None:
    """Where the backfill's walk is: past the last record of its last batch."""
    if job.after_added_at is None or job.after_id is None:
        return None
    return job.after_added_at, job.after_id


def walked(job: SyncBackfill, records: list[Record], outcomes: list[Outcome], batch: int) -> None:
    """The job moved past a batch of `records` (of at most `batch`), linked as `outcomes`."""
    _moved(job, len(records), outcomes, batch)
    if records:
        job.after_added_at, job.after_id = records[-1].position


def _moved(job: SyncBackfill, walked: int, outcomes: list[Outcome], batch: int) -> None:
    for outcome in outcomes:
        _tally(job, outcome)
    job.done += walked
    job.updated_at = utcnow()
    if walked < batch:
        job.state, job.finished_at = FINISHED, job.updated_at


def unlinked(sync: Sync, after: str | None = None, limit: int | None = None) -> Select[str]:
    """The Mailsuite records of the sync's object that no link of the sync names; given a
    `limit`, the next that many past the id `after`, in id order."""
    listing = kind_of(sync.object).listings["mailsuite"](sync.location_id).subquery()
    record = listing.c[0]
    linked = exists().where(
        SyncLink.sync_id == sync.id,
        SyncLink.object == sync.object,
        SyncLink.mailsuite_id == record,
    )
    query = select(record).where(~linked)
    if after is not None:
        query = query.where(record > after)
    if limit is None:
        return query
    return query.order_by(record).limit(limit)


async def turn(session: AsyncSession, sync: Sync, job: SyncBackfill) -> None:
    """A backfill that has just walked the last Contacts API record walks on, when the sync
    writes the Contacts API: the Mailsuite records that no link names, counted now."""
    walking: SideName = "mailsuite"
    if job.state != FINISHED or job.walking == walking or not writes(sync.direction, "crm"):
        return
    if session.get_bind().dialect.name == "postgresql":
        # The walk's anti-join is planned on the links' statistics, which the first walk
        # has just left stale (autovacuum comes round later, or never where it is off).
        # Planned for an empty table, it compared every link of the sync with each record:
        # minutes at 100,000 links. As after any bulk load, the table is analysed.
        await session.execute(text(f"ANALYZE {SyncLink.__tablename__}"))
    left = unlinked(sync).subquery()
    job.total = job.done + int(await session.scalar(select(func.count()).select_from(left)) or 0)
    job.state, job.finished_at, job.walking = RUNNING, None, walking
    job.after_added_at = job.after_id = None


def mailsuite_changes(ids: list[str]) -> list[Change]:
    """The Mailsuite records `ids`, each to be synced as a change of it is."""
    return [Change("mailsuite", record_id, False) for record_id in ids]


def walked_mailsuite(
    job: SyncBackfill, ids: list[str], outcomes: list[Outcome], batch: int
) -> None:
    """The job moved past a batch of the Mailsuite records `ids` (of at most `batch`), synced
    as `outcomes`."""
    _moved(job, len(ids), outcomes, batch)
    if ids:
        job.after_id = ids[-1]
