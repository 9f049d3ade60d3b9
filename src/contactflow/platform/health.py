"""The operator endpoints of a process, API or worker: /livez, /readyz and /metrics.

They are not part of the JSON APIs (no token, no error envelope, not in the OpenAPI): a load
balancer, an orchestrator and Prometheus call them. None of them ever answers 500: a failing
check is a 503 naming its reason.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Scope

from contactflow.platform.db import Database
from contactflow.platform.metrics import Metrics
from contactflow.platform.migrate import current_revisions, head_revisions

log = logging.getLogger("contactflow.health")
LIVEZ, READYZ, METRICS = "/livez", "/readyz", "/metrics"
# Asked every few seconds by probes and scrapers: no trace spans are made of them.
OPERATOR_PATHS = frozenset({LIVEZ, READYZ, METRICS})
# How long /readyz waits for the database before calling it unreachable.
DATABASE_SECONDS = 5.0


class _Route(Route):
    """A route that names itself in the scope, as FastAPI's do: the request metrics label
    requests by its path."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


@dataclass
class Operations:
    """What the operator endpoints look at: the database, the process's metrics and, through
    them, its running worker."""

    db: Database
    metrics: Metrics
    # A loop whose last beat is older than this makes the process not ready.
    stale_seconds: float

    async def not_ready(self) -> str | None:
        """Why the process should not be sent work, or None when it may be."""
        try:
            async with asyncio.timeout(DATABASE_SECONDS):
                current = await self.db.read(current_revisions)
        except TimeoutError:
            return f"database unreachable: no answer within {DATABASE_SECONDS:g} s"
        except Exception as error:
            log.warning("readiness: database unreachable: %s", type(error).__name__)
            return f"database unreachable: {type(error).__name__}"
        if current is None:
            return "database not migrated: run `contactflow migrate`"
        if current != head_revisions():
            return (
                f"database at migration {', '.join(sorted(current))}, this code needs "
                f"{', '.join(sorted(head_revisions()))}: run `contactflow migrate`"
            )
        listener = self.db.listener
        if listener is not None and not listener.listening:
            return "database notifications lost: reconnecting"
        worker = self.metrics.worker
        if worker is not None:
            if worker.stopping:
                return "worker stopping"
            stale = worker.stale_loops(self.stale_seconds)
            if stale:
                return f"worker loops not heartbeating for {self.stale_seconds:g} s: " + (
                    ", ".join(stale)
                )
        return None

    def routes(self) -> list[Route]:
        answers = {LIVEZ: self._livez, READYZ: self._readyz, METRICS: self._metrics}
        return [_Route(path, answer, methods=["GET"]) for path, answer in answers.items()]

    def app(self) -> Starlette:
        """The endpoints on their own, for a worker's --health-port."""
        return Starlette(routes=self.routes())

    async def _livez(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _readyz(self, _request: Request) -> Response:
        reason = await self.not_ready()
        if reason is not None:
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def _metrics(self, _request: Request) -> Response:
        return Response(await self.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


class _QuietServer(uvicorn.Server):
    """uvicorn beside a worker, which handles SIGINT and SIGTERM itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, host: str, port: int) -> AsyncIterator[None]:
    """Serve `app` on host:port in this event loop while the block runs."""
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task  # uvicorn ends a server that cannot listen with SystemExit
                raise RuntimeError(f"the health server did not start on {host}:{port}")
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task
