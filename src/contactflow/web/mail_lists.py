"""A location's Mailsuite lists with their member counts, and a list's members newest first
(keyset paged) with each one's subscription status, read through the lists service as
GET /mailsuite/v1/lists and /lists/{listId}/members do."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactflow.mailsuite import api as mailsuite_api
from contactflow.mailsuite import lists
from contactflow.web.guard import ViewerDep, database
from contactflow.web.pages import api_docs, render
from contactflow.web.paging import cursor_position, older_url

router = APIRouter(prefix="/app/l/{location_id}/lists", include_in_schema=False)
PER_PAGE = 50
LISTS_DOCS = api_docs(mailsuite_api.router, mailsuite_api.list_lists)
MEMBERS_DOCS = api_docs(mailsuite_api.router, mailsuite_api.list_members)


@router.get("")
async def lists_page(
    request: Request, viewer: ViewerDep, location_id: str, cursor: str | None = None
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        page = await lists.list_lists(
            session, location.id, before=cursor_position(cursor), limit=PER_PAGE
        )
        counts = await lists.member_counts(session, [row.id for row in page.rows])
    older = older_url(f"/app/l/{location.id}/lists", page.next)
    return render(
        "mail_lists.html",
        viewer=viewer,
        location=location,
        api_docs=LISTS_DOCS,
        lists=page.rows,
        counts=counts,
        older_url=older,
    )


@router.get("/{list_id}")
async def list_page(
    request: Request, viewer: ViewerDep, location_id: str, list_id: str, cursor: str | None = None
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        group = await lists.find_list(session, location.id, list_id)
        page = await lists.list_members(
            session, location.id, list_id, before=cursor_position(cursor), limit=PER_PAGE
        )
        contacts = await lists.contacts_by_id(session, [row.contact_id for row in page.rows])
        count = (await lists.member_counts(session, [group.id]))[group.id]
    here = f"/app/l/{location.id}/lists/{group.id}"
    return render(
        "mail_list.html",
        viewer=viewer,
        location=location,
        api_docs=MEMBERS_DOCS,
        group=group,
        count=count,
        members=[(row, contacts.get(row.contact_id)) for row in page.rows],
        older_url=older_url(here, page.next),
    )
