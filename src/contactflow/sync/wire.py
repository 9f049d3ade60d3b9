"""Syncs as the API and the CLI show them: with their backfill's progress and the number of
pairs linked."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.clock import to_iso
from contactflow.sync.backfill import Progress
from contactflow.sync.models import Sync, SyncBackfill, SyncLink
from contactflow.sync.schemas import BackfillOut, FieldMapOut, SyncOut


def backfill_out(job: SyncBackfill) -> BackfillOut:
    progress = Progress.of(job)
    return BackfillOut(
        state=job.state,
        done=job.done,
        total=job.total,
        matched=job.matched,
        created=job.created,
        skipped=job.skipped,
        last_skip=job.last_skip,
        per_second=round(progress.per_second, 2) if progress.per_second is not None else None,
        seconds_left=(
            round(progress.seconds_left, 1) if progress.seconds_left is not None else None
        ),
        started_at=to_iso(job.started_at),
        finished_at=to_iso(job.finished_at),
    )


async def sync_out(session: AsyncSession, sync: Sync) -> SyncOut:
    job = await session.get(SyncBackfill, sync.id, populate_existing=True)
    linked = await session.scalar(
        select(func.count()).select_from(SyncLink).where(SyncLink.sync_id == sync.id)
    )
    return SyncOut(
        id=sync.id,
        location_id=sync.location_id,
        name=sync.name,
        object=sync.object,
        direction=sync.direction,
        mapping=[FieldMapOut.model_validate(entry) for entry in sync.mapping],
        status=sync.status,
        linked=linked or 0,
        backfill=backfill_out(job) if job is not None else None,
        last_error=sync.last_error,
        last_error_at=to_iso(sync.last_error_at),
        created_at=to_iso(sync.created_at),
        updated_at=to_iso(sync.updated_at),
    )
