"""Endpoint management and the operator's levers: rotate, resend, recover, test."""

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform import events, topics
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound, invalid
from contactflow.platform.event_types import EVENT_TYPES, WEBHOOK_TEST
from contactflow.platform.webhooks.models import (
    FAILED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from contactflow.platform.webhooks.signing import new_secret
from contactflow.platform.webhooks.ssrf import UnsafeUrl, UrlPolicy


def _check_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - EVENT_TYPES)
    if unknown:
        raise invalid("eventTypes", f"unknown event types {unknown}; see the events docs")
    return sorted(set(event_types))


async def _check_url(policy: UrlPolicy, url: str) -> str:
    try:
        await policy.check(url)
    except UnsafeUrl as error:
        raise invalid("url", str(error).removeprefix("url: ")) from error
    return url


async def _last_seq(uow: UnitOfWork, location_id: str) -> int:
    """The location's last event: an endpoint made or enabled now is sent only what follows."""
    stream = await uow.session.get(events.EventStream, location_id)
    return stream.last_seq if stream is not None else 0


async def create_endpoint(
    uow: UnitOfWork,
    location_id: str,
    policy: UrlPolicy,
    *,
    url: str,
    event_types: list[str],
    description: str,
    enabled: bool,
    ordered: bool,
) -> WebhookEndpoint:
    now = utcnow()
    endpoint = WebhookEndpoint(
        location_id=location_id,
        starts_after=await _last_seq(uow, location_id),
        url=await _check_url(policy, url),
        event_types=_check_types(event_types),
        description=description,
        enabled=enabled,
        ordered=ordered,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    uow.session.add(endpoint)
    await uow.session.flush()
    return endpoint


async def find_endpoint(
    session: AsyncSession, location_id: str, endpoint_id: str
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.location_id == location_id
        )
    )
    if endpoint is None:
        raise NotFound("Webhook endpoint not found")
    return endpoint


async def list_endpoints(session: AsyncSession, location_id: str) -> list[WebhookEndpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.location_id == location_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return list(rows)


async def update_endpoint(
    uow: UnitOfWork,
    location_id: str,
    endpoint_id: str,
    policy: UrlPolicy,
    *,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    ordered: bool | None = None,
) -> WebhookEndpoint:
    endpoint = await find_endpoint(uow.session, location_id, endpoint_id)
    if url is not None:
        endpoint.url = await _check_url(policy, url)
    if event_types is not None:
        endpoint.event_types = _check_types(event_types)
    if description is not None:
        endpoint.description = description
    if ordered is not None:
        endpoint.ordered = ordered
    if enabled is not None:
        if enabled and not endpoint.enabled:
            # As when it was created: what happened while it was disabled is not sent.
            endpoint.starts_after = await _last_seq(uow, location_id)
        endpoint.enabled = enabled
        if enabled:
            endpoint.disabled_reason = None
            endpoint.failing_since = None
    endpoint.updated_at = utcnow()
    await uow.session.flush()
    return endpoint


async def delete_endpoint(uow: UnitOfWork, location_id: str, endpoint_id: str) -> None:
    endpoint = await find_endpoint(uow.session, location_id, endpoint_id)
    await uow.session.delete(endpoint)


async def rotate_secret(
    uow: UnitOfWork, location_id: str, endpoint_id: str, overlap: timedelta
) -> WebhookEndpoint:
    """A new secret signs from now on; the old one signs too until the overlap ends."""
    endpoint = await find_endpoint(uow.session, location_id, endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = utcnow() + overlap
    endpoint.secret = new_secret()
    endpoint.updated_at = utcnow()
    return endpoint


async def list_deliveries(
    session: AsyncSession,
    location_id: str,
    endpoint_id: str,
    *,
    limit: int,
    state: str | None,
    before: tuple[datetime, str] | None,
) -> list[WebhookDelivery]:
    """Newest first, keyset paged by (createdAt, id)."""
    await find_endpoint(session, location_id, endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    if before is not None:
        created, last_id = before
        query = query.where(
            (WebhookDelivery.created_at < created)
            | ((WebhookDelivery.created_at == created) & (WebhookDelivery.id < last_id))
        )
    order = (WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    return list(await session.scalars(query.order_by(*order).limit(limit)))


async def find_delivery(
    session: AsyncSession, location_id: str, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    await find_endpoint(session, location_id, endpoint_id)
    delivery = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
        )
    )
    if delivery is None:
        raise NotFound("Delivery not found")
    return delivery


async def attempts_of(
    session: AsyncSession, location_id: str, endpoint_id: str, delivery_id: str
) -> list[WebhookAttempt]:
    await find_delivery(session, location_id, endpoint_id, delivery_id)
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    )
    return list(rows)


def _requeue(delivery: WebhookDelivery) -> None:
    delivery.state = PENDING
    delivery.next_attempt_at = utcnow()
    delivery.lease_owner = None
    delivery.lease_expires_at = None


async def resend(
    uow: UnitOfWork, location_id: str, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    """Send a delivery again now, whatever its state (the receiver de-duplicates by id)."""
    delivery = await find_delivery(uow.session, location_id, endpoint_id, delivery_id)
    _requeue(delivery)
    uow.wake(topics.DELIVERIES)
    return delivery


async def recover(uow: UnitOfWork, location_id: str, endpoint_id: str, since: datetime) -> int:
    """Queue again every delivery to this endpoint that failed since `since`."""
    await find_endpoint(uow.session, location_id, endpoint_id)
    result = await uow.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.state == FAILED,
            WebhookDelivery.created_at >= since,
        )
        .values(state=PENDING, next_attempt_at=utcnow(), lease_owner=None, lease_expires_at=None)
    )
    uow.wake(topics.DELIVERIES)
    return int(getattr(result, "rowcount", 0) or 0)


async def send_test(uow: UnitOfWork, location_id: str, endpoint_id: str) -> WebhookDelivery:
    """A WebhookTest event for this endpoint only (fan-out skips test events)."""
    endpoint = await find_endpoint(uow.session, location_id, endpoint_id)
    event = await events.append(
        uow,
        location_id,
        WEBHOOK_TEST,
        {"type": WEBHOOK_TEST, "locationId": location_id, "endpointId": endpoint.id},
        subject_id=endpoint.id,
    )
    await events.write_pending(uow)  # the delivery refers to the event and its number
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        event_id=event.id,
        location_id=location_id,
        event_type=WEBHOOK_TEST,
        ordering_key=event.id,
        seq=event.seq,
        ordered=False,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    uow.session.add(delivery)
    await uow.session.flush()
    uow.wake(topics.DELIVERIES)
    return delivery
