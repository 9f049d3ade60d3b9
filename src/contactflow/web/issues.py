"""The issues inbox: the location's failing subjects, latest failing first, filtered by
status in the address and paged by keyset, live (redrawn as issues open and resolve); each
issue's page shows its recent failures with links to the deliveries, runs, emails or
connections behind them, and acknowledges, resolves or re-opens it."""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform import issues, issues_api
from contactflow.platform.api_support import format_cursor
from contactflow.web.guard import PageNotFound, ViewerDep, database
from contactflow.web.live import live_stream, log_position
from contactflow.web.pages import api_docs, part, render
from contactflow.web.paging import LogPosition, cursor_position

router = APIRouter(prefix="/app/l/{location_id}/issues", include_in_schema=False)
ISSUES_PER_PAGE = 50
RECENT_FAILURES = 50
ISSUES_DOCS = api_docs(issues_api.router, issues_api.list_issues)
KINDS = {
    issues.WEBHOOK_ENDPOINT: "webhook endpoint",
    issues.FLOW_STEP: "flow step",
    issues.MAILSUITE_SENDER: "Mailsuite sender",
    issues.CONNECTION: "connection",
}
RECORDS = {
    issues.WEBHOOK_ENDPOINT: "Delivery",
    issues.FLOW_STEP: "Run",
    issues.MAILSUITE_SENDER: "Email",
    issues.CONNECTION: "Run, poll or test",
}
NOTICES = {
    "acknowledged": "Acknowledged: the issue stays here, marked as seen.",
    "resolved": "Resolved: the next failure re-opens it.",
    "reopened": "Re-opened.",
}
# The links of an issue's subject, as the API gives them.
LINKS: dict[str, Any] = {
    "subject_url": issues_api.subject_url,
    "reconnect_url": issues_api.reconnect_url,
}
CHANGES = {
    "acknowledge": (issues.acknowledge, "acknowledged"),
    "resolve": (issues.resolve, "resolved"),
    "reopen": (issues.reopen, "reopened"),
}


def _status(request: Request) -> tuple[str, dict[str, str]]:
    status = request.query_params.get("status", "")
    if status and status not in issues.STATUSES:
        return status, {"status": "not a status; pick one of the list"}
    return status, {}


async def _rows(
    session: AsyncSession, location_id: str, status: str, cursor: str | None
) -> dict[str, Any]:
    rows = await issues.newest(
        session,
        location_id,
        limit=ISSUES_PER_PAGE + 1,
        before=cursor_position(cursor),
        status=status or None,
    )
    older = ""
    if len(rows) > ISSUES_PER_PAGE:
        rows = rows[:ISSUES_PER_PAGE]
        last = rows[-1]
        query = {"status": status, "cursor": format_cursor(last.last_failed_at, last.id)}
        older = f"/app/l/{location_id}/issues?{urlencode({k: v for k, v in query.items() if v})}"
    return {
        "location_id": location_id,
        "issues": rows,
        "kinds": KINDS,
        "shown_status": status,
        "older_url": older,
        **LINKS,
    }


@router.get("")
async def issues_page(
    request: Request, viewer: ViewerDep, location_id: str, cursor: str | None = None
) -> Response:
    location = viewer.location(location_id)
    status, errors = _status(request)
    db = database(request)
    after = await log_position(db, location.id)
    values: dict[str, Any] = {
        "location_id": location.id,
        "issues": [],
        "kinds": KINDS,
        "shown_status": status,
        "older_url": "",
        **LINKS,
    }
    if not errors:
        async with db.reader() as session:
            values = await _rows(session, location.id, status, cursor)
    live = not cursor and not errors
    query = urlencode({"status": status, "after": after} if status else {"after": after})
    return render(
        "issues.html",
        422 if errors else 200,
        viewer=viewer,
        location=location,
        api_docs=ISSUES_DOCS,
        statuses=issues.STATUSES,
        errors=errors,
        live_url=f"/app/l/{location.id}/issues/live?{query}" if live else "",
        **values,
    )


@router.get("/live")
async def issues_live(
    request: Request, viewer: ViewerDep, location_id: str, after: LogPosition = 0
) -> Response:
    """The first page of the inbox, redrawn as the location's log moves."""
    location = viewer.location(location_id)
    status, errors = _status(request)
    if errors:
        raise PageNotFound
    db = database(request)

    async def draw() -> str:
        async with db.reader() as session:
            values = await _rows(session, location.id, status, None)
        return part("issues.html", "issue_rows", **values)

    return live_stream(request, db, viewer.signed_in.secret, location.id, after, "issues", draw)


@router.get("/{issue_id}")
async def issue_page(
    request: Request, viewer: ViewerDep, location_id: str, issue_id: str
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        issue = await issues.find_issue(session, location.id, issue_id)
        failures = await issues.recent_failures(session, issue.id, RECENT_FAILURES)
    return render(
        "issue.html",
        viewer=viewer,
        location=location,
        api_docs=api_docs(issues_api.router, issues_api.get_issue),
        issue=issue,
        failures=failures,
        records=RECORDS,
        **LINKS,
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
    )


@router.post("/{issue_id}/{change}")
async def change_issue(
    request: Request, viewer: ViewerDep, location_id: str, issue_id: str, change: str
) -> Response:
    location = viewer.location(location_id)
    if change not in CHANGES:
        raise PageNotFound
    act, done = CHANGES[change]
    async with database(request).unit_of_work() as uow:
        await act(uow, location.id, issue_id)
    where = f"/app/l/{location.id}/issues/{issue_id}?done={done}"
    return RedirectResponse(where, status_code=303)
