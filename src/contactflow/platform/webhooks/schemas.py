"""Wire models of the /webhooks API."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from contactflow.platform.wire import RequestModel as Request
from contactflow.platform.wire import WireModel as Wire

EventTypeName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048, strip_whitespace=True)]
Description = Annotated[str, StringConstraints(max_length=500)]
DeliveryState = Literal["pending", "succeeded", "failed"]


class EndpointCreate(Request):
    url: Url
    event_types: Annotated[list[EventTypeName], Field(max_length=100)] = []
    description: Description = ""
    enabled: bool = True
    ordered: bool = True


class EndpointUpdate(Request):
    url: Url | None = None
    event_types: Annotated[list[EventTypeName], Field(max_length=100)] | None = None
    description: Description | None = None
    enabled: bool | None = None
    ordered: bool | None = None


class EndpointOut(Wire):
    id: str
    location_id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    ordered: bool
    disabled_reason: str | None
    failing_since: str | None
    created_at: str
    updated_at: str


class EndpointCreated(Wire):
    endpoint: EndpointOut
    secret: str


class EndpointEnvelope(Wire):
    endpoint: EndpointOut


class EndpointList(Wire):
    endpoints: list[EndpointOut]


class SecretRotated(Wire):
    secret: str
    previous_secret_expires_at: str


class DeliveryOut(Wire):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    state: str
    attempts: int
    next_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    delivered_at: str | None
    created_at: str


class DeliveryEnvelope(Wire):
    delivery: DeliveryOut


class DeliveryList(Wire):
    deliveries: list[DeliveryOut]
    next_cursor: str | None


class AttemptOut(Wire):
    id: str
    attempted_at: str
    status_code: int | None
    latency_ms: float
    response_headers: dict[str, Any]
    response_body: str
    error: str | None


class AttemptList(Wire):
    attempts: list[AttemptOut]


class RecoverBody(Request):
    since: datetime


class Recovered(Wire):
    requeued: int


class PublicKey(Wire):
    algorithm: str = "Ed25519"
    header: str = "x-ghl-signature"
    public_key: str


class Deleted(Wire):
    succeeded: bool = True
