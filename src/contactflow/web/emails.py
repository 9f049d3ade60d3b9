"""A location's Mailsuite emails: the list (newest first, keyset paged, filtered by status,
live), and an email's page (its recipient, subject, status, opens and clicks with their
times, its HTML framed as framed.py says) with Resend for a failed one, through the emails
service as the /mailsuite/v1/emails API does.

Sending, failing, opens and clicks are events in the location's log, so both pages follow it
(web/live.py) and redraw their live part as it moves.
"""

from dataclasses import dataclass
from typing import Any, cast, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import emails, mail_api
from contactflow.mailsuite.models import EmailStatus
from contactflow.platform.api_support import format_cursor
from contactflow.platform.errors import Conflict
from contactflow.platform.tenancy import Location
from contactflow.web.framed import FRAMING_PAGE_POLICY, framed_html
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.live import live_stream, log_position
from contactflow.web.pages import api_docs, part, render
from contactflow.web.paging import LogPosition, cursor_position, older_url
from contactflow.web.refusals import refusal_lines

router = APIRouter(prefix="/app/l/{location_id}/emails", include_in_schema=False)
EMAILS_PER_PAGE = 50
ACTIVITY_PER_PAGE = 50
MAX_ID = 64
STATUSES: tuple[str, ...] = get_args(EmailStatus)
EMAILS_DOCS = api_docs(mail_api.router, mail_api.list_emails)
EMAIL_DOCS = api_docs(mail_api.router, mail_api.get_email)
RESENT = "Queued to be sent again now."


@dataclass(frozen=True)
class EmailFilter:
    """The list's filters (status, campaign) and page, as the page's address holds them."""

    status: str = ""
    campaign: str = ""
    cursor: str = ""

    @classmethod
    def of(cls, request: Request) -> "EmailFilter":
        return cls(
            status=request.query_params.get("status", ""),
            campaign=request.query_params.get("campaign", ""),
            cursor=request.query_params.get("cursor", ""),
        )

    def query(self, **changed: str) -> str:
        pairs = {**self.__dict__, **changed}
        return urlencode({name: value for name, value in pairs.items() if value})

    def errors(self) -> dict[str, str]:
        errors = {}
        if self.status and self.status not in STATUSES:
            errors["status"] = f"one of {', '.join(STATUSES)}"
        if len(self.campaign) > MAX_ID:
            errors["campaign"] = f"at most {MAX_ID} characters"
        return errors

    def chosen_status(self) -> EmailStatus | None:
        return cast(EmailStatus, self.status) if self.status in STATUSES else None


async def _rows(session: AsyncSession, location_id: str, shown: EmailFilter) -> dict[str, Any]:
    page = await emails.list_emails(
        session,
        location_id,
        status=shown.chosen_status(),
        contact_id=None,
        campaign_id=shown.campaign or None,
        before=cursor_position(shown.cursor),
        limit=EMAILS_PER_PAGE,
    )
    older = ""
    if page.next is not None:
        older = f"/app/l/{location_id}/emails?{shown.query(cursor=format_cursor(*page.next))}"
    return {
        "location_id": location_id,
        "emails": page.rows,
        "filtered": bool(shown.status or shown.campaign),
        "older_url": older,
    }


@router.get("")
async def emails_page(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    shown = EmailFilter.of(request)
    errors = shown.errors()
    db = database(request)
    after = await log_position(db, location.id)
    values: dict[str, Any] = {
        "location_id": location.id,
        "emails": [],
        "filtered": True,
        "older_url": "",
    }
    if not errors:
        async with db.reader() as session:
            values = await _rows(session, location.id, shown)
    live = not shown.cursor and not errors
    live_query = EmailFilter(status=shown.status, campaign=shown.campaign).query(after=str(after))
    return render(
        "emails.html",
        422 if errors else 200,
        viewer=viewer,
        location=location,
        api_docs=EMAILS_DOCS,
        statuses=STATUSES,
        shown=shown,
        errors=errors,
        live_url=f"/app/l/{location.id}/emails/live?{live_query}" if live else "",
        **values,
    )


@router.get("/live")
async def emails_live(
    request: Request, viewer: ViewerDep, location_id: str, after: LogPosition = 0
) -> Response:
    location = viewer.location(location_id)
    shown = EmailFilter.of(request)
    if shown.errors():
        raise PageNotFound
    db = database(request)

    async def draw() -> str:
        async with db.reader() as session:
            values = await _rows(session, location.id, shown)
        return part("emails.html", "email_rows", **values)

    return live_stream(request, db, viewer.signed_in.secret, location.id, after, "emails", draw)


async def _email_values(request: Request, location: Location, email_id: str) -> dict[str, Any]:
    async with database(request).reader() as session:
        email = await emails.find_email(session, location.id, email_id)
        activity = await emails.email_activity(
            session,
            location.id,
            email.id,
            before=cursor_position(request.query_params.get("cursor")),
            limit=ACTIVITY_PER_PAGE,
        )
    path = f"/app/l/{location.id}/emails/{email.id}"
    return {
        "location_id": location.id,
        "email": email,
        "activity": activity.rows,
        "older_url": older_url(path, activity.next),
    }


async def _email_page(
    request: Request,
    viewer: Viewer,
    location: Location,
    email_id: str,
    *,
    status: int = 200,
    notice: str = "",
    refusal: str = "",
) -> Response:
    db = database(request)
    after = await log_position(db, location.id)
    values = await _email_values(request, location, email_id)
    live = "cursor" not in request.query_params
    response = render(
        "email.html",
        status,
        viewer=viewer,
        location=location,
        api_docs=EMAIL_DOCS,
        live_url=f"/app/l/{location.id}/emails/{email_id}/live?after={after}" if live else "",
        notice=notice,
        refusal=refusal,
        **values,
    )
    response.headers["Content-Security-Policy"] = FRAMING_PAGE_POLICY
    return response


@router.get("/{email_id}")
async def email_page(
    request: Request, viewer: ViewerDep, location_id: str, email_id: str
) -> Response:
    location = viewer.location(location_id)
    notice = RESENT if request.query_params.get("done") == "resent" else ""
    return await _email_page(request, viewer, location, email_id, notice=notice)


@router.get("/{email_id}/live")
async def email_live(
    request: Request, viewer: ViewerDep, location_id: str, email_id: str, after: LogPosition = 0
) -> Response:
    location = viewer.location(location_id)
    db = database(request)
    async with db.reader() as session:
        await emails.find_email(session, location.id, email_id)

    async def draw() -> str:
        values = await _email_values(request, location, email_id)
        return part("email.html", "tracking", viewer=viewer, **values)

    return live_stream(request, db, viewer.signed_in.secret, location.id, after, "email", draw)


@router.get("/{email_id}/html")
async def email_html(
    request: Request, viewer: ViewerDep, location_id: str, email_id: str
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        email = await emails.find_email(session, location.id, email_id)
    return framed_html(email.html)


@router.post("/{email_id}/resend")
async def resend(request: Request, viewer: ViewerDep, location_id: str, email_id: str) -> Response:
    location = viewer.location(location_id)
    try:
        async with database(request).unit_of_work() as uow:
            await emails.resend_email(uow, location.id, email_id)
    except Conflict as refused:
        return await _email_page(
            request,
            viewer,
            location,
            email_id,
            status=409,
            refusal="; ".join(refusal_lines(refused)),
        )
    return RedirectResponse(f"/app/l/{location.id}/emails/{email_id}?done=resent", 303)
