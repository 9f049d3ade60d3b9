"""The queue of conflicts held for a person, as the sync keeps it: a field whose policy is
`manual` changed on both sides to different values opens one conflict per pair and field; the
sync brings it up to date when the sides change again, and closes it when they no longer
differ. While one is open the pair's link keeps that field's last synced hashes (sync/pairs.py),
so any later change on either side is seen as a conflict again."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.sync.fields import FieldMap
from contactflow.sync.models import OPEN, RESOLVED, Sync, SyncConflict
from contactflow.sync.sides import Record


async def open_of(session: AsyncSession, sync_id: str, crm_id: str) -> dict[str, SyncConflict]:
    """The pair's open conflicts, by field."""
    rows = await session.scalars(
        select(SyncConflict).where(
            SyncConflict.sync_id == sync_id,
            SyncConflict.crm_id == crm_id,
            SyncConflict.state == OPEN,
        )
    )
    return {row.field: row for row in rows}


async def hold(
    uow: UnitOfWork,
    sync: Sync,
    mapping: Sequence[FieldMap],
    crm: Record,
    mailsuite: Record,
    held: Sequence[str],
) -> list[str]:
    """Open (or bring up to date) a conflict per held field, and close the pair's open ones
    whose field is no longer in conflict (the sides agree, or one went back to its last
    synced value and the other's change was carried). The fields newly held or whose values
    moved, for the event that tells a person."""
    existing = await open_of(uow.session, sync.id, crm.id)
    now, told = utcnow(), []
    for entry in mapping:
        row = existing.pop(entry.crm, None)
        if entry.crm not in held:
            if row is not None:
                row.state, row.resolved_at, row.updated_at = RESOLVED, now, now
                row.resolved_by = "the sync: the sides no longer differ"
            continue
        values = (crm.values.get(entry.crm), mailsuite.values.get(entry.mailsuite))
        if row is None:
            row = SyncConflict(
                sync_id=sync.id, crm_id=crm.id, field=entry.crm, state=OPEN, created_at=now
            )
            uow.session.add(row)
        elif (row.crm_value, row.mailsuite_value) == values:
            continue
        row.mailsuite_id = mailsuite.id
        row.crm_value, row.mailsuite_value = values
        row.crm_changed_at, row.mailsuite_changed_at = crm.updated_at, mailsuite.updated_at
        row.updated_at = now
        told.append(entry.crm)
    return told
