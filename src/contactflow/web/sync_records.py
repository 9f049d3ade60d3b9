"""The records behind one of a sync's counts on the dashboard (linked, waiting, left out by
the segment, failing, in conflict), a page at a time, each linking to its pair's history
when it has one; read through the same queries as the /sync/v1/syncs/{id}/records API, so a
count on the sync's page is the length of its list."""

from typing import Final, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactflow.sync import records_api, statuses
from contactflow.sync.models import RecordStatus
from contactflow.sync.service import find_sync
from contactflow.sync.wire import names_of, record_out
from contactflow.web.guard import PageNotFound, ViewerDep, database
from contactflow.web.pages import api_docs, render

router = APIRouter(prefix="/app/l/{location_id}/syncs/{sync_id}", include_in_schema=False)
RECORDS_PER_PAGE: Final = 50
RECORDS_DOCS = api_docs(records_api.router, records_api.list_records)
STATUSES: Final[dict[str, RecordStatus]] = {name: name for name in get_args(RecordStatus)}
# Each status's list, titled as the sync's page names its count.
TITLES: Final[dict[RecordStatus, str]] = {
    "linked": "Linked pairs",
    "waiting": "Waiting for their contact",
    "excluded": "Left out by the segment",
    "failing": "Failing",
    "conflict": "Open conflicts",
}


@router.get("/records")
async def records_page(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    sync_id: str,
    status: str = "",
    cursor: str = "",
) -> Response:
    location = viewer.location(location_id)
    wanted = STATUSES.get(status)
    if wanted is None:
        raise PageNotFound
    rows: list[statuses.Listed] = []
    after = None
    async with database(request).reader() as session:
        sync = await find_sync(session, location.id, sync_id)
        listable = statuses.listable(sync, wanted)
        if listable:
            rows, after = await statuses.page(
                session, sync, wanted, after=cursor or None, limit=RECORDS_PER_PAGE
            )
        names = await names_of(session, sync, rows)
    sync_url = f"/app/l/{location.id}/syncs/{sync.id}"
    following = urlencode({"status": wanted, "cursor": after}) if after else ""
    return render(
        "sync_records.html",
        viewer=viewer,
        location=location,
        api_docs=RECORDS_DOCS,
        sync=sync,
        title=TITLES[wanted],
        listable=listable,
        unlisted=statuses.REMOTE_EXCLUDED,
        records=[record_out(sync, wanted, row, names) for row in rows],
        sync_url=sync_url,
        next_url=f"{sync_url}/records?{following}" if following else "",
    )
