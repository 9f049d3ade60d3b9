"""Routes of /sync/v1/syncs/{syncId}/held-deletes: the deletes a sync holds for a person
(delete policy `hold`), listed, approved or rejected."""

from typing import Annotated

from fastapi import APIRouter, Path

from contactflow.mailsuite.api_common import CursorQuery, Limit, next_cursor, position
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, SettingsDep
from contactflow.sync import held_deletes
from contactflow.sync.api import UNDECIDED, Reader, SyncId, Writer
from contactflow.sync.models import HeldState
from contactflow.sync.schemas import HeldDeleteEnvelope, HeldDeleteList
from contactflow.sync.wire import held_out

router = APIRouter(
    prefix="/sync/v1/syncs/{syncId}/held-deletes", tags=["Sync"], responses=ERROR_RESPONSES
)
HeldId = Annotated[str, Path(alias="heldDeleteId", min_length=1, max_length=64)]


@router.get("", response_model=HeldDeleteList, summary="A sync's held deletes, newest first")
async def list_held_deletes(
    sync_id: SyncId,
    caller: Reader,
    db: DatabaseDep,
    state: HeldState | None = None,
    limit: Limit = 20,
    cursor: CursorQuery = None,
) -> HeldDeleteList:
    async with db.reader() as session:
        page = await held_deletes.list_held(
            session, caller.location_id, sync_id, state=state, before=position(cursor), limit=limit
        )
        return HeldDeleteList(
            held_deletes=[held_out(row) for row in page.rows], next_cursor=next_cursor(page)
        )


async def _decide(
    db: DatabaseDep,
    settings: SettingsDep,
    location_id: str,
    sync_id: str,
    held_id: str,
    approve: bool,
) -> HeldDeleteEnvelope:
    held = await held_deletes.decide(db, settings, location_id, sync_id, held_id, approve)
    return HeldDeleteEnvelope(held_delete=held_out(held))


@router.post(
    "/{heldDeleteId}/approve",
    response_model=HeldDeleteEnvelope,
    responses=UNDECIDED,
    summary="Approve a held delete: the deleted record's partner is deleted too",
)
async def approve_held_delete(
    sync_id: SyncId, held_id: HeldId, caller: Writer, db: DatabaseDep, settings: SettingsDep
) -> HeldDeleteEnvelope:
    return await _decide(db, settings, caller.location_id, sync_id, held_id, True)


@router.post(
    "/{heldDeleteId}/reject",
    response_model=HeldDeleteEnvelope,
    summary="Reject a held delete: the deleted record's partner is kept",
)
async def reject_held_delete(
    sync_id: SyncId, held_id: HeldId, caller: Writer, db: DatabaseDep, settings: SettingsDep
) -> HeldDeleteEnvelope:
    return await _decide(db, settings, caller.location_id, sync_id, held_id, False)
