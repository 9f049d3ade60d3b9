"""Tables of connections: how flows reach a Contacts API, the Mailsuite or any HTTP service,
with their secrets encrypted at rest, and the receipts that make remote events count once.

One `secret` column holds whichever secret the auth kind has (an API key, a bearer token, a
basic-auth password, a header's value, an OAuth app's client secret); the OAuth tokens and
the PKCE verifier of a pending authorization have their own.
"""

from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform.clock import utcnow
from contactflow.platform.crypto import EncryptedText
from contactflow.platform.db import Base, UTCDateTime
from contactflow.platform.ids import new_id

Kind = Literal["contacts", "mailsuite", "http"]
AuthKind = Literal["local", "apiKey", "oauth", "bearer", "basic", "header", "none"]
LOCAL: Final = "local"
OAUTH: Final = "oauth"
REMOTE_PREFIX: Final = "remote:"


def remote_origin(connection_id: str) -> str:
    """The origin of the events a connection brings in from a remote account."""
    return f"{REMOTE_PREFIX}{connection_id}"


class Connection(Base):
    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[Kind] = mapped_column(String(16))
    auth: Mapped[AuthKind] = mapped_column(String(16))
    # Where the calls go; None for the local workspace, reached in process.
    base_url: Mapped[str | None] = mapped_column(String(2048))
    # The remote location the calls act on (HighLevel's APIs take it as `locationId`).
    remote_location_id: Mapped[str | None] = mapped_column(String(64))
    secret: Mapped[str | None] = mapped_column(EncryptedText)
    username: Mapped[str | None] = mapped_column(String(255))
    header_name: Mapped[str | None] = mapped_column(String(255))
    # OAuth 2.0 (authorization code with PKCE).
    client_id: Mapped[str | None] = mapped_column(String(255))
    authorize_url: Mapped[str | None] = mapped_column(String(2048))
    token_url: Mapped[str | None] = mapped_column(String(2048))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    access_token: Mapped[str | None] = mapped_column(EncryptedText)
    refresh_token: Mapped[str | None] = mapped_column(EncryptedText)
    token_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    oauth_state: Mapped[str | None] = mapped_column(String(64), unique=True)
    oauth_verifier: Mapped[str | None] = mapped_column(EncryptedText)
    # Signed webhooks from the remote account: the provider's Ed25519 public key.
    webhook_public_key: Mapped[str | None] = mapped_column(Text)
    # Polling where webhooks are not available: every `poll_seconds`, from `poll_cursor`.
    poll_seconds: Mapped[int | None] = mapped_column(Integer)
    poll_cursor: Mapped[list[Any] | None] = mapped_column(JSON)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index(None, "location_id", "created_at", "id"),
        Index(None, "next_poll_at"),
    )


class ConnectionReceipt(Base):
    """What a connection has already brought in: a webhook's id, a polled contact version,
    a contact seen before. Inserting an existing one is how a repeat is recognised."""

    __tablename__ = "connection_receipts"

    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    # Indexed for retention, which deletes the old ones (flows/retention.py).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
