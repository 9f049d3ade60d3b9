"""GET /events (a page of the log after a sequence) and GET /events/stream (Server-Sent
Events, resumable with Last-Event-ID)."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from contactflow.platform import topics
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import EVENTS_READ
from contactflow.platform.clock import to_iso
from contactflow.platform.db import Database
from contactflow.platform.errors import invalid
from contactflow.platform.event_types import EVENT_TYPES
from contactflow.platform.events import Event, read_events

router = APIRouter(prefix="/events", tags=["Events"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, requires(EVENTS_READ)]
STREAM_BATCH = 100
HEARTBEAT_SECONDS = 15.0


class EventOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    seq: int
    type: str
    location_id: str
    subject_id: str | None
    created_at: str
    payload: dict[str, Any]


class EventPage(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    events: list[EventOut]
    next_after: int


def event_out(event: Event) -> EventOut:
    return EventOut(
        id=event.id,
        seq=event.seq,
        type=event.type,
        location_id=event.location_id,
        subject_id=event.subject_id,
        created_at=to_iso(event.created_at),
        payload=event.payload,
    )


def _types(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(names) - EVENT_TYPES)
    if unknown:
        raise invalid("types", f"unknown event types {unknown}")
    return names


After = Annotated[int, Query(ge=0, le=2**62, description="Return events with seq > after")]
Types = Annotated[
    str | None, Query(max_length=2000, description="Comma-separated event types to keep")
]


@router.get("", response_model=EventPage, summary="Read the event log after a sequence")
async def list_events(
    caller: Reader,
    db: DatabaseDep,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    types: Types = None,
) -> EventPage:
    async with db.reader() as session:
        rows = await read_events(
            session, caller.location_id, after=after, limit=limit, types=_types(types)
        )
    return EventPage(
        events=[event_out(row) for row in rows], next_after=rows[-1].seq if rows else after
    )


async def _stream(
    request: Request, db: Database, location_id: str, after: int, types: list[str] | None
) -> AsyncIterator[bytes]:
    cursor = after
    woken_by = [topics.event(name) for name in types] if types else [topics.EVENTS]
    with db.wakeups.waiter(woken_by) as waiter:
        while not await request.is_disconnected():
            waiter.clear()  # before reading: a commit during the read must wake us
            async with db.reader() as session:
                rows = await read_events(
                    session, location_id, after=cursor, limit=STREAM_BATCH, types=types
                )
            for row in rows:
                data = event_out(row).model_dump_json(by_alias=True)
                yield f"id: {row.seq}\nevent: {row.type}\ndata: {data}\n\n".encode()
                cursor = row.seq
            if len(rows) < STREAM_BATCH and not await waiter.wait(HEARTBEAT_SECONDS):
                yield b": keep-alive\n\n"


@router.get(
    "/stream",
    summary="Follow the event log as Server-Sent Events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream"}},
)
async def stream_events(
    request: Request,
    caller: Reader,
    db: DatabaseDep,
    after: After = 0,
    types: Types = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> StreamingResponse:
    if last_event_id:
        if not last_event_id.isdigit():
            raise invalid("Last-Event-ID", "must be the seq of the last event received")
        after = int(last_event_id)
    return StreamingResponse(
        _stream(request, db, caller.location_id, after, _types(types)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
