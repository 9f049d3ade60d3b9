"""Run retention: finished runs older than the retention (by their finish time) are deleted
with their step runs, a batch per transaction so the writer is never held long. Queued,
running and waiting runs are never deleted, however old. The same sweep deletes the keys
flows let through (de-duplicate steps, hook deliveries) once their window is over."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from contactflow.flows import keyvalue
from contactflow.flows.models import CANCELLED, FAILED, SUCCEEDED, FlowRun, StepRun
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database

FINISHED = (SUCCEEDED, FAILED, CANCELLED)
BATCH = 500
# Old runs pile up slowly: looking once in a while is enough.
SWEEP_SECONDS = 3600.0


async def delete_batch(
    db: Database, retention: timedelta, now: datetime, batch: int = BATCH
) -> int:
    """Delete up to `batch` runs that finished before `now - retention`; how many."""
    cutoff = now - retention
    async with db.unit_of_work() as uow:
        ids = list(
            await uow.session.scalars(
                select(FlowRun.id)
                .where(FlowRun.state.in_(FINISHED), FlowRun.finished_at < cutoff)
                .order_by(FlowRun.finished_at)
                .limit(batch)
            )
        )
        if ids:
            await uow.session.execute(delete(StepRun).where(StepRun.run_id.in_(ids)))
            await uow.session.execute(delete(FlowRun).where(FlowRun.id.in_(ids)))
        return len(ids)


async def delete_expired(
    db: Database, retention: timedelta, now: datetime, batch: int = BATCH
) -> int:
    """Delete every run that finished before `now - retention`, batch after batch; how many."""
    total = 0
    while (deleted := await delete_batch(db, retention, now, batch)) > 0:
        total += deleted
    return total


@dataclass
class RetentionLoop:
    """A worker step: a batch at a time while there are expired runs, then idle until the
    next sweep is due."""

    db: Database
    retention: timedelta
    sweep: timedelta = timedelta(seconds=SWEEP_SECONDS)
    _next_sweep: datetime = field(default_factory=utcnow)

    async def step(self) -> bool:
        now = utcnow()
        if now < self._next_sweep:
            return False
        runs = await delete_batch(self.db, self.retention, now)
        async with self.db.unit_of_work() as uow:
            keys = await keyvalue.delete_expired_keys(uow, now, BATCH)
        if BATCH in (runs, keys):
            return True
        self._next_sweep = now + self.sweep
        return False
