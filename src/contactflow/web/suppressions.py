"""The contacts Mailsuite no longer mails: those who unsubscribed and those whose address
bounced hard, each with the reason and since when, newest first (keyset paged), read through
the contacts service as GET /mailsuite/v1/contacts?status= does."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactflow.mailsuite import api as mailsuite_api
from contactflow.mailsuite import contacts
from contactflow.mailsuite.models import BOUNCED, UNSUBSCRIBED, ContactStatus
from contactflow.platform.api_support import format_cursor
from contactflow.web.guard import ViewerDep, database
from contactflow.web.pages import api_docs, render
from contactflow.web.paging import cursor_position

router = APIRouter(prefix="/app/l/{location_id}/suppressions", include_in_schema=False)
CONTACTS_PER_PAGE = 50
KINDS: tuple[ContactStatus, ...] = (UNSUBSCRIBED, BOUNCED)
SUPPRESSIONS_DOCS = api_docs(mailsuite_api.router, mailsuite_api.list_contacts)


@router.get("")
async def suppressions_page(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    kind: str = UNSUBSCRIBED,
    cursor: str | None = None,
) -> Response:
    location = viewer.location(location_id)
    shown = next((known for known in KINDS if known == kind), None)
    rows = []
    older = ""
    if shown is not None:
        async with database(request).reader() as session:
            page = await contacts.list_contacts(
                session,
                location.id,
                status=shown,
                before=cursor_position(cursor),
                limit=CONTACTS_PER_PAGE,
            )
        rows = page.rows
        if page.next:
            older = f"?kind={shown}&cursor={format_cursor(*page.next)}"
    return render(
        "suppressions.html",
        200 if shown else 422,
        viewer=viewer,
        location=location,
        api_docs=SUPPRESSIONS_DOCS,
        kinds=KINDS,
        kind=kind,
        error="" if shown else f"kind: one of {', '.join(KINDS)}",
        contacts=rows,
        older_url=f"/app/l/{location.id}/suppressions{older}" if older else "",
    )
