"""Connections of a location: create, change, list, delete, and the two built in.

Every location has a connection to this server's Contacts API and one to its Mailsuite, made
the first time its connections are listed or one is looked up: locations are created in
several places (the API, the CLI, the demo) by a platform that knows no context, and the
connections context then needs no hook into any of them.
"""

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic.alias_generators import to_camel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows.connections.models import LOCAL, OAUTH, Connection
from contactflow.flows.connections.schemas import ConnectionCreate, ConnectionSettings
from contactflow.platform import topics
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import BadRequest, NotFound, invalid
from contactflow.platform.webhooks.ssrf import UnsafeUrl, UrlPolicy

BUILTIN = (
    ("contacts", "Contacts (this workspace)"),
    ("mailsuite", "Mailsuite (this workspace)"),
)
# Which request field carries the secret of each auth kind.
SECRET_FIELDS = {
    "apiKey": "api_key",
    "bearer": "token",
    "basic": "password",
    "header": "header_value",
    "oauth": "client_secret",
}
_REQUIRED = {
    "apiKey": ("secret",),
    "bearer": ("secret",),
    "basic": ("username", "secret"),
    "header": ("header_name", "secret"),
    "oauth": ("client_id", "authorize_url", "token_url"),
    "none": (),
}


async def ensure_builtin(uow: UnitOfWork, location_id: str) -> None:
    # Two first listings at once must not both add them.
    await uow.lock(f"connections-builtin:{location_id}")
    found = set(
        await uow.session.scalars(
            select(Connection.kind).where(
                Connection.location_id == location_id, Connection.builtin.is_(True)
            )
        )
    )
    for kind, name in BUILTIN:
        if kind not in found:
            uow.session.add(
                Connection(location_id=location_id, name=name, kind=kind, auth=LOCAL, builtin=True)
            )
    await uow.session.flush()


async def list_connections(uow: UnitOfWork, location_id: str) -> list[Connection]:
    await ensure_builtin(uow, location_id)
    rows = await uow.session.scalars(
        select(Connection)
        .where(Connection.location_id == location_id)
        .order_by(Connection.builtin.desc(), Connection.created_at, Connection.kind, Connection.id)
    )
    return list(rows)


async def find_connection(
    session: AsyncSession, location_id: str, connection_id: str
) -> Connection:
    row = await session.get(Connection, connection_id)
    if row is None or row.location_id != location_id:
        raise NotFound(f"Connection {connection_id} not found in this location")
    return row


async def _checked_url(policy: UrlPolicy, field: str, url: str) -> str:
    try:
        await policy.check(url)
    except UnsafeUrl as error:
        raise invalid(field, str(error).removeprefix("url: ")) from error
    return url.rstrip("/") if field == "baseUrl" else url


def _public_key(pem: str) -> str:
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError as error:
        raise invalid("webhookPublicKey", "not a PEM public key") from error
    if not isinstance(key, Ed25519PublicKey):
        raise invalid("webhookPublicKey", "must be an Ed25519 public key")
    return pem


async def _apply(row: Connection, body: ConnectionSettings, policy: UrlPolicy) -> None:
    given = body.model_fields_set
    if body.auth is not None and body.auth != row.auth:
        row.auth = body.auth
        row.secret = None
        _forget_tokens(row)
    if body.name is not None:
        row.name = body.name
    for field, wire in (
        ("base_url", "baseUrl"),
        ("authorize_url", "authorizeUrl"),
        ("token_url", "tokenUrl"),
    ):
        value = getattr(body, field)
        if value is not None:
            setattr(row, field, await _checked_url(policy, wire, value))
    for field, column in (
        ("location_id", "remote_location_id"),
        ("username", "username"),
        ("header_name", "header_name"),
        ("client_id", "client_id"),
    ):
        if field in given:
            setattr(row, column, getattr(body, field))
    if body.scopes is not None:
        row.scopes = list(dict.fromkeys(body.scopes))
    for auth, field in SECRET_FIELDS.items():
        value = getattr(body, field)
        if value is None:
            continue
        if auth != row.auth:
            raise invalid(to_camel(field), f"only for auth {auth}")
        row.secret = value
    if "webhook_public_key" in given:
        key = body.webhook_public_key
        row.webhook_public_key = None if key is None else _public_key(key)
    if "poll" in given:
        row.poll_seconds = body.poll
        row.next_poll_at = utcnow() if body.poll is not None else None


def _forget_tokens(row: Connection) -> None:
    row.access_token = row.refresh_token = row.oauth_verifier = row.oauth_state = None
    row.token_issued_at = row.token_expires_at = None


def _check_complete(row: Connection) -> None:
    if row.base_url is None:
        raise invalid("baseUrl", f"required for a {row.kind} connection")
    for column in _REQUIRED[row.auth]:
        if getattr(row, column) is None:
            wire = to_camel(SECRET_FIELDS[row.auth] if column == "secret" else column)
            raise invalid(wire, f"required for auth {row.auth}")
    if row.poll_seconds is not None and row.kind != "contacts":
        raise invalid("poll", "only a contacts connection can be polled")


async def new_connection(location_id: str, body: ConnectionCreate, policy: UrlPolicy) -> Connection:
    """A checked connection, not yet saved (to test it first)."""
    row = Connection(location_id=location_id, name=body.name, kind=body.kind, auth=body.auth)
    row.scopes = []
    await _apply(row, body, policy)
    _check_complete(row)
    return row


async def create_connection(
    uow: UnitOfWork, location_id: str, body: ConnectionCreate, policy: UrlPolicy
) -> Connection:
    row = await new_connection(location_id, body, policy)
    uow.session.add(row)
    await uow.session.flush()
    _wake_polling(uow, row)
    return row


async def update_connection(
    uow: UnitOfWork,
    location_id: str,
    connection_id: str,
    body: ConnectionSettings,
    policy: UrlPolicy,
) -> Connection:
    row = await find_connection(uow.session, location_id, connection_id)
    if row.builtin:
        raise BadRequest("A built-in connection cannot be changed")
    oauth_before = (row.client_id, row.authorize_url, row.token_url, list(row.scopes))
    await _apply(row, body, policy)
    if row.auth == OAUTH and oauth_before != (
        row.client_id,
        row.authorize_url,
        row.token_url,
        list(row.scopes),
    ):
        # Tokens of another app or other scopes: authorize again.
        _forget_tokens(row)
    _check_complete(row)
    row.updated_at = utcnow()
    _wake_polling(uow, row)
    uow.wake(topics.CONNECTION_CHANGED)
    return row


def _wake_polling(uow: UnitOfWork, row: Connection) -> None:
    """The polling loop looks again: a polled connection's poll may be due now."""
    if row.next_poll_at is not None:
        uow.wake(topics.CONNECTION_POLLS)


async def delete_connection(uow: UnitOfWork, location_id: str, connection_id: str) -> None:
    row = await find_connection(uow.session, location_id, connection_id)
    if row.builtin:
        raise BadRequest("A built-in connection cannot be deleted")
    await uow.session.delete(row)
