"""A webhook receiver on loopback that records what arrives and can be told to fail."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Arrival:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    # The status the receiver answered with.
    status: int = 200


@dataclass
class Receiver:
    """Answers each POST with the next planned status (then 200), after `delay` seconds.

    A 3xx answer carries `Location: redirect_to` when set. `started` counts requests whose
    body was read (an arrival is recorded only once the delay is over), so
    `started - len(arrivals)` are in flight.
    """

    base_url: str = ""
    arrivals: list[Arrival] = field(default_factory=list)
    plan: list[int] = field(default_factory=list)
    retry_after: str | None = None
    redirect_to: str | None = None
    delay: float = 0.0
    started: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"{self.base_url}{path}"

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self.plan.extend(statuses)

    def bodies(self, path: str = "/hook") -> list[bytes]:
        return [arrival.body for arrival in list(self.arrivals) if arrival.path == path]

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self.started - len(self.arrivals)

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.started += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            status = self.plan.pop(0) if self.plan else 200
            self.arrivals.append(
                Arrival(request.url.path, dict(request.headers), body, time.time(), status)
            )
        headers = {"retry-after": self.retry_after} if self.retry_after and status == 429 else {}
        if self.redirect_to and 300 <= status < 400:
            headers["location"] = self.redirect_to
        return Response("ok" if status < 300 else "nope", status_code=status, headers=headers)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver._handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("receiver did not start")
        time.sleep(0.01)
    receiver.base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=30)


async def wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Poll `condition()` until true; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
