"""Deletes held for a person (a sync's delete policy `hold`): listed newest first, approved
(the partner is deleted too, as the sync, and the pair's link removed) or rejected (the
partner is kept; its link stays marked with the side that is gone)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database, UnitOfWork
from contactflow.platform.errors import Conflict, NotFound
from contactflow.settings import Settings
from contactflow.sync.decisions import as_person
from contactflow.sync.models import HELD, HeldState, SideName, SyncHeldDelete, SyncLink
from contactflow.sync.pairs import PairSync
from contactflow.sync.service import find_sync

HELD_NOT_FOUND = "Held delete not found"


async def list_held(
    session: AsyncSession,
    location_id: str,
    sync_id: str,
    *,
    state: HeldState | None,
    before: Position | None,
    limit: int,
) -> Page[SyncHeldDelete]:
    await find_sync(session, location_id, sync_id)
    query = select(SyncHeldDelete).where(SyncHeldDelete.sync_id == sync_id)
    if state is not None:
        query = query.where(SyncHeldDelete.state == state)
    return await newest_first(
        session, query, SyncHeldDelete.created_at, SyncHeldDelete.id, before=before, limit=limit
    )


async def _held(uow: UnitOfWork, location_id: str, sync_id: str, held_id: str) -> SyncHeldDelete:
    await find_sync(uow.session, location_id, sync_id)
    held = await uow.session.get(SyncHeldDelete, held_id, with_for_update=True)
    if held is None or held.sync_id != sync_id:
        raise NotFound(HELD_NOT_FOUND)
    if held.state != HELD:
        raise Conflict(f"heldDelete: it was {held.state} already")
    return held


async def decide(
    db: Database, settings: Settings, location_id: str, sync_id: str, held_id: str, approve: bool
) -> SyncHeldDelete:
    """Approve (delete the partner too) or reject (keep it) a held delete; 409 once decided."""
    if not approve:
        async with db.unit_of_work() as uow:
            held = await _held(uow, location_id, sync_id, held_id)
            held.state, held.outcome = "rejected", "its partner is kept"
            held.decided_at = utcnow()
            return held

    async def approved(pairs: PairSync) -> SyncHeldDelete:
        held = await _held(pairs.uow, location_id, sync_id, held_id)
        held.decided_at = utcnow()
        other: SideName = "mailsuite" if held.side == "crm" else "crm"
        if await pairs.sides[other].get(held.partner_id) is not None:
            await pairs.sides[other].delete(held.partner_id)
            held.outcome = f"its {other} partner is deleted"
        else:
            held.outcome = f"its {other} partner was gone already"
        column = SyncLink.mailsuite_id if other == "mailsuite" else SyncLink.crm_id
        link = await pairs.uow.session.scalar(
            select(SyncLink).where(SyncLink.sync_id == pairs.sync.id, column == held.partner_id)
        )
        if link is not None:
            await pairs.forget(link)
        held.state = "approved"
        return held

    return await as_person(db, settings, location_id, sync_id, approved)
