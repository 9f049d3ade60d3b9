"""The run backlog: runs that are due and wait for the run executor (queued, or waiting past
the time they were released until), how many and since when the oldest waits (the run lag).

Incoming webhooks are refused past a limit of it (503 with Retry-After), so that intake that
outruns execution is pushed back to the senders, which retry, instead of piling up runs.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows.models import QUEUED, WAITING, FlowRun
from contactflow.platform.db import one_of
from contactflow.platform.errors import ServiceUnavailable

# The states of runs that wait for the executor once their time has come.
WAITING_STATES = (QUEUED, WAITING)
# How soon a refused sender is asked to try again.
RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class Backlog:
    runs: int
    # When the run waiting longest fell due; None without a backlog.
    oldest_due_at: datetime | None

    def lag_seconds(self, now: datetime) -> float:
        return 0.0 if self.oldest_due_at is None else (now - self.oldest_due_at).total_seconds()


async def _count(session: AsyncSession, now: datetime, at_most: int | None = None) -> int:
    # The (state, next attempt) index holds the column: counting reads no row.
    waiting = select(FlowRun.next_attempt_at).where(
        one_of(FlowRun.state, WAITING_STATES), FlowRun.next_attempt_at <= now
    )
    if at_most is not None:
        waiting = waiting.limit(at_most)
    return await session.scalar(select(func.count()).select_from(waiting.subquery())) or 0


async def backlog(session: AsyncSession, now: datetime) -> Backlog:
    """The installation's backlog at `now` (one executor serves every location): a walk over
    its entries of the (state, next attempt) index, and a seek per state for the oldest."""
    oldest = [
        await session.scalar(
            select(func.min(FlowRun.next_attempt_at)).where(
                FlowRun.state == state, FlowRun.next_attempt_at <= now
            )
        )
        for state in WAITING_STATES
    ]
    return Backlog(
        await _count(session, now), min((at for at in oldest if at is not None), default=None)
    )


async def check_room(session: AsyncSession, now: datetime, limit: int) -> None:
    """503 with Retry-After while `limit` runs or more wait to run (counting no further)."""
    if await _count(session, now, at_most=limit) >= limit:
        raise ServiceUnavailable(
            f"The flow run backlog is full: {limit} or more runs wait to run; retry after "
            f"{RETRY_AFTER_SECONDS} seconds",
            meta={"backlogLimit": limit},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
