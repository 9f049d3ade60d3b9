"""The location's audit log: who made, rotated, revoked or changed a credential, and what was
refused, newest first, filtered by action, older pages by keyset; the same entries as
GET /audit."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactflow.platform import audit, audit_api
from contactflow.platform.api_support import format_cursor
from contactflow.web.guard import ViewerDep, database
from contactflow.web.pages import api_docs, render
from contactflow.web.paging import cursor_position

router = APIRouter(prefix="/app/l/{location_id}/audit", include_in_schema=False)
AUDIT_DOCS = api_docs(audit_api.router, audit_api.list_entries)
ENTRIES_PER_PAGE = 50


@router.get("")
async def audit_page(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    action: str = "",
    cursor: str | None = None,
) -> Response:
    location = viewer.location(location_id)
    errors = {} if not action or action in audit.ACTIONS else {"action": "not an action of the log"}
    rows: list[audit.AuditEntry] = []
    if not errors:
        async with database(request).reader() as session:
            rows = await audit.entries(
                session,
                location.id,
                limit=ENTRIES_PER_PAGE + 1,
                before=cursor_position(cursor),
                action=action or None,
            )
    older = ""
    if len(rows) > ENTRIES_PER_PAGE:
        rows = rows[:ENTRIES_PER_PAGE]
        older = format_cursor(rows[-1].created_at, rows[-1].id)
    return render(
        "audit.html",
        422 if errors else 200,
        viewer=viewer,
        location=location,
        api_docs=AUDIT_DOCS,
        entries=rows,
        action=action,
        actions=audit.ACTIONS,
        errors=errors,
        older_cursor=older,
    )
