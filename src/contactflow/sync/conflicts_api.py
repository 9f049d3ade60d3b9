"""Routes of /sync/v1/syncs/{syncId}/conflicts: the conflicts a sync holds for a person
(fields whose policy is `manual`), listed and resolved."""

from typing import Annotated

from fastapi import APIRouter, Path

from contactflow.mailsuite.api_common import CursorQuery, Limit, next_cursor, position
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, SettingsDep
from contactflow.sync import conflicts
from contactflow.sync.api import UNDECIDED, Reader, SyncId, Writer
from contactflow.sync.models import ConflictState
from contactflow.sync.schemas import ConflictEnvelope, ConflictList, ConflictResolve
from contactflow.sync.wire import conflict_out

router = APIRouter(
    prefix="/sync/v1/syncs/{syncId}/conflicts", tags=["Sync"], responses=ERROR_RESPONSES
)
ConflictId = Annotated[str, Path(alias="conflictId", min_length=1, max_length=64)]


@router.get("", response_model=ConflictList, summary="A sync's held conflicts, newest first")
async def list_conflicts(
    sync_id: SyncId,
    caller: Reader,
    db: DatabaseDep,
    state: ConflictState | None = None,
    limit: Limit = 20,
    cursor: CursorQuery = None,
) -> ConflictList:
    async with db.reader() as session:
        page = await conflicts.list_conflicts(
            session, caller.location_id, sync_id, state=state, before=position(cursor), limit=limit
        )
        return ConflictList(
            conflicts=[conflict_out(row) for row in page.rows], next_cursor=next_cursor(page)
        )


@router.post(
    "/{conflictId}/resolve",
    response_model=ConflictEnvelope,
    responses=UNDECIDED,
    summary="Resolve a held conflict: the side kept (or a value) is written to both sides",
)
async def resolve_conflict(
    sync_id: SyncId,
    conflict_id: ConflictId,
    body: ConflictResolve,
    caller: Writer,
    db: DatabaseDep,
    settings: SettingsDep,
) -> ConflictEnvelope:
    row = await conflicts.resolve(
        db, settings, caller.location_id, sync_id, conflict_id, body.keep, body.value, caller.actor
    )
    return ConflictEnvelope(conflict=conflict_out(row))
