"""The location's event log as people read it: newest first and live (redrawn as the log
moves, through the same stream as every live part of the dashboard), filtered by event type
and by the contact (or other record) an event is about, with the filters in the address so
a view can be shared; each event's page shows its payload."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform import events, events_api
from contactflow.platform.event_types import EVENT_TYPES, EVENT_TYPES_BY_RESOURCE
from contactflow.web.guard import PageNotFound, ViewerDep, database
from contactflow.web.live import live_stream, log_position
from contactflow.web.pages import api_docs, part, render
from contactflow.web.paging import MAX_SEQ, LogPosition

router = APIRouter(prefix="/app/l/{location_id}/events", include_in_schema=False)
EVENTS_PER_PAGE = 50
# As long as the log's subject column.
MAX_SUBJECT = 64
EVENTS_DOCS = api_docs(events_api.router, events_api.list_events)


@dataclass(frozen=True)
class EventFilter:
    """The events page's filters as the address holds them."""

    type: str = ""
    contact: str = ""

    @classmethod
    def of(cls, request: Request) -> "EventFilter":
        return cls(
            type=request.query_params.get("type", ""),
            contact=request.query_params.get("contact", "").strip(),
        )

    def query(self, **extra: str) -> str:
        pairs = {**self.__dict__, **extra}
        return urlencode({name: value for name, value in pairs.items() if value})

    def errors(self) -> dict[str, str]:
        errors = {}
        if self.type and self.type not in EVENT_TYPES:
            errors["type"] = "not an event type; pick one of the list"
        if len(self.contact) > MAX_SUBJECT:
            errors["contact"] = f"at most {MAX_SUBJECT} characters"
        return errors


def _before(raw: str | None) -> int | None:
    """Where an older page starts; anything else than a sequence starts at the newest."""
    try:
        before = int(raw or "")
    except ValueError:
        return None
    return before if 0 < before < MAX_SEQ else None


async def _rows(
    session: AsyncSession, location_id: str, shown: EventFilter, before: int | None
) -> dict[str, Any]:
    rows = await events.read_newest(
        session,
        location_id,
        before=before,
        limit=EVENTS_PER_PAGE + 1,
        event_type=shown.type or None,
        subject_id=shown.contact or None,
    )
    older = ""
    if len(rows) > EVENTS_PER_PAGE:
        rows = rows[:EVENTS_PER_PAGE]
        older = f"/app/l/{location_id}/events?{shown.query(before=str(rows[-1].seq))}"
    return {
        "location_id": location_id,
        "events": rows,
        "filtered": shown != EventFilter(),
        "older_url": older,
    }


@router.get("")
async def events_page(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    shown = EventFilter.of(request)
    errors = shown.errors()
    before = _before(request.query_params.get("before"))
    db = database(request)
    after = await log_position(db, location.id)
    # Refused filters show no rows, and no rows match them.
    values: dict[str, Any] = {
        "location_id": location.id,
        "events": [],
        "filtered": True,
        "older_url": "",
    }
    if not errors:
        async with db.reader() as session:
            values = await _rows(session, location.id, shown, before)
    live = before is None and not errors
    return render(
        "events.html",
        422 if errors else 200,
        viewer=viewer,
        location=location,
        api_docs=EVENTS_DOCS,
        groups=EVENT_TYPES_BY_RESOURCE,
        shown=shown,
        errors=errors,
        live_url=f"/app/l/{location.id}/events/live?{shown.query(after=str(after))}"
        if live
        else "",
        **values,
    )


@router.get("/live")
async def events_live(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    after: LogPosition = 0,
) -> Response:
    """The first page of the filtered log, redrawn as the location's log moves."""
    location = viewer.location(location_id)
    shown = EventFilter.of(request)
    if shown.errors():
        raise PageNotFound
    db = database(request)

    async def draw() -> str:
        async with db.reader() as session:
            values = await _rows(session, location.id, shown, None)
        return part("events.html", "events_rows", **values)

    return live_stream(request, db, viewer.signed_in.secret, location.id, after, "events", draw)


@router.get("/{event_id}")
async def event_page(
    request: Request, viewer: ViewerDep, location_id: str, event_id: str
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        event = await events.find_event(session, location.id, event_id)
    return render("event.html", viewer=viewer, location=location, api_docs=EVENTS_DOCS, event=event)
