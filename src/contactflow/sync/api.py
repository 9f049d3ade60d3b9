"""Routes of /sync/v1/syncs: syncs of the caller's location, created, read with their
backfill's progress, changed, paused, resumed, resynced, deleted."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from contactflow.mailsuite.api_common import CursorQuery, Limit, next_cursor, position
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, ErrorBody
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import SYNC_READ, SYNC_WRITE
from contactflow.platform.db import UnitOfWork
from contactflow.sync import service
from contactflow.sync.models import ACTIVE, PAUSED, Sync, SyncStatus
from contactflow.sync.schemas import SyncCreate, SyncEnvelope, SyncList, SyncUpdate
from contactflow.sync.service import SyncSettings
from contactflow.sync.wire import sync_out

router = APIRouter(prefix="/sync/v1/syncs", tags=["Sync"], responses=ERROR_RESPONSES)
SyncId = Annotated[str, Path(alias="syncId", min_length=1, max_length=64)]
Reader = Annotated[Principal, requires(SYNC_READ)]
Writer = Annotated[Principal, requires(SYNC_WRITE)]
# A person's decision on a remote account's pair that the remote did not take (ADR 0043).
UNDECIDED: dict[int | str, dict[str, object]] = {
    503: {
        "model": ErrorBody,
        "description": "The sync's remote account failed (or a batch of it ran on): nothing "
        "was decided; meta.remedy says when its connection must be connected again",
    }
}
# The cursor of a list in id order: the nextCursor of the previous page.
AfterId = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="The nextCursor of the previous page"),
]


@router.post(
    "",
    status_code=201,
    response_model=SyncEnvelope,
    summary="Create a sync (active at once: its backfill starts; 409 when the objects are synced)",
)
async def create_sync(body: SyncCreate, caller: Writer, db: DatabaseDep) -> SyncEnvelope:
    mapping = None if body.mapping is None else tuple(e.entry() for e in body.mapping)
    wanted = SyncSettings(
        body.name,
        body.object,
        body.direction,
        mapping,
        body.reconcile_every_minutes,
        body.on_delete,
        body.connection_id,
        None if body.segment is None else body.segment.segment(),
    )
    async with db.unit_of_work() as uow:
        sync = await service.create_sync(uow, caller.location_id, wanted)
        return SyncEnvelope(sync=await sync_out(uow.session, sync))


@router.get("", response_model=SyncList, summary="The location's syncs, newest first")
async def list_syncs(
    caller: Reader, db: DatabaseDep, limit: Limit = 20, cursor: CursorQuery = None
) -> SyncList:
    async with db.reader() as session:
        page = await service.list_syncs(
            session, caller.location_id, before=position(cursor), limit=limit
        )
        return SyncList(
            syncs=[await sync_out(session, sync) for sync in page.rows],
            next_cursor=next_cursor(page),
        )


@router.get(
    "/{syncId}", response_model=SyncEnvelope, summary="A sync, with its backfill's progress"
)
async def get_sync(sync_id: SyncId, caller: Reader, db: DatabaseDep) -> SyncEnvelope:
    async with db.reader() as session:
        sync = await service.find_sync(session, caller.location_id, sync_id)
        return SyncEnvelope(sync=await sync_out(session, sync))


@router.patch(
    "/{syncId}",
    response_model=SyncEnvelope,
    summary="Rename a sync, change its direction, mapping, segment, reconciliation schedule "
    "or delete policy",
)
async def update_sync(
    sync_id: SyncId, body: SyncUpdate, caller: Writer, db: DatabaseDep
) -> SyncEnvelope:
    async with db.unit_of_work() as uow:
        sync = await apply_update(uow, caller.location_id, sync_id, body)
        return SyncEnvelope(sync=await sync_out(uow.session, sync))


async def apply_update(uow: UnitOfWork, location_id: str, sync_id: str, body: SyncUpdate) -> Sync:
    """The change a SyncUpdate asks for, through the sync service: this PATCH and the
    dashboard's Edit form change a sync the same way."""
    mapping = None if body.mapping is None else [entry.entry() for entry in body.mapping]
    return await service.change_sync(
        uow,
        location_id,
        sync_id,
        name=body.name,
        direction=body.direction,
        mapping=mapping,
        reconcile_every=body.reconcile_every_minutes,
        on_delete=body.on_delete,
        segment=None if body.segment is None else body.segment.segment(),
    )


async def _set_status(
    db: DatabaseDep, caller: Principal, sync_id: str, status: SyncStatus
) -> SyncEnvelope:
    async with db.unit_of_work() as uow:
        sync = await service.set_status(uow, caller.location_id, sync_id, status)
        return SyncEnvelope(sync=await sync_out(uow.session, sync))


@router.post(
    "/{syncId}/pause",
    response_model=SyncEnvelope,
    summary="Pause a sync: changes wait in the event log, the backfill after its batch",
)
async def pause_sync(sync_id: SyncId, caller: Writer, db: DatabaseDep) -> SyncEnvelope:
    return await _set_status(db, caller, sync_id, PAUSED)


@router.post(
    "/{syncId}/resume",
    response_model=SyncEnvelope,
    summary="Resume a sync from where its changes and backfill stopped",
)
async def resume_sync(sync_id: SyncId, caller: Writer, db: DatabaseDep) -> SyncEnvelope:
    return await _set_status(db, caller, sync_id, ACTIVE)


@router.post(
    "/{syncId}/resync",
    status_code=202,
    response_model=SyncEnvelope,
    summary="Resync: run the backfill again from the first record, keeping the identity map "
    "(409 while the backfill runs or the sync is paused)",
)
async def resync_sync(sync_id: SyncId, caller: Writer, db: DatabaseDep) -> SyncEnvelope:
    async with db.unit_of_work() as uow:
        sync = await service.resync(uow, caller.location_id, sync_id)
        return SyncEnvelope(sync=await sync_out(uow.session, sync))


@router.delete(
    "/{syncId}", status_code=204, summary="Delete a sync and its identity map (the records stay)"
)
async def delete_sync(sync_id: SyncId, caller: Writer, db: DatabaseDep) -> Response:
    async with db.unit_of_work() as uow:
        await service.delete_sync(uow, caller.location_id, sync_id)
    return Response(status_code=204)
