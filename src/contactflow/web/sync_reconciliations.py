"""A sync's reconciliations on its dashboard page: Check now, the last reconciliation's counts
and findings (each with Repair), Repair all with its progress; through the same services as
the /sync/v1/syncs/{id}/reconciliations API. While a reconciliation or its repair runs, its
block asks for itself again every few seconds (htmx), as a running backfill's does."""

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.errors import Conflict, ServiceUnavailable
from contactflow.sync import reconciliations
from contactflow.sync.models import FINISHED, QUEUED, RUNNING, SyncReconciliation
from contactflow.sync.schemas import FindingOut, ReconciliationOut
from contactflow.sync.service import find_sync
from contactflow.sync.wire import finding_out, reconciliation_out
from contactflow.web.guard import ViewerDep, database
from contactflow.web.pages import render_part

router = APIRouter(prefix="/app/l/{location_id}/syncs/{sync_id}", include_in_schema=False)
# The findings the page lists; the rest are a Repair all (or the API's pages) away.
FINDINGS_SHOWN: Final = 50
KINDS: Final = {
    "missingInMailsuite": "missing in Mailsuite",
    "missingInCrm": "missing in contacts",
    "differs": "fields differ",
    "conflict": "changed on both sides",
    "orphan": "a record of the pair is gone",
}


def _here(location_id: str, sync_id: str) -> str:
    return f"/app/l/{location_id}/syncs/{sync_id}"


def moving(reconciliation: ReconciliationOut | None) -> bool:
    """Whether its block changes on its own: it runs, or its findings are being repaired."""
    if reconciliation is None:
        return False
    repairing = reconciliation.repair is not None and reconciliation.repair.state == RUNNING
    return reconciliation.state in (QUEUED, RUNNING) or repairing


async def latest(session: AsyncSession, location_id: str, sync_id: str) -> dict[str, Any]:
    """The values of the page's reconciliation block: the newest one and its findings."""
    newest = await session.scalar(
        reconciliations.of_sync(sync_id)
        .order_by(SyncReconciliation.created_at.desc(), SyncReconciliation.id.desc())
        .limit(1)
    )
    shown = reconciliation_out(newest) if newest is not None else None
    findings: list[FindingOut] = []
    if newest is not None and newest.state == FINISHED:
        rows, _ = await reconciliations.list_findings(
            session, newest, after=None, limit=FINDINGS_SHOWN
        )
        findings = [finding_out(row) for row in rows]
    here = _here(location_id, sync_id)
    return {
        "reconciliation": shown,
        "findings": findings,
        "kinds": KINDS,
        "sync_url": here,
        "reconciliation_url": f"{here}/reconciliation" if moving(shown) else "",
    }


@router.get("/reconciliation")
async def reconciliation_block(
    request: Request, viewer: ViewerDep, location_id: str, sync_id: str
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        await find_sync(session, location.id, sync_id)
        values = await latest(session, location.id, sync_id)
    return render_part("sync.html", "reconciliation", viewer=viewer, **values)


async def _act(request: Request, location_id: str, sync_id: str, done: str, work: Any) -> Response:
    """Run `work(uow)`; back to the sync's page with the notice `done` (or `busy` on 409)."""
    try:
        async with database(request).unit_of_work() as uow:
            await work(uow)
    except Conflict:
        done = "busy"
    return RedirectResponse(f"{_here(location_id, sync_id)}?done={done}", 303)


@router.post("/reconcile")
async def reconcile(
    request: Request, viewer: ViewerDep, location_id: str, sync_id: str
) -> Response:
    location = viewer.location(location_id)
    return await _act(
        request,
        location.id,
        sync_id,
        "reconciling",
        lambda uow: reconciliations.request(uow, location.id, sync_id),
    )


@router.post("/reconciliations/{reconciliation_id}/repair")
async def repair_all(
    request: Request, viewer: ViewerDep, location_id: str, sync_id: str, reconciliation_id: str
) -> Response:
    location = viewer.location(location_id)
    return await _act(
        request,
        location.id,
        sync_id,
        "repairing",
        lambda uow: reconciliations.start_repair(uow, location.id, sync_id, reconciliation_id),
    )


@router.post("/reconciliations/{reconciliation_id}/findings/{finding_id}/repair")
async def repair_one(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    sync_id: str,
    reconciliation_id: str,
    finding_id: str,
) -> Response:
    location = viewer.location(location_id)
    done = "repaired"
    try:
        await reconciliations.repair_one(
            database(request),
            request.app.state.settings,
            location.id,
            sync_id,
            reconciliation_id,
            finding_id,
        )
    except Conflict:
        done = "busy"
    except ServiceUnavailable:
        done = "unreachable"
    return RedirectResponse(f"{_here(location.id, sync_id)}?done={done}", 303)
