"""A location's Mailsuite tasks as a board: open tasks by due date (overdue ones marked),
done ones most recently completed first, and Complete on each open task through the tasks
service, as PUT /mailsuite/v1/tasks/{taskId} with status done does. Tasks change as events
in the location's log, so the board follows it (web/live.py)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import api as mailsuite_api
from contactflow.mailsuite import tasks
from contactflow.mailsuite.schemas import TaskUpdate
from contactflow.platform.clock import utcnow
from contactflow.web.guard import ViewerDep, database
from contactflow.web.live import live_stream, log_position
from contactflow.web.pages import api_docs, part, render
from contactflow.web.paging import LogPosition

router = APIRouter(prefix="/app/l/{location_id}/tasks", include_in_schema=False)
# A board shows this many of each column; the API pages through the rest.
COLUMN = 100
TASKS_DOCS = api_docs(mailsuite_api.router, mailsuite_api.list_tasks)


async def _columns(session: AsyncSession, location_id: str, csrf_token: str) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "csrf_token": csrf_token,
        "open_tasks": await tasks.board(session, location_id, "open", limit=COLUMN),
        "done_tasks": await tasks.board(session, location_id, "done", limit=COLUMN),
        "now": utcnow(),
        "column": COLUMN,
    }


@router.get("")
async def board_page(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    db = database(request)
    after = await log_position(db, location.id)
    async with db.reader() as session:
        values = await _columns(session, location.id, viewer.csrf_token)
    return render(
        "mail_tasks.html",
        viewer=viewer,
        location=location,
        api_docs=TASKS_DOCS,
        live_url=f"/app/l/{location.id}/tasks/live?after={after}",
        **values,
    )


@router.get("/live")
async def board_live(
    request: Request, viewer: ViewerDep, location_id: str, after: LogPosition = 0
) -> Response:
    location = viewer.location(location_id)
    db = database(request)

    async def draw() -> str:
        async with db.reader() as session:
            values = await _columns(session, location.id, viewer.csrf_token)
        return part("mail_tasks.html", "board", **values)

    return live_stream(request, db, viewer.signed_in.secret, location.id, after, "board", draw)


@router.post("/{task_id}/complete")
async def complete(request: Request, viewer: ViewerDep, location_id: str, task_id: str) -> Response:
    location = viewer.location(location_id)
    async with database(request).unit_of_work() as uow:
        await tasks.update_task(uow, location.id, task_id, TaskUpdate(status="done"))
    return RedirectResponse(f"/app/l/{location.id}/tasks", 303)
