"""A sync's conflicts held for a person (fields whose policy is `manual`) on its dashboard
page, each with a button per side to keep, through the same service as the
/sync/v1/syncs/{id}/conflicts API; and a linked pair's page with its recent history."""

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.errors import Conflict, ServiceUnavailable
from contactflow.sync import conflicts, history
from contactflow.sync.models import ConflictChoice, SyncLink
from contactflow.sync.service import find_sync
from contactflow.sync.wire import change_out, conflict_out
from contactflow.web.guard import PageNotFound, ViewerDep, database
from contactflow.web.pages import render

router = APIRouter(prefix="/app/l/{location_id}/syncs/{sync_id}", include_in_schema=False)
CONFLICTS_SHOWN: Final = 50
KEPT: Final[dict[str, ConflictChoice]] = {"crm": "crm", "mailsuite": "mailsuite"}
DIRECTIONS: Final = {
    "crmToMailsuite": "contact to Mailsuite",
    "mailsuiteToCrm": "Mailsuite to contact",
    "both": "both sides",
}


async def open_conflicts(session: AsyncSession, location_id: str, sync_id: str) -> dict[str, Any]:
    """The values of the page's conflicts block: those still open, newest first."""
    page = await conflicts.list_conflicts(
        session, location_id, sync_id, state="open", before=None, limit=CONFLICTS_SHOWN
    )
    return {"open_conflicts": [conflict_out(row) for row in page.rows]}


@router.post("/conflicts/{conflict_id}/{keep}")
async def resolve(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    sync_id: str,
    conflict_id: str,
    keep: str,
) -> Response:
    location = viewer.location(location_id)
    if keep not in KEPT:
        raise PageNotFound
    settings = request.app.state.settings
    done = "resolved"
    try:
        await conflicts.resolve(
            database(request),
            settings,
            location.id,
            sync_id,
            conflict_id,
            KEPT[keep],
            None,
            viewer.actor,
        )
    except Conflict:
        done = "settled"
    except ServiceUnavailable:
        done = "unreachable"
    return RedirectResponse(f"/app/l/{location.id}/syncs/{sync_id}?done={done}", 303)


@router.get("/pairs/{crm_id}")
async def pair_page(
    viewer: ViewerDep, request: Request, location_id: str, sync_id: str, crm_id: str
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        sync = await find_sync(session, location.id, sync_id)
        link = await session.scalar(
            select(SyncLink).where(SyncLink.sync_id == sync.id, SyncLink.crm_id == crm_id)
        )
        if link is None:
            raise PageNotFound
        changes = [change_out(row) for row in await history.of_pair(session, sync.id, crm_id)]
    return render(
        "sync_pair.html",
        viewer=viewer,
        location=location,
        sync=sync,
        link=link,
        changes=changes,
        directions=DIRECTIONS,
    )
