"""A sync's deletes held for a person (its delete policy `hold`) on its dashboard page:
each with Approve (its partner is deleted too) and Reject (its partner is kept), through the
same service as the /sync/v1/syncs/{id}/held-deletes API."""

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.errors import Conflict, ServiceUnavailable
from contactflow.sync import held_deletes
from contactflow.sync.wire import held_out
from contactflow.web.guard import PageNotFound, ViewerDep, database

router = APIRouter(
    prefix="/app/l/{location_id}/syncs/{sync_id}/held-deletes", include_in_schema=False
)
HELD_SHOWN: Final = 50
DECISIONS: Final = {"approve": True, "reject": False}


async def waiting(session: AsyncSession, location_id: str, sync_id: str) -> dict[str, Any]:
    """The values of the page's held deletes block: those still waiting, newest first."""
    page = await held_deletes.list_held(
        session, location_id, sync_id, state="held", before=None, limit=HELD_SHOWN
    )
    return {"held_deletes": [held_out(row) for row in page.rows]}


@router.post("/{held_id}/{decision}")
async def decide(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    sync_id: str,
    held_id: str,
    decision: str,
) -> Response:
    location = viewer.location(location_id)
    if decision not in DECISIONS:
        raise PageNotFound
    settings = request.app.state.settings
    done = "approved" if DECISIONS[decision] else "rejected"
    try:
        await held_deletes.decide(
            database(request), settings, location.id, sync_id, held_id, DECISIONS[decision]
        )
    except Conflict:
        done = "decided"
    except ServiceUnavailable:
        done = "unreachable"
    return RedirectResponse(f"/app/l/{location.id}/syncs/{sync_id}?done={done}", 303)
