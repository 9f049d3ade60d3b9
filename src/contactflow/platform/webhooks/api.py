"""Routes of /webhooks: endpoints, secrets, the delivery log and the operator's levers."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from contactflow.platform.api_support import (
    ERROR_RESPONSES,
    DatabaseDep,
    SettingsDep,
    format_cursor,
    parse_cursor,
)
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import WEBHOOKS_READ, WEBHOOKS_WRITE
from contactflow.platform.clock import to_iso
from contactflow.platform.runtime import url_policy
from contactflow.platform.webhooks import service
from contactflow.platform.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from contactflow.platform.webhooks.schemas import (
    AttemptList,
    AttemptOut,
    Deleted,
    DeliveryEnvelope,
    DeliveryList,
    DeliveryOut,
    DeliveryState,
    EndpointCreate,
    EndpointCreated,
    EndpointEnvelope,
    EndpointList,
    EndpointOut,
    EndpointUpdate,
    PublicKey,
    RecoverBody,
    Recovered,
    SecretRotated,
)
from contactflow.platform.webhooks.signing import installation_signer

router = APIRouter(prefix="/webhooks", tags=["Webhooks"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, requires(WEBHOOKS_READ)]
Writer = Annotated[Principal, requires(WEBHOOKS_WRITE)]
EndpointId = Annotated[str, Path(alias="endpointId", min_length=1, max_length=64)]
DeliveryId = Annotated[str, Path(alias="deliveryId", min_length=1, max_length=64)]


def endpoint_out(row: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=row.id,
        location_id=row.location_id,
        url=row.url,
        description=row.description,
        event_types=row.event_types,
        enabled=row.enabled,
        ordered=row.ordered,
        disabled_reason=row.disabled_reason,
        failing_since=to_iso(row.failing_since),
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


def delivery_out(row: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=to_iso(row.next_attempt_at) if row.state == "pending" else None,
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_at=to_iso(row.delivered_at),
        created_at=to_iso(row.created_at),
    )


def attempt_out(row: WebhookAttempt) -> AttemptOut:
    return AttemptOut(
        id=row.id,
        attempted_at=to_iso(row.attempted_at),
        status_code=row.status_code,
        latency_ms=round(row.latency_ms, 3),
        response_headers=row.response_headers,
        response_body=row.response_body,
        error=row.error,
    )


@router.get("/public-key", response_model=PublicKey, summary="The x-ghl-signature key (public)")
async def public_key(request: Request) -> PublicKey:
    signer = await installation_signer(request.app.state.db)
    return PublicKey(public_key=signer.public_key_pem)


@router.post("", status_code=201, response_model=EndpointCreated, summary="Add an endpoint")
async def create_endpoint(
    body: EndpointCreate, caller: Writer, db: DatabaseDep, settings: SettingsDep
) -> EndpointCreated:
    async with db.unit_of_work() as uow:
        row = await service.create_endpoint(
            uow,
            caller.location_id,
            url_policy(settings),
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            enabled=body.enabled,
            ordered=body.ordered,
        )
        return EndpointCreated(endpoint=endpoint_out(row), secret=row.secret)


@router.get("", response_model=EndpointList, summary="List endpoints")
async def list_endpoints(caller: Reader, db: DatabaseDep) -> EndpointList:
    async with db.reader() as session:
        rows = await service.list_endpoints(session, caller.location_id)
        return EndpointList(endpoints=[endpoint_out(row) for row in rows])


@router.get("/{endpointId}", response_model=EndpointEnvelope, summary="Get an endpoint")
async def get_endpoint(
    endpoint_id: EndpointId, caller: Reader, db: DatabaseDep
) -> EndpointEnvelope:
    async with db.reader() as session:
        row = await service.find_endpoint(session, caller.location_id, endpoint_id)
        return EndpointEnvelope(endpoint=endpoint_out(row))


@router.put("/{endpointId}", response_model=EndpointEnvelope, summary="Change an endpoint")
async def update_endpoint(
    endpoint_id: EndpointId,
    body: EndpointUpdate,
    caller: Writer,
    db: DatabaseDep,
    settings: SettingsDep,
) -> EndpointEnvelope:
    async with db.unit_of_work() as uow:
        row = await service.update_endpoint(
            uow,
            caller.location_id,
            endpoint_id,
            url_policy(settings),
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            enabled=body.enabled,
            ordered=body.ordered,
        )
        return EndpointEnvelope(endpoint=endpoint_out(row))


@router.delete("/{endpointId}", response_model=Deleted, summary="Delete an endpoint")
async def delete_endpoint(endpoint_id: EndpointId, caller: Writer, db: DatabaseDep) -> Deleted:
    async with db.unit_of_work() as uow:
        await service.delete_endpoint(uow, caller.location_id, endpoint_id)
    return Deleted()


@router.post(
    "/{endpointId}/rotate-secret",
    response_model=SecretRotated,
    summary="New signing secret; the old one keeps signing during the overlap",
)
async def rotate_secret(
    endpoint_id: EndpointId, caller: Writer, db: DatabaseDep, settings: SettingsDep
) -> SecretRotated:
    overlap = timedelta(hours=settings.webhook_secret_overlap_hours)
    async with db.unit_of_work() as uow:
        row = await service.rotate_secret(uow, caller.location_id, endpoint_id, overlap)
        assert row.previous_secret_expires_at is not None
        return SecretRotated(
            secret=row.secret, previous_secret_expires_at=to_iso(row.previous_secret_expires_at)
        )


@router.get("/{endpointId}/deliveries", response_model=DeliveryList, summary="The delivery log")
async def list_deliveries(
    endpoint_id: EndpointId,
    caller: Reader,
    db: DatabaseDep,
    state: DeliveryState | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> DeliveryList:
    async with db.reader() as session:
        rows = await service.list_deliveries(
            session,
            caller.location_id,
            endpoint_id,
            limit=limit,
            state=state,
            before=parse_cursor(cursor),
        )
    last = rows[-1] if len(rows) == limit else None
    return DeliveryList(
        deliveries=[delivery_out(row) for row in rows],
        next_cursor=format_cursor(last.created_at, last.id) if last else None,
    )


@router.get(
    "/{endpointId}/deliveries/{deliveryId}/attempts",
    response_model=AttemptList,
    summary="Every attempt of one delivery",
)
async def list_attempts(
    endpoint_id: EndpointId, delivery_id: DeliveryId, caller: Reader, db: DatabaseDep
) -> AttemptList:
    async with db.reader() as session:
        rows = await service.attempts_of(session, caller.location_id, endpoint_id, delivery_id)
        return AttemptList(attempts=[attempt_out(row) for row in rows])


@router.post(
    "/{endpointId}/deliveries/{deliveryId}/resend",
    status_code=202,
    response_model=DeliveryEnvelope,
    summary="Send one delivery again",
)
async def resend(
    endpoint_id: EndpointId, delivery_id: DeliveryId, caller: Writer, db: DatabaseDep
) -> DeliveryEnvelope:
    async with db.unit_of_work() as uow:
        row = await service.resend(uow, caller.location_id, endpoint_id, delivery_id)
        return DeliveryEnvelope(delivery=delivery_out(row))


@router.post(
    "/{endpointId}/recover",
    response_model=Recovered,
    summary="Send again everything that failed since a time",
)
async def recover(
    endpoint_id: EndpointId, body: RecoverBody, caller: Writer, db: DatabaseDep
) -> Recovered:
    async with db.unit_of_work() as uow:
        count = await service.recover(uow, caller.location_id, endpoint_id, body.since)
    return Recovered(requeued=count)


@router.post(
    "/{endpointId}/test",
    status_code=202,
    response_model=DeliveryEnvelope,
    summary="Send a test event to this endpoint",
)
async def send_test(endpoint_id: EndpointId, caller: Writer, db: DatabaseDep) -> DeliveryEnvelope:
    async with db.unit_of_work() as uow:
        row = await service.send_test(uow, caller.location_id, endpoint_id)
        return DeliveryEnvelope(delivery=delivery_out(row))
