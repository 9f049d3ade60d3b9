"""The OAuth 2.0 client side of connections: authorization code with PKCE (S256), tokens
stored encrypted, refreshed ahead of expiry or after a 401, the rotated refresh token kept.

`connection_auth` is what every outbound call starts from: the base URL and the headers of
a connection, its access token refreshed first when it is about to expire.
"""

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from contactflow.flows.connections.models import LOCAL, OAUTH, Connection
from contactflow.flows.connections.service import find_connection
from contactflow.platform import issues, topics
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database, UnitOfWork
from contactflow.platform.errors import BadRequest

CALLBACK_PATH = "/connections/oauth/callback"
# Refresh this long before expiry, or halfway through a shorter lifetime.
REFRESH_AHEAD = timedelta(seconds=60)
TIMEOUT_SECONDS = 15.0
# HighLevel's APIs want the version they answer as; other HTTP services ignore it.
API_VERSION_HEADER = {"Version": "2021-07-28"}


class AuthorizationFailed(BadRequest):
    """The provider refused to give or renew tokens; the connection needs authorizing again."""


class TokenEndpointDown(AuthorizationFailed):
    """The token endpoint could not be reached or could not answer (5xx, 429):
    connecting again would not help, its next answer may."""


@dataclass(frozen=True)
class ConnectionAuth:
    """How to call through a connection. `base_url` is None for the built-in connections,
    which act on this workspace in process."""

    connection_id: str
    kind: str
    base_url: str | None
    headers: dict[str, str]
    remote_location_id: str | None
    # The access token the headers carry, to tell a stale one after a 401.
    access_token: str | None = field(default=None, repr=False)
    # Whether the token has an issue not resolved yet: the next accepted call resolves it.
    token_failing: bool = False


def redirect_uri(base_url: str) -> str:
    return base_url.rstrip("/") + CALLBACK_PATH


def headers_of(row: Connection) -> dict[str, str]:
    headers = dict(API_VERSION_HEADER) if row.kind == "contacts" else {}
    secret = row.access_token if row.auth == OAUTH else row.secret
    if row.auth in ("apiKey", "bearer", OAUTH) and secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    elif row.auth == "basic" and secret is not None:
        pair = f"{row.username}:{secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    elif row.auth == "header" and secret is not None and row.header_name is not None:
        headers[row.header_name] = secret
    return headers


def _refresh_due(row: Connection) -> bool:
    if row.token_expires_at is None:
        return False
    now = utcnow()
    lifetime = row.token_expires_at - (row.token_issued_at or now)
    return now >= row.token_expires_at - min(REFRESH_AHEAD, lifetime / 2)


async def connection_auth(
    uow: UnitOfWork, location_id: str, connection_id: str, *, stale_token: str | None = None
) -> ConnectionAuth:
    """The base URL and headers of a connection of `location_id`. An OAuth connection's
    token is refreshed first when it expires within a minute, or when it is `stale_token`
    (the one a 401 answered); the lock keeps two workers from both spending the single-use
    refresh token. The refresh is a call to the provider inside `uow`: on SQLite, a provider
    writing to this same database (this server connected to itself by OAuth, where the
    built-in connection is what to use) would wait for the lock this transaction holds."""
    await uow.lock(f"connection:{connection_id}")
    row = await find_connection(uow.session, location_id, connection_id)
    await uow.session.refresh(row)
    if row.auth == OAUTH:
        if row.access_token is None:
            raise AuthorizationFailed(
                f"Connection {row.id} is not authorized: open /connections/{row.id}/oauth/start"
            )
        if _refresh_due(row) or (stale_token is not None and stale_token == row.access_token):
            await _refresh(row)
    return ConnectionAuth(
        connection_id=row.id,
        kind=row.kind,
        base_url=None if row.auth == LOCAL else row.base_url,
        headers=headers_of(row),
        remote_location_id=row.remote_location_id,
        access_token=row.access_token,
    )


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def start_authorization(
    uow: UnitOfWork, location_id: str, connection_id: str, callback: str
) -> str:
    """The provider's authorization URL for a new attempt (a new state and PKCE verifier)."""
    row = await find_connection(uow.session, location_id, connection_id)
    if row.auth != OAUTH or row.authorize_url is None or row.client_id is None:
        raise BadRequest(f"Connection {row.id} does not use OAuth")
    verifier = secrets.token_urlsafe(48)
    row.oauth_state = secrets.token_urlsafe(24)
    row.oauth_verifier = verifier
    query = urlencode(
        {
            "response_type": "code",
            "client_id": row.client_id,
            "redirect_uri": callback,
            "scope": " ".join(row.scopes),
            "state": row.oauth_state,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return f"{row.authorize_url}{'&' if '?' in row.authorize_url else '?'}{query}"


async def _token_request(row: Connection, grant: dict[str, str]) -> dict[str, Any]:
    assert row.token_url is not None
    assert row.client_id is not None
    form = {**grant, "client_id": row.client_id, "user_type": "Location"}
    if row.secret is not None:
        form["client_secret"] = row.secret
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
            response = await http.post(row.token_url, data=form)
    except httpx.HTTPError as error:
        raise TokenEndpointDown(f"The token endpoint could not be reached: {error}") from error
    if response.status_code >= 500 or response.status_code == 429:
        raise TokenEndpointDown(f"The token endpoint could not answer: {response.status_code}")
    try:
        body: Any = response.json() if response.content else {}
    except ValueError:
        body = {}  # an HTML error page: its status says why
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        reason = body.get("error", response.status_code) if isinstance(body, dict) else ""
        raise AuthorizationFailed(f"The token endpoint refused: {reason}")
    return body


def _store(row: Connection, token: dict[str, Any]) -> None:
    now = utcnow()
    row.access_token = str(token["access_token"])
    if token.get("refresh_token"):
        row.refresh_token = str(token["refresh_token"])
    expires_in = token.get("expires_in")
    row.token_issued_at = now
    row.token_expires_at = now + timedelta(seconds=float(expires_in)) if expires_in else None
    if token.get("locationId") and row.remote_location_id is None:
        row.remote_location_id = str(token["locationId"])
    row.last_error = None
    row.updated_at = now


async def _refresh(row: Connection) -> None:
    if row.refresh_token is None:
        raise AuthorizationFailed(f"Connection {row.id} has no refresh token: authorize again")
    _store(
        row,
        await _token_request(
            row, {"grant_type": "refresh_token", "refresh_token": row.refresh_token}
        ),
    )


async def complete_authorization(db: Database, state: str, code: str, callback: str) -> Connection:
    """Exchange the code the provider redirected back with; the state is single-use. The
    exchange runs outside any transaction: the provider may be this very server. Connected
    again, the connection's token issue resolves."""
    pending = select(Connection).where(Connection.oauth_state == state)
    async with db.reader() as session:
        row = await session.scalar(pending)
    if row is None or row.oauth_verifier is None:
        raise BadRequest("state: unknown or already used; start the authorization again")
    grant = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": callback,
        "code_verifier": row.oauth_verifier,
    }
    token = await _token_request(row, grant)
    async with db.unit_of_work() as uow:
        current = await uow.session.scalar(pending)
        if current is None:
            raise BadRequest("state: already used; start the authorization again")
        _store(current, token)
        current.oauth_state = current.oauth_verifier = None
        await issues.record_successes(uow, issues.CONNECTION, [current.id])
        uow.wake(topics.CONNECTION_CHANGED)
        return current
