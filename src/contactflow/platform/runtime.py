"""The background workers of one process: webhook fan-out and delivery, and the loops the
contexts add (Mailsuite's sending).

`contactflow serve` runs them beside the API (embedded mode); `contactflow worker` runs only
them, as many processes as wanted, on any machine that reaches the database.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx

from contactflow.platform import topics
from contactflow.platform.db import Database
from contactflow.platform.jobs import Loop, RetrySchedule, Worker
from contactflow.platform.webhooks.delivery import Deliverer, DeliverySettings
from contactflow.platform.webhooks.dispatch import fan_out
from contactflow.platform.webhooks.signing import installation_signer
from contactflow.platform.webhooks.ssrf import UrlPolicy
from contactflow.platform.webhooks.transport import Poster
from contactflow.settings import Settings

# A context's loops: given the database, the settings, the worker's name (the owner of its
# leases) and the process's outbound HTTP client (one connection pool and TLS setup), the
# loops to run beside the platform's. The composition root passes them in, as the platform
# imports no context.
ContextLoops = Callable[[Database, Settings, str, httpx.AsyncClient], dict[str, Loop]]
# How long an idle pooled connection is reused: well under the 5 s after which common servers
# (uvicorn, Node) close an idle one. At httpx's default, also 5 s, a request sent just as the
# server closed the connection failed with "Server disconnected without sending a response",
# never having reached it.
KEEPALIVE_SECONDS = 2.0


def outbound_client() -> httpx.AsyncClient:
    """The contexts' client for calls out (flow steps, connections): one pool, one TLS setup."""
    limits = httpx.Limits(
        max_connections=256, max_keepalive_connections=64, keepalive_expiry=KEEPALIVE_SECONDS
    )
    return httpx.AsyncClient(follow_redirects=False, limits=limits)


def url_policy(settings: Settings) -> UrlPolicy:
    return UrlPolicy(allow_http=settings.dev_mode, allowed=settings.webhook_allowed_networks)


def delivery_settings(settings: Settings) -> DeliverySettings:
    return DeliverySettings(
        schedule=RetrySchedule(tuple(settings.webhook_retry_delays)),
        lease=timedelta(seconds=settings.lease_seconds),
        batch_size=settings.delivery_batch_size,
        disable_after=timedelta(hours=settings.webhook_disable_after_hours),
        timeout_seconds=settings.webhook_timeout_seconds,
    )


@asynccontextmanager
async def running_workers(
    db: Database, settings: Settings, contexts: Sequence[ContextLoops] = ()
) -> AsyncIterator[Worker]:
    """Start the workers; leaving the block stops them after their current step, or after
    the shutdown grace with their leases released (`Worker.shut_down`)."""
    signer = await installation_signer(db)
    async with outbound_client() as http, db.listening():
        worker = Worker(db, poll_seconds=settings.worker_poll_seconds)
        # Endpoints may take any event type: every appended event may be the fan-out's work.
        loops = {"fan-out": Loop(lambda: fan_out(db), (topics.EVENTS,))}
        # Deliveries have their own lean client (ADR 0014); the contexts get httpx.
        poster = Poster()
        for number in range(settings.delivery_loops):
            deliverer = Deliverer(
                db, poster, signer, url_policy(settings), delivery_settings(settings), worker.name
            )
            loops[f"deliveries-{number}"] = Loop(
                deliverer.step, (topics.DELIVERIES,), deliverer.next_due
            )
        for context_loops in contexts:
            loops.update(context_loops(db, settings, worker.name, http))
        task = asyncio.create_task(worker.run(loops))
        try:
            yield worker
        finally:
            await worker.shut_down(task, settings.shutdown_grace_seconds)
            await poster.aclose()
