"""Live parts of pages over Server-Sent Events, woken by the event log.

A stream follows the location's event log from the position its page was drawn at; each
batch of new events redraws the page's live block through the same template block as the
page, and sends it as one named event (htmx-ext-sse swaps it in). A stream ends when the
browser goes away or its session ends.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request
from fastapi.responses import StreamingResponse

from contactflow.platform import topics
from contactflow.platform.auth import sessions
from contactflow.platform.db import Database
from contactflow.platform.events import EventStream

HEARTBEAT_SECONDS = 15.0
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def log_position(db: Database, location_id: str) -> int:
    """The location's newest event: where a page's live stream starts reading."""
    async with db.reader() as session:
        stream = await session.get(EventStream, location_id)
    return stream.last_seq if stream is not None else 0


def sse_event(name: str, html: str) -> bytes:
    data = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {name}\n{data}\n".encode()


def live_stream(
    request: Request,
    db: Database,
    secret: str,
    location_id: str,
    after: int,
    name: str,
    draw: Callable[[], Awaitable[str]],
    *,
    pace: float = 0.0,
) -> StreamingResponse:
    """Events named `name`, each a fresh `draw()`, from the log's position `after` on; at
    least `pace` seconds apart (a busy log is then drawn once for many batches). A drawing
    equal to the last one sent is not sent: swapping in the same rows would only cost the
    reader a click or a selection made while it happened."""

    async def follow() -> AsyncIterator[bytes]:
        cursor = after
        sent = ""
        with db.wakeups.waiter([topics.EVENTS]) as waiter:
            while not await request.is_disconnected():
                waiter.clear()  # before reading: a commit during the read must wake us
                async with db.reader() as session:
                    if await sessions.find(session, secret) is None:
                        return
                    stream = await session.get(EventStream, location_id)
                position = stream.last_seq if stream is not None else 0
                if position > cursor:
                    cursor = position
                    html = await draw()
                    if html != sent:
                        sent = html
                        yield sse_event(name, html)
                        await asyncio.sleep(pace)
                    continue
                if not await waiter.wait(HEARTBEAT_SECONDS):
                    yield b": keep-alive\n\n"

    return StreamingResponse(follow(), media_type="text/event-stream", headers=STREAM_HEADERS)
