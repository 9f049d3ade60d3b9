"""The background workers of one process: webhook fan-out and delivery, and the loops the
contexts add (flows, Mailsuite's sending, syncs), in named groups.

`contactflow serve` runs them beside the API (embedded mode); `contactflow worker` runs only
them, as many processes as wanted, on any machine that reaches the database. Either runs the
groups its settings name (`worker_groups`, or `contactflow worker --only`), all by default.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx

from contactflow.platform import topics, tracing
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
# The platform's own group: the webhook fan-out and the delivery loops.
WEBHOOKS = "webhooks"


class UnknownGroups(ValueError):
    """Loop groups asked for that no worker has."""

    def __init__(self, unknown: list[str], valid: list[str]) -> None:
        super().__init__(
            f"unknown worker group {', '.join(unknown)}; valid groups: {', '.join(valid)}"
        )


def chosen_groups(settings: Settings, contexts: Mapping[str, "ContextLoops"]) -> list[str]:
    """The groups `settings.worker_groups` names (every group when it names none), checked
    against those there are."""
    valid = [WEBHOOKS, *contexts]
    wanted = settings.worker_groups or valid
    unknown = [name for name in wanted if name not in valid]
    if unknown:
        raise UnknownGroups(unknown, valid)
    return [name for name in valid if name in wanted]


def outbound_client() -> httpx.AsyncClient:
    """The contexts' client for calls out (flow steps, connections): one pool, one TLS setup.
    With tracing on, each call carries the `traceparent` of the step that makes it."""
    limits = httpx.Limits(
        max_connections=256, max_keepalive_connections=64, keepalive_expiry=KEEPALIVE_SECONDS
    )
    return httpx.AsyncClient(
        follow_redirects=False, limits=limits, event_hooks=tracing.client_hooks()
    )


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
    db: Database, settings: Settings, contexts: Mapping[str, ContextLoops] | None = None
) -> AsyncIterator[Worker]:
    """Start the loops of the chosen groups (`chosen_groups`) of the platform's and
    `contexts`' (by group name); leaving the block stops them after their current step, or
    after the shutdown grace with their leases released (`Worker.shut_down`)."""
    contexts = contexts or {}
    groups = chosen_groups(settings, contexts)
    signer = await installation_signer(db)
    async with outbound_client() as http, db.listening():
        worker = Worker(db, poll_seconds=settings.worker_poll_seconds)
        loops: dict[str, Loop] = {}
        # Deliveries have their own lean client (ADR 0014); the contexts get httpx.
        poster = Poster()
        if WEBHOOKS in groups:
            # Endpoints may take any event type: every appended event may be the fan-out's.
            loops["fan-out"] = Loop(lambda: fan_out(db), (topics.EVENTS,))
            for number in range(settings.delivery_loops):
                deliverer = Deliverer(
                    db,
                    poster,
                    signer,
                    url_policy(settings),
                    delivery_settings(settings),
                    worker.name,
                )
                loops[f"deliveries-{number}"] = Loop(
                    deliverer.step, (topics.DELIVERIES,), deliverer.next_due
                )
        for group in groups:
            if group in contexts:
                loops.update(contexts[group](db, settings, worker.name, http))
        task = asyncio.create_task(worker.run(loops))
        try:
            yield worker
        finally:
            await worker.shut_down(task, settings.shutdown_grace_seconds)
            await poster.aclose()
