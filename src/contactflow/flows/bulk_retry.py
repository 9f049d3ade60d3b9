"""Bulk retry: every failed run that matches a filter of the runs list, retried from its
failed step by a job kept in the database and advanced in batches by the workers.

A job walks the matching runs oldest first by keyset (created, id) and only those created
before it started. Each batch is one transaction that locks the job's row, retries the runs
and moves the job's position past them: a restart resumes after the last committed batch,
two workers never take the same batch, and a run the job retried that fails again lies
behind the position, so the job never retries it twice. While a job runs, its filter's key
is unique in its location, so the same filter cannot start a second one.
"""

import hashlib
import json
from datetime import datetime
from typing import Final, Literal

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.flows import service
from contactflow.flows.models import FAILED, FlowRun, find_flow
from contactflow.flows.run_search import RunFilter, runs_matching
from contactflow.platform import topics
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import Base, Database, UnitOfWork, UTCDateTime
from contactflow.platform.errors import Conflict, NotFound, invalid
from contactflow.platform.ids import new_id

JobState = Literal["running", "finished", "cancelled"]
RUNNING: Final = "running"
FINISHED: Final = "finished"
CANCELLED: Final = "cancelled"
BATCH = 50
MAX_TEXT = 200


class BulkRetry(Base):
    __tablename__ = "flow_bulk_retries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    # The filter, as the runs list has it (the state is always "failed").
    flow_id: Mapped[str | None] = mapped_column(String(32))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    text: Mapped[str | None] = mapped_column(String(MAX_TEXT))
    state: Mapped[JobState] = mapped_column(String(16))
    # The filter's key while the job runs, None after: one running job per location and filter.
    running_key: Mapped[str | None] = mapped_column(String(64))
    # Failed runs that matched when the job started; the runs it retried so far.
    total: Mapped[int] = mapped_column(Integer)
    retried: Mapped[int] = mapped_column(Integer, default=0)
    # Where the walk is: the last run handled (its creation and id); None before the first.
    after_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    after_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("location_id", "running_key"),
        Index(None, "state", "updated_at"),
        Index(None, "location_id", "created_at"),
    )

    @property
    def filter(self) -> RunFilter:
        return RunFilter(self.flow_id, FAILED, self.since, self.until, self.text)


def filter_key(found: RunFilter) -> str:
    """The same filter, the same key (the state is always "failed" and is left out)."""
    moments = [
        to_iso(moment) if moment is not None else None for moment in (found.since, found.until)
    ]
    parts = [found.flow_id or None, *moments, found.text or None]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


async def start(uow: UnitOfWork, location_id: str, found: RunFilter) -> BulkRetry:
    """A job retrying the location's failed runs that match `found`; 409 naming the job
    when one runs for the same filter already."""
    if found.state not in (None, "", FAILED):
        raise invalid("state", "only failed runs are retried: choose failed or any status")
    if found.text is not None and len(found.text) > MAX_TEXT:
        raise invalid("query", f"at most {MAX_TEXT} characters")
    if found.flow_id:
        try:
            await find_flow(uow.session, location_id, found.flow_id)
        except NotFound:
            raise invalid("flowId", "no such flow in this location") from None
    key = filter_key(found)
    running = await uow.session.scalar(
        select(BulkRetry).where(BulkRetry.location_id == location_id, BulkRetry.running_key == key)
    )
    if running is not None:
        raise _already(running)
    failed = RunFilter(found.flow_id or None, FAILED, found.since, found.until, found.text or None)
    total = await uow.session.scalar(
        select(func.count()).select_from(
            runs_matching(uow.session.get_bind().dialect.name, location_id, failed).subquery()
        )
    )
    now = utcnow()
    job = BulkRetry(
        location_id=location_id,
        flow_id=failed.flow_id,
        since=failed.since,
        until=failed.until,
        text=failed.text,
        state=RUNNING,
        running_key=key,
        total=total or 0,
        retried=0,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(job)
    try:
        await uow.session.flush()
    except IntegrityError:
        # Another request started the same filter's job between the look-up and this insert.
        raise Conflict("A bulk retry of these runs is already running") from None
    uow.wake(topics.FLOW_BULK_RETRIES)
    return job


def _already(job: BulkRetry) -> Conflict:
    return Conflict(
        f"A bulk retry of these runs is already running: {job.id}", meta={"bulkRetryId": job.id}
    )


async def find_job(session: AsyncSession, location_id: str, job_id: str) -> BulkRetry:
    row = await session.get(BulkRetry, job_id)
    if row is None or row.location_id != location_id:
        raise NotFound("Bulk retry not found")
    return row


async def cancel(uow: UnitOfWork, location_id: str, job_id: str) -> BulkRetry:
    """Stop a running job after its current batch; runs it retried stay retried. A job
    that is over is left as it is."""
    row = await uow.session.get(BulkRetry, job_id, with_for_update=True, populate_existing=True)
    if row is None or row.location_id != location_id:
        raise NotFound("Bulk retry not found")
    job = row
    if job.state == RUNNING:
        _end(job, CANCELLED)
    return job


def _end(job: BulkRetry, state: JobState) -> None:
    now = utcnow()
    job.state, job.running_key, job.finished_at, job.updated_at = state, None, now, now


async def _next_runs(uow: UnitOfWork, job: BulkRetry) -> list[FlowRun]:
    query = runs_matching(uow.session.get_bind().dialect.name, job.location_id, job.filter).where(
        FlowRun.created_at <= job.created_at
    )
    if job.after_created_at is not None and job.after_id is not None:
        query = query.where(
            or_(
                FlowRun.created_at > job.after_created_at,
                and_(FlowRun.created_at == job.after_created_at, FlowRun.id > job.after_id),
            )
        )
    # A run being retried by hand at the same moment is waited for, then seen as it is now.
    query = query.order_by(FlowRun.created_at, FlowRun.id).limit(BATCH).with_for_update()
    return list(await uow.session.scalars(query))


async def advance(db: Database) -> bool:
    """One batch of one running job (the least recently advanced); True when it did one."""
    # Looked for without the write lock first: almost always there is no job.
    probe = select(BulkRetry.id).where(BulkRetry.state == RUNNING).limit(1)
    if await db.read(lambda connection: connection.scalar(probe)) is None:
        return False
    async with db.unit_of_work() as uow:
        query = (
            select(BulkRetry)
            .where(BulkRetry.state == RUNNING)
            .order_by(BulkRetry.updated_at, BulkRetry.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        job = await uow.session.scalar(query)
        if job is None:
            return False
        runs = await _next_runs(uow, job)
        for run in runs:
            await service.retry(uow, job.location_id, run.id)
        job.retried += len(runs)
        job.updated_at = utcnow()
        if runs:
            job.after_created_at, job.after_id = runs[-1].created_at, runs[-1].id
        if len(runs) < BATCH:
            _end(job, FINISHED)
        return True
