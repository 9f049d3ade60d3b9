"""The sandbox outbox of a sandbox location: the messages its senders delivered, newest
first and live (redrawn as the location's log moves, as an email's EmailSent follows its
delivery), and each message as a mail client shows it (its HTML framed as framed.py
says)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import sandbox, sandbox_api
from contactflow.mailsuite.models import SandboxMessage
from contactflow.platform.api_support import format_cursor
from contactflow.platform.tenancy import Location
from contactflow.web.framed import FRAMING_PAGE_POLICY, framed_html
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.live import live_stream, log_position
from contactflow.web.pages import PAGE_HEADERS, api_docs, part, render
from contactflow.web.paging import LogPosition, cursor_position

router = APIRouter(prefix="/app/l/{location_id}/outbox", include_in_schema=False)
MESSAGES_PER_PAGE = 50
OUTBOX_DOCS = api_docs(sandbox_api.router, sandbox_api.list_messages)
MESSAGE_DOCS = api_docs(sandbox_api.router, sandbox_api.get_message)


def _sandbox_location(viewer: Viewer, location_id: str) -> Location:
    location = viewer.location(location_id)
    if not location.sandbox:
        raise PageNotFound
    return location


async def _rows(session: AsyncSession, location_id: str, cursor: str | None) -> dict[str, Any]:
    page = await sandbox.list_messages(
        session, location_id, before=cursor_position(cursor), limit=MESSAGES_PER_PAGE
    )
    return {
        "location_id": location_id,
        "messages": page.rows,
        "next_cursor": format_cursor(*page.next) if page.next else None,
    }


@router.get("")
async def outbox_page(
    request: Request, viewer: ViewerDep, location_id: str, cursor: str | None = None
) -> Response:
    location = _sandbox_location(viewer, location_id)
    db = database(request)
    after = await log_position(db, location.id)
    async with db.reader() as session:
        values = await _rows(session, location.id, cursor)
    return render(
        "outbox.html",
        viewer=viewer,
        location=location,
        api_docs=OUTBOX_DOCS,
        live_url="" if cursor else f"/app/l/{location.id}/outbox/live?after={after}",
        **values,
    )


@router.get("/live")
async def outbox_live(
    request: Request, viewer: ViewerDep, location_id: str, after: LogPosition = 0
) -> Response:
    location = _sandbox_location(viewer, location_id)
    db = database(request)

    async def draw() -> str:
        async with db.reader() as session:
            values = await _rows(session, location.id, None)
        return part("outbox.html", "messages_rows", **values)

    return live_stream(request, db, viewer.signed_in.secret, location.id, after, "outbox", draw)


async def _message(request: Request, location: Location, message_id: str) -> SandboxMessage:
    async with database(request).reader() as session:
        return await sandbox.find_message(session, location.id, message_id)


@router.get("/{message_id}")
async def message_page(
    request: Request, viewer: ViewerDep, location_id: str, message_id: str
) -> Response:
    location = _sandbox_location(viewer, location_id)
    message = await _message(request, location, message_id)
    response = render(
        "outbox_message.html",
        viewer=viewer,
        location=location,
        api_docs=MESSAGE_DOCS,
        message=message,
        read=sandbox.read_message(message.raw),
    )
    response.headers["Content-Security-Policy"] = FRAMING_PAGE_POLICY
    return response


@router.get("/{message_id}/html")
async def message_html(
    request: Request, viewer: ViewerDep, location_id: str, message_id: str
) -> Response:
    location = _sandbox_location(viewer, location_id)
    message = await _message(request, location, message_id)
    html = sandbox.read_message(message.raw).html
    if html is None:
        raise PageNotFound
    return framed_html(html)


@router.get("/{message_id}/raw")
async def message_raw(
    request: Request, viewer: ViewerDep, location_id: str, message_id: str
) -> Response:
    location = _sandbox_location(viewer, location_id)
    message = await _message(request, location, message_id)
    disposition = f'attachment; filename="{message.id}.eml"'
    headers = {**PAGE_HEADERS, "Content-Disposition": disposition}
    return Response(message.raw, media_type="message/rfc822", headers=headers)
