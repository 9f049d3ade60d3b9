"""Delivery: claim due deliveries, POST them signed, record every attempt, decide what next.

Success is any 2xx. Network errors, timeouts, 429 and 5xx are retried on the schedule
(honouring Retry-After); 410 Gone disables the endpoint at once; other answers fail the
delivery, which stays available to resend. An endpoint that keeps failing for the configured
time (5 days) is disabled, with an event saying so.
"""

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy import Select, and_, bindparam, exists, insert, or_, select, update
from sqlalchemy.orm import aliased

from contactflow.platform import activity, events, issues, tracing
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database, UnitOfWork, UTCDateTime
from contactflow.platform.event_types import WEBHOOK_ENDPOINT_DISABLED
from contactflow.platform.events import Event, delivered_payload
from contactflow.platform.ids import new_id
from contactflow.platform.jobs import RetrySchedule, claim, lease_free, next_due_at
from contactflow.platform.webhooks.models import (
    FAILED,
    PENDING,
    SUCCEEDED,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from contactflow.platform.webhooks.signing import Ed25519Signer, standard_signatures
from contactflow.platform.webhooks.ssrf import UnsafeUrl, UrlPolicy
from contactflow.platform.webhooks.transport import Poster, TransportError

RESPONSE_BODY_LIMIT = 4096
USER_AGENT = "contactflow-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    status: int | None
    latency_ms: float
    headers: dict[str, str]
    body: str
    error: str | None
    retry_after: float | None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        if self.status is None:
            return self.error is not None and not self.error.startswith("refused")
        return self.status == 429 or self.status >= 500


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class DeliverySettings:
    schedule: RetrySchedule
    lease: timedelta
    batch_size: int
    disable_after: timedelta
    timeout_seconds: float


def _due(limit: int) -> Select[WebhookDelivery]:
    """Due deliveries no earlier pending one holds back, oldest first. The time is the bound
    parameter `now`, so that a Deliverer builds this once: building it costs about a
    millisecond of CPU (the aliased columns are adapted anew each time), more than running it."""
    now = bindparam("now", type_=UTCDateTime())
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.ordering_key == WebhookDelivery.ordering_key,
        earlier.state == PENDING,
        earlier.seq < WebhookDelivery.seq,
    )
    return (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.state == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            lease_free(WebhookDelivery.lease_expires_at, now),
            or_(WebhookDelivery.ordered.is_(False), ~blocked),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.seq)
        .limit(limit)
    )


class Deliverer:
    def __init__(
        self,
        db: Database,
        poster: Poster,
        signer: Ed25519Signer,
        policy: UrlPolicy,
        settings: DeliverySettings,
        owner: str,
    ) -> None:
        self.db = db
        self.poster = poster
        self.signer = signer
        self.policy = policy
        self.settings = settings
        self.owner = owner
        self._due = _due(settings.batch_size)

    async def step(self) -> bool:
        """Claim a batch, send it concurrently, record the outcomes. True if it sent any."""
        async with self.db.unit_of_work() as uow:
            claimed: list[WebhookDelivery] = await claim(
                uow,
                self._due,
                owner=self.owner,
                lease=self.settings.lease,
                params={"now": utcnow()},
            )
            if not claimed:
                return False
            endpoints = {
                row.id: row
                for row in await uow.session.scalars(
                    select(WebhookEndpoint).where(
                        WebhookEndpoint.id.in_({d.endpoint_id for d in claimed})
                    )
                )
            }
            found = {
                row.id: row
                for row in await uow.session.scalars(
                    select(Event).where(Event.id.in_({d.event_id for d in claimed}))
                )
            }
        bodies = {event_id: _Body.of(event, self.signer) for event_id, event in found.items()}
        outcomes = await asyncio.gather(
            *(self._send(d, endpoints[d.endpoint_id], bodies[d.event_id]) for d in claimed)
        )
        async with self.db.unit_of_work() as uow:
            await self._record(uow, claimed, outcomes)
        return True

    async def next_due(self, after: datetime) -> datetime | None:
        """When the first delivery waiting for its retry falls due after `after`."""
        return await next_due_at(
            self.db, WebhookDelivery.next_attempt_at, WebhookDelivery.state, [PENDING], after
        )

    async def _send(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, body: "_Body"
    ) -> Outcome:
        """One attempt, a span of its own (the URL is left out: it may hold a token)."""
        attributes: tracing.Attributes = {
            tracing.LOCATION: delivery.location_id,
            "contactflow.webhook.endpoint.id": endpoint.id,
            "contactflow.webhook.delivery.id": delivery.id,
            "contactflow.event.id": body.event_id,
            "contactflow.webhook.attempt": delivery.attempts + 1,
        }
        with tracing.span("webhook delivery", attributes, "client") as span:
            outcome = await self._attempt(endpoint, body)
            span.set("http.response.status_code", outcome.status)
            if not outcome.succeeded:
                span.fail(
                    str(outcome.status) if outcome.error is None else outcome.error.split(":")[0]
                )
            return outcome

    async def _attempt(self, endpoint: WebhookEndpoint, body: "_Body") -> Outcome:
        if not endpoint.enabled:
            return Outcome(None, 0.0, {}, "", "refused: endpoint is disabled", None)
        try:
            await self.policy.check(endpoint.url)
        except UnsafeUrl as error:
            return Outcome(None, 0.0, {}, "", f"refused: {error}", None)
        timestamp = int(time.time())
        secrets_ = [endpoint.secret]
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret and expires is not None and expires > utcnow():
            secrets_.append(endpoint.previous_secret)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": body.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_signatures(
                secrets_, body.event_id, timestamp, body.content
            ),
            "x-ghl-signature": body.ed25519,
        }
        tracing.inject(headers)
        started = time.perf_counter()
        try:
            answer = await self.poster.post(
                endpoint.url, body.content, headers, self.settings.timeout_seconds
            )
        except TransportError as error:
            latency = (time.perf_counter() - started) * 1000
            return Outcome(None, latency, {}, "", f"{type(error).__name__}: {error}", None)
        latency = (time.perf_counter() - started) * 1000
        return Outcome(
            status=answer.status,
            latency_ms=latency,
            headers=answer.headers,
            body=answer.body.decode("utf-8", "replace")[:RESPONSE_BODY_LIMIT],
            error=None,
            retry_after=_retry_after(answer.headers.get("retry-after")),
        )

    async def _record(
        self, uow: UnitOfWork, claimed: list[WebhookDelivery], outcomes: list[Outcome]
    ) -> None:
        """One transaction for the batch: an attempt row each, one statement for the
        deliveries that succeeded with the same status, and the rest one by one."""
        still_ours = select(WebhookDelivery.id).where(
            WebhookDelivery.id.in_([d.id for d in claimed]),
            WebhookDelivery.lease_owner == self.owner,
        )
        if uow.dialect == "postgresql":
            still_ours = still_ours.with_for_update()
        # Deleted, or our lease expired and another worker took the delivery over: the
        # attempt is not ours to record.
        ours = set(await uow.session.scalars(still_ours))
        results = [(d, o) for d, o in zip(claimed, outcomes, strict=True) if d.id in ours]
        if not results:
            return
        now = utcnow()
        for delivery, outcome in results:
            kind = activity.DELIVERY_SUCCEEDED if outcome.succeeded else activity.DELIVERY_FAILED
            activity.tally(uow, delivery.location_id, kind)
        await uow.session.execute(
            insert(WebhookAttempt),
            [
                {
                    "id": new_id(),
                    "delivery_id": delivery.id,
                    "attempted_at": now,
                    "status_code": outcome.status,
                    "latency_ms": outcome.latency_ms,
                    "response_headers": outcome.headers,
                    "response_body": outcome.body,
                    "error": outcome.error,
                }
                for delivery, outcome in results
            ],
        )
        endpoints = await _lock_endpoints(uow, results)
        succeeded: dict[int, list[str]] = {}
        for delivery, outcome in results:
            if outcome.succeeded and outcome.status is not None:
                succeeded.setdefault(outcome.status, []).append(delivery.id)
        for status, ids in succeeded.items():
            await uow.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids))
                .values(
                    state=SUCCEEDED,
                    delivered_at=now,
                    attempts=WebhookDelivery.attempts + 1,
                    last_status=status,
                    last_error=None,
                    lease_owner=None,
                    lease_expires_at=None,
                )
                .execution_options(synchronize_session=False)
            )
        recovered = {d.endpoint_id for d, o in results if o.succeeded}
        for endpoint_id in recovered:
            if endpoint_id in endpoints:
                endpoints[endpoint_id].failing_since = None
        await issues.record_successes(uow, issues.WEBHOOK_ENDPOINT, recovered)
        failed = [(d.id, o) for d, o in results if not o.succeeded]
        if failed:
            await self._record_failures(uow, failed, endpoints, now)

    async def _record_failures(
        self,
        uow: UnitOfWork,
        failed: list[tuple[str, Outcome]],
        endpoints: dict[str, WebhookEndpoint],
        now: datetime,
    ) -> None:
        current = {
            row.id: row
            for row in await uow.session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.id.in_([i for i, _ in failed]))
            )
        }
        for delivery_id, outcome in failed:
            delivery = current[delivery_id]
            await self._record_failure(uow, delivery, endpoints[delivery.endpoint_id], outcome, now)

    async def _record_failure(
        self,
        uow: UnitOfWork,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        outcome: Outcome,
        now: datetime,
    ) -> None:
        delivery.attempts += 1
        delivery.last_status = outcome.status
        delivery.last_error = outcome.error
        delivery.lease_owner = None
        delivery.lease_expires_at = None
        delay = (
            self.settings.schedule.decide(delivery.attempts, outcome.retry_after)
            if outcome.retryable
            else None
        )
        if delay is None:
            delivery.state = FAILED
        else:
            delivery.next_attempt_at = now + timedelta(seconds=delay)
        await issues.record_failure(
            uow,
            endpoint.location_id,
            issues.WEBHOOK_ENDPOINT,
            endpoint.id,
            subject=endpoint.url,
            record=issues.DELIVERY,
            record_id=delivery.id,
            error=_described(outcome),
        )
        if outcome.status == 410:
            await _disable(uow, endpoint, "the endpoint answered 410 Gone")
            return
        if endpoint.failing_since is None:
            endpoint.failing_since = now
        elif now - endpoint.failing_since >= self.settings.disable_after:
            hours = self.settings.disable_after.total_seconds() / 3600
            await _disable(uow, endpoint, f"failing continuously for {hours:g} hours")


async def _lock_endpoints(
    uow: UnitOfWork, results: list[tuple[WebhookDelivery, Outcome]]
) -> dict[str, WebhookEndpoint]:
    """The endpoints whose rows the batch writes: those it failed on, and those that were
    failing and it succeeded on. Locked first, in one order: a failure writes its issue and
    then its endpoint, a recovery its endpoint and then its issue, and two workers doing one
    each deadlocked (the batch's record rolled back, and it was sent again)."""
    failed = {d.endpoint_id for d, o in results if not o.succeeded}
    succeeded = {d.endpoint_id for d, o in results if o.succeeded} - failed
    query = (
        select(WebhookEndpoint)
        .where(
            or_(
                WebhookEndpoint.id.in_(failed),
                and_(
                    WebhookEndpoint.id.in_(succeeded),
                    WebhookEndpoint.failing_since.is_not(None),
                ),
            )
        )
        .order_by(WebhookEndpoint.id)
    )
    if uow.dialect == "postgresql":
        query = query.with_for_update()
    return {row.id: row for row in await uow.session.scalars(query)}


def _described(outcome: Outcome) -> str:
    if outcome.error is not None:
        return outcome.error
    return f"answered {outcome.status}: {outcome.body[:200]}".rstrip(": ")


@dataclass(frozen=True)
class _Body:
    """An event as every endpoint gets it: the same bytes, so one Ed25519 signature."""

    event_id: str
    content: bytes
    ed25519: str

    @classmethod
    def of(cls, event: Event, signer: Ed25519Signer) -> "_Body":
        content = json.dumps(delivered_payload(event), separators=(",", ":")).encode()
        return cls(event.id, content, signer.sign(content))


async def _disable(uow: UnitOfWork, endpoint: WebhookEndpoint, reason: str) -> None:
    if not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.updated_at = utcnow()
    await events.append(
        uow,
        endpoint.location_id,
        WEBHOOK_ENDPOINT_DISABLED,
        {
            "type": WEBHOOK_ENDPOINT_DISABLED,
            "locationId": endpoint.location_id,
            "endpointId": endpoint.id,
            "url": endpoint.url,
            "reason": reason,
        },
        subject_id=endpoint.id,
    )
