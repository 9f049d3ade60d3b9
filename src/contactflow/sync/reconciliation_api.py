"""Routes of /sync/v1/syncs/{syncId}/reconciliations: a reconciliation asked for, read with
its counts and its repair's progress, its findings paged, each repaired, or all of them."""

from typing import Annotated

from fastapi import APIRouter, Path

from contactflow.mailsuite.api_common import CursorQuery, Limit, next_cursor, position
from contactflow.mailsuite.paging import newest_first
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, SettingsDep
from contactflow.sync import reconciliations
from contactflow.sync.api import AfterId, Reader, SyncId, Writer
from contactflow.sync.models import FindingKind, FindingState, SyncReconciliation
from contactflow.sync.schemas import (
    FindingEnvelope,
    FindingList,
    ReconciliationEnvelope,
    ReconciliationList,
)
from contactflow.sync.service import find_sync
from contactflow.sync.wire import finding_out, reconciliation_out

router = APIRouter(
    prefix="/sync/v1/syncs/{syncId}/reconciliations", tags=["Sync"], responses=ERROR_RESPONSES
)
ReconciliationId = Annotated[str, Path(alias="reconciliationId", min_length=1, max_length=64)]
FindingId = Annotated[str, Path(alias="findingId", min_length=1, max_length=64)]


@router.post(
    "",
    status_code=202,
    response_model=ReconciliationEnvelope,
    summary="Reconcile a sync: compare both sides and find what is out of step "
    "(409 while its backfill runs or another reconciliation is not finished)",
)
async def create_reconciliation(
    sync_id: SyncId, caller: Writer, db: DatabaseDep
) -> ReconciliationEnvelope:
    async with db.unit_of_work() as uow:
        reconciliation = await reconciliations.request(uow, caller.location_id, sync_id)
        return ReconciliationEnvelope(reconciliation=reconciliation_out(reconciliation))


@router.get("", response_model=ReconciliationList, summary="A sync's reconciliations, newest first")
async def list_reconciliations(
    sync_id: SyncId,
    caller: Reader,
    db: DatabaseDep,
    limit: Limit = 20,
    cursor: CursorQuery = None,
) -> ReconciliationList:
    async with db.reader() as session:
        sync = await find_sync(session, caller.location_id, sync_id)
        page = await newest_first(
            session,
            reconciliations.of_sync(sync.id),
            SyncReconciliation.created_at,
            SyncReconciliation.id,
            before=position(cursor),
            limit=limit,
        )
        return ReconciliationList(
            reconciliations=[reconciliation_out(row) for row in page.rows],
            next_cursor=next_cursor(page),
        )


@router.get(
    "/{reconciliationId}",
    response_model=ReconciliationEnvelope,
    summary="A reconciliation: its counts by kind of finding, and its repair's progress",
)
async def get_reconciliation(
    sync_id: SyncId, reconciliation_id: ReconciliationId, caller: Reader, db: DatabaseDep
) -> ReconciliationEnvelope:
    async with db.reader() as session:
        reconciliation = await reconciliations.find_reconciliation(
            session, caller.location_id, sync_id, reconciliation_id
        )
        return ReconciliationEnvelope(reconciliation=reconciliation_out(reconciliation))


@router.get(
    "/{reconciliationId}/findings",
    response_model=FindingList,
    summary="A reconciliation's findings (of a kind, in a state), a page at a time",
)
async def list_findings(
    sync_id: SyncId,
    reconciliation_id: ReconciliationId,
    caller: Reader,
    db: DatabaseDep,
    kind: FindingKind | None = None,
    state: FindingState | None = None,
    limit: Limit = 50,
    cursor: AfterId = None,
) -> FindingList:
    async with db.reader() as session:
        reconciliation = await reconciliations.find_reconciliation(
            session, caller.location_id, sync_id, reconciliation_id
        )
        rows, after = await reconciliations.list_findings(
            session, reconciliation, after=cursor, limit=limit, kind=kind, state=state
        )
        return FindingList(findings=[finding_out(row) for row in rows], next_cursor=after)


@router.post(
    "/{reconciliationId}/findings/{findingId}/repair",
    response_model=FindingEnvelope,
    summary="Repair one finding now: the sync brings its records in step",
)
async def repair_finding(
    sync_id: SyncId,
    reconciliation_id: ReconciliationId,
    finding_id: FindingId,
    caller: Writer,
    db: DatabaseDep,
    settings: SettingsDep,
) -> FindingEnvelope:
    finding = await reconciliations.repair_one(
        db, settings, caller.location_id, sync_id, reconciliation_id, finding_id
    )
    return FindingEnvelope(finding=finding_out(finding))


@router.post(
    "/{reconciliationId}/repair",
    status_code=202,
    response_model=ReconciliationEnvelope,
    summary="Repair every open finding, as a job (its progress on the reconciliation)",
)
async def repair_all(
    sync_id: SyncId, reconciliation_id: ReconciliationId, caller: Writer, db: DatabaseDep
) -> ReconciliationEnvelope:
    async with db.unit_of_work() as uow:
        reconciliation = await reconciliations.start_repair(
            uow, caller.location_id, sync_id, reconciliation_id
        )
        return ReconciliationEnvelope(reconciliation=reconciliation_out(reconciliation))
