"""Wire models of /connections. Secrets are write-only: requests carry them, no response does
(a response says only whether one is set)."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from contactflow.platform.wire import RequestModel, WireModel

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
Scope = Annotated[str, StringConstraints(min_length=1, max_length=100)]
PublicKey = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
# At least a second between polls; at most a day.
PollSeconds = Annotated[int, Field(ge=1, le=86_400)]
RemoteKind = Literal["contacts", "http"]
RemoteAuth = Literal["apiKey", "oauth", "bearer", "basic", "header", "none"]


class ConnectionSettings(RequestModel):
    """What a connection is made of; every field but the kind may change later."""

    name: Name | None = None
    base_url: Url | None = None
    location_id: Text | None = Field(
        default=None, description="The remote location the calls act on"
    )
    auth: RemoteAuth | None = None
    api_key: Secret | None = Field(default=None, description="auth apiKey (write-only)")
    token: Secret | None = Field(default=None, description="auth bearer (write-only)")
    username: Text | None = Field(default=None, description="auth basic")
    password: Secret | None = Field(default=None, description="auth basic (write-only)")
    header_name: Text | None = Field(default=None, description="auth header")
    header_value: Secret | None = Field(default=None, description="auth header (write-only)")
    client_id: Text | None = Field(default=None, description="auth oauth")
    client_secret: Secret | None = Field(default=None, description="auth oauth (write-only)")
    authorize_url: Url | None = None
    token_url: Url | None = None
    scopes: Annotated[list[Scope], Field(max_length=50)] | None = None
    webhook_public_key: PublicKey | None = Field(
        default=None,
        description="PEM of the Ed25519 key that signs the remote account's webhooks",
    )
    poll: PollSeconds | None = Field(
        default=None, description="Poll the remote contacts every this many seconds"
    )


class ConnectionCreate(ConnectionSettings):
    name: Name
    kind: RemoteKind
    auth: RemoteAuth


class ConnectionUpdate(ConnectionSettings):
    pass


class ConnectionOut(WireModel):
    id: str
    name: str
    kind: str
    auth: str
    base_url: str | None
    location_id: str | None
    builtin: bool
    has_secret: bool
    username: str | None
    header_name: str | None
    client_id: str | None
    authorize_url: str | None
    token_url: str | None
    scopes: list[str]
    connected: bool
    token_expires_at: str | None
    webhook_public_key: str | None
    webhook_path: str
    poll: int | None
    last_error: str | None
    created_at: str
    updated_at: str


class ConnectionEnvelope(WireModel):
    connection: ConnectionOut


class ConnectionList(WireModel):
    connections: list[ConnectionOut]


class ScopeCheck(WireModel):
    scope: str
    ok: bool
    status: int | None
    message: str | None = None


class ConnectionTest(WireModel):
    ok: bool
    scopes: list[ScopeCheck]
