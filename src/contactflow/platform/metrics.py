"""Prometheus metrics of one process, served on /metrics (platform/health.py).

Requests are timed by a pure ASGI middleware, labelled by route template (never the raw path,
whose ids would make a series per contact). What the database knows (work items due and
leased, how far each event-log consumer is behind) is read at scrape time in one read of
indexed counts; what the process knows (outcomes, rate-limit refusals, pool use, worker
heartbeats) is read from memory. A scrape never fails for the database: its values are left
out and `contactflow_database_up` says 0.
"""

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactflow.platform.activity import OUTCOMES
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.events import ConsumerCursor, EventStream
from contactflow.platform.jobs import Worker, lease_free
from contactflow.platform.ratelimit import RateLimiter

log = logging.getLogger("contactflow.metrics")
# A `_created` series beside each counter and histogram doubles what is scraped for nothing
# a rate() needs.
disable_created_metrics()  # type: ignore[no-untyped-call]
# A request no route matched (404s, probes): one label for all of them.
UNMATCHED = "(unmatched)"
# Methods labelled as themselves; any other a client sends is "other", so that made-up
# methods cannot add series without end.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# How long a scrape waits for the database before leaving its values out.
DATABASE_SECONDS = 5.0


@dataclass(frozen=True)
class WorkQueue:
    """A table of leased work items, as the metrics count it: rows in one of `states` whose
    `due_at` has come and whose lease is free are due; rows whose lease runs are leased. The
    tables index (state, due time), so each count is an index range."""

    kind: str
    state: InstrumentedAttribute[Any]
    states: Sequence[str]
    due_at: InstrumentedAttribute[datetime]
    lease_expires_at: InstrumentedAttribute[datetime | None]

    def due(self, now: datetime) -> ColumnElement[bool]:
        return (
            self.state.in_(self.states)
            & (self.due_at <= now)
            & lease_free(self.lease_expires_at, now)
        )

    def leased(self, now: datetime) -> ColumnElement[bool]:
        return self.state.in_(self.states) & (self.lease_expires_at >= now)


@dataclass
class DatabaseFigures:
    due: dict[str, int]
    leased: dict[str, int]
    lag: dict[str, int]


class RequestMetrics:
    """Times each HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, *, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram
        # Children by labels: labels() validates and locks on every call.
        self._children: dict[tuple[str, str, int], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer = StatusWatch(send)
        try:
            await self.app(scope, receive, answer)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            status = answer.status
            labels = (method, route_template(scope), status)
            child = self._children.get(labels)
            if child is None:
                child = self._children[labels] = self.histogram.labels(
                    labels[0], labels[1], str(status)
                )
            child.observe(time.perf_counter() - started)


class StatusWatch:
    """A `send` that passes every message on and keeps the status of the answer: 500 until
    one starts (an exception that no layer turned into an answer)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


def route_template(scope: Scope) -> str:
    """The matched route's path template; under a mount (static files), the mount's path."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    mount = scope.get("root_path")
    return f"{mount}/{{path}}" if mount else UNMATCHED


@dataclass
class Metrics:
    """One process's registry: its requests, and what is read at each scrape."""

    db: Database
    queues: Sequence[WorkQueue] = ()
    rate_limiter: RateLimiter | None = None
    # The process's running worker, while it runs one (set by whoever starts it).
    worker: Worker | None = None
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Histogram(
            "contactflow_http_request_duration_seconds",
            "Time to answer HTTP requests, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.registry.register(OUTCOMES)
        self._scraped = _Scraped(self)
        self.registry.register(self._scraped)

    async def exposition(self) -> bytes:
        """The text format of every metric, the database's read now."""
        try:
            async with asyncio.timeout(DATABASE_SECONDS):
                self._scraped.figures = await self.db.scan(self._read_database)
        except Exception as error:  # the scrape goes on without them
            log.warning("metrics: database figures not read: %s", type(error).__name__)
            self._scraped.figures = None
        return generate_latest(self.registry)

    def _read_database(self, connection: Connection) -> DatabaseFigures:
        now = utcnow()
        due, leased = {}, {}
        for queue in self.queues:
            due[queue.kind] = connection.scalar(select(func.count()).where(queue.due(now))) or 0
            leased[queue.kind] = (
                connection.scalar(select(func.count()).where(queue.leased(now))) or 0
            )
        behind = (
            select(
                ConsumerCursor.consumer,
                func.sum(EventStream.last_seq - ConsumerCursor.position),
            )
            .join(EventStream, EventStream.location_id == ConsumerCursor.location_id)
            .group_by(ConsumerCursor.consumer)
        )
        lag: dict[str, int] = {}
        for consumer, events in connection.execute(behind):
            # A consumer per flow version or sync ("sync:<id>"): one series per kind, the
            # furthest behind of them.
            kind = consumer.split(":", 1)[0]
            lag[kind] = max(lag.get(kind, 0), int(events or 0))
        return DatabaseFigures(due, leased, lag)


class _Scraped(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.figures: DatabaseFigures | None = None

    def collect(self) -> Iterable[Metric]:
        yield from self._database()
        yield from self._pools()
        yield from self._refusals()
        yield from self._heartbeats()

    def _database(self) -> Iterator[Metric]:
        figures = self.figures
        up = GaugeMetricFamily(
            "contactflow_database_up", "1 when this scrape read the database's figures."
        )
        up.add_metric([], 0 if figures is None else 1)
        yield up
        if figures is None:
            return
        due = GaugeMetricFamily(
            "contactflow_work_items_due",
            "Work items due and waiting for a worker.",
            labels=["kind"],
        )
        leased = GaugeMetricFamily(
            "contactflow_work_items_leased", "Work items a worker holds now.", labels=["kind"]
        )
        for kind, count in figures.due.items():
            due.add_metric([kind], count)
        for kind, count in figures.leased.items():
            leased.add_metric([kind], count)
        lag = GaugeMetricFamily(
            "contactflow_event_consumer_lag_events",
            "Events of the log not yet read, per consumer (the furthest behind of its kind). "
            "A consumer passes over the events it has no use for a stride at a time (1,000), "
            "so where it has nothing to do it may show up to that many.",
            labels=["consumer"],
        )
        for consumer, events in sorted(figures.lag.items()):
            lag.add_metric([consumer], events)
        yield from (due, leased, lag)

    def _pools(self) -> Iterator[Metric]:
        pool = self.metrics.db.engine.pool
        if not isinstance(pool, QueuePool):
            return
        in_use = GaugeMetricFamily(
            "contactflow_db_pool_connections_in_use", "Database connections checked out."
        )
        in_use.add_metric([], pool.checkedout())
        size = GaugeMetricFamily(
            "contactflow_db_pool_size", "Database connections the pool keeps (overflow aside)."
        )
        size.add_metric([], pool.size())
        yield from (in_use, size)

    def _refusals(self) -> Iterator[Metric]:
        limiter = self.metrics.rate_limiter
        if limiter is None:
            return
        refused = CounterMetricFamily(
            "contactflow_rate_limit_refusals",
            "Requests refused (429) for their app's rate limits, by limit.",
            labels=["limit"],
        )
        for limit in ("burst", "daily"):
            refused.add_metric([limit], limiter.refusals[limit])
        yield refused

    def _heartbeats(self) -> Iterator[Metric]:
        worker = self.metrics.worker
        if worker is None:
            return
        age = GaugeMetricFamily(
            "contactflow_worker_loop_heartbeat_age_seconds",
            "Seconds since each worker loop last came round.",
            labels=["loop"],
        )
        now = time.monotonic()
        for loop, beat in sorted(worker.beats.items()):
            age.add_metric([loop], now - beat)
        yield age
