"""Webhook tables: endpoints, one delivery per (endpoint, event), one row per attempt."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform.clock import utcnow
from contactflow.platform.crypto import EncryptedText
from contactflow.platform.db import Base, UTCDateTime
from contactflow.platform.event_types import PICKED_ONLY
from contactflow.platform.ids import new_id

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    # Empty means every event type, but those delivered only when picked (PICKED_ONLY).
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Deliveries about one subject (a contact) go out in sequence unless this is off.
    ordered: Mapped[bool] = mapped_column(Boolean, default=True)
    # Encrypted at rest: receivers verify with them, so they must be recoverable.
    secret: Mapped[str] = mapped_column(EncryptedText)
    previous_secret: Mapped[str | None] = mapped_column(EncryptedText)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The location's last event seq when the endpoint was made: it gets the events after it
    # only, however far behind the fan-out was then.
    starts_after: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    def wants(self, event_type: str, seq: int) -> bool:
        if seq <= self.starts_after:
            return False
        if event_type in PICKED_ONLY:
            return event_type in self.event_types
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    location_id: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    ordered: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index(None, "state", "next_attempt_at"),
        # With state before seq, whether an earlier delivery of a key is pending is one probe,
        # however many of the key's deliveries are done: the claim asks it of every pending one.
        Index(None, "endpoint_id", "ordering_key", "state", "seq"),
        Index(None, "endpoint_id", "created_at", "id"),
    )


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    response_headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The first 4 KiB of the receiver's answer.
    response_body: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)


class SigningKey(Base):
    """The installation's Ed25519 key pair for `x-ghl-signature`."""

    __tablename__ = "signing_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    private_key: Mapped[str] = mapped_column(EncryptedText)
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
