"""A linked pair's history: the last few changes the sync carried for it (which way, which
fields, written, held as a conflict, or refused by a side and why). Older entries are pruned
in the transaction that adds one (for a batch of pairs at once), so a pair's history stays
bounded."""

from collections.abc import Collection, Sequence
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.sync.models import ChangeDirection, ChangeResult, Sync, SyncChange

KEPT: Final = 20


def note(
    uow: UnitOfWork,
    sync: Sync,
    crm_id: str,
    direction: ChangeDirection,
    fields: Sequence[str],
    result: ChangeResult,
    reason: str | None = None,
) -> None:
    uow.session.add(
        SyncChange(
            sync_id=sync.id,
            crm_id=crm_id,
            direction=direction,
            fields=list(fields),
            result=result,
            reason=reason,
            at=utcnow(),
        )
    )


async def prune(uow: UnitOfWork, sync_id: str, crm_ids: Collection[str]) -> None:
    """Keep the newest KEPT entries of each pair of `crm_ids`, in one statement."""
    if not crm_ids:
        return
    rank = func.row_number().over(
        partition_by=SyncChange.crm_id, order_by=(SyncChange.at.desc(), SyncChange.id.desc())
    )
    ranked = (
        select(SyncChange.id, rank.label("rank"))
        .where(SyncChange.sync_id == sync_id, SyncChange.crm_id.in_(list(crm_ids)))
        .subquery()
    )
    await uow.session.flush()
    await uow.session.execute(
        delete(SyncChange)
        .where(SyncChange.id.in_(select(ranked.c.id).where(ranked.c.rank > KEPT)))
        .execution_options(synchronize_session=False)
    )


async def of_pair(session: AsyncSession, sync_id: str, crm_id: str) -> list[SyncChange]:
    """The pair's history, newest first."""
    rows = await session.scalars(
        select(SyncChange)
        .where(SyncChange.sync_id == sync_id, SyncChange.crm_id == crm_id)
        .order_by(SyncChange.at.desc(), SyncChange.id.desc())
        .limit(KEPT)
    )
    return list(rows)
