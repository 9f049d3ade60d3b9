"""The work a process runs beside its requests: the contexts' background loops by group, the
retention rules, the leased work queues that /metrics counts, and a process's health and
metrics view. API and worker processes both start from here; only the API builds routes."""

from datetime import timedelta

import httpx

from contactflow.flows import retention as flows_retention
from contactflow.flows.engine import worker_loops as flows_worker_loops
from contactflow.flows.models import DUE_STATES, FlowRun
from contactflow.mailsuite import enrolment
from contactflow.mailsuite.models import SCHEDULED, SENDING, Email
from contactflow.mailsuite.worker import worker_loops as mailsuite_worker_loops
from contactflow.platform.db import Database
from contactflow.platform.event_retention import EventLogRule
from contactflow.platform.health import Operations
from contactflow.platform.jobs import Loop
from contactflow.platform.metrics import Metrics, WorkQueue
from contactflow.platform.ratelimit import RateLimiter
from contactflow.platform.retention import RetentionLoop, Rule, platform_rules
from contactflow.platform.runtime import ContextLoops
from contactflow.platform.webhooks import dispatch
from contactflow.platform.webhooks.models import PENDING, WebhookDelivery
from contactflow.settings import Settings
from contactflow.sync.worker import worker_loops as sync_worker_loops

# The event log's consumers that read every location (the others each read one location's).
EVERY_LOCATION_CONSUMERS = (dispatch.CONSUMER, enrolment.CONSUMER)


def retention_rules(settings: Settings) -> list[Rule]:
    """What is deleted by policy, in order: the work items and keys first, then the events
    that no delivery refers to any more (docs/operations.md, ADR 0028)."""
    events = EventLogRule(
        timedelta(days=settings.event_retention_days),
        EVERY_LOCATION_CONSUMERS,
        settings.event_archive_dir,
    )
    return [*platform_rules(settings), *flows_retention.rules(settings), events]


def retention_loops(
    db: Database, settings: Settings, owner: str, http: httpx.AsyncClient
) -> dict[str, Loop]:
    sweep = timedelta(seconds=settings.retention_sweep_seconds)
    return {"retention": Loop(RetentionLoop(db, retention_rules(settings), sweep).step)}


# The contexts' background loops by group name, run beside the platform's by every worker
# (`contactflow worker --only` names the groups to run).
CONTEXT_WORKERS: dict[str, ContextLoops] = {
    "flows": flows_worker_loops,
    "mail": mailsuite_worker_loops,
    "sync": sync_worker_loops,
    "retention": retention_loops,
}

# The tables of leased work items, whose due and leased rows /metrics counts.
WORK_QUEUES = (
    WorkQueue(
        "webhook_delivery",
        WebhookDelivery.state,
        (PENDING,),
        WebhookDelivery.next_attempt_at,
        WebhookDelivery.lease_expires_at,
    ),
    WorkQueue(
        "flow_run", FlowRun.state, DUE_STATES, FlowRun.next_attempt_at, FlowRun.lease_expires_at
    ),
    WorkQueue(
        "email", Email.status, (SCHEDULED, SENDING), Email.next_attempt_at, Email.lease_expires_at
    ),
)


def operations(
    db: Database, settings: Settings, rate_limiter: RateLimiter | None = None
) -> Operations:
    """A process's /livez, /readyz and /metrics over `db`."""
    metrics = Metrics(db, WORK_QUEUES, rate_limiter)
    return Operations(db, metrics, settings.worker_stale_seconds)
