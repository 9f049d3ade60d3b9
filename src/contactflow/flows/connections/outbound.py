"""Calls through a connection: its auth, and one refresh and retry when an OAuth provider
answers 401 (a token revoked or expired early). Each call runs outside any transaction, so
a slow provider holds no lock."""

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from contactflow.flows.connections.oauth_client import (
    TIMEOUT_SECONDS,
    ConnectionAuth,
    connection_auth,
)
from contactflow.platform.db import Database
from contactflow.platform.errors import BadRequest, invalid

# The auth of a connection, given the access token a 401 answered (None on the first try).
Authorize = Callable[[str | None], Awaitable[ConnectionAuth]]
Send = Callable[[ConnectionAuth], Awaitable[httpx.Response]]


def authorizer(db: Database, location_id: str, connection_id: str) -> Authorize:
    """Each look-up of the connection's auth in a transaction of its own, ended before the
    call goes out."""

    async def authorize(stale_token: str | None) -> ConnectionAuth:
        async with db.unit_of_work() as uow:
            return await connection_auth(uow, location_id, connection_id, stale_token=stale_token)

    return authorize


def remote_base(auth: ConnectionAuth) -> str:
    """The connection's base URL; the built-in connections have none to call."""
    if auth.base_url is None:
        raise BadRequest(
            f"Connection {auth.connection_id} is this workspace: it is not called over HTTP"
        )
    return auth.base_url


async def with_auth(authorize: Authorize, auth: ConnectionAuth, send: Send) -> httpx.Response:
    """`send` with the connection's auth; once more with fresh auth after a 401 to an
    OAuth token."""
    response = await send(auth)
    if response.status_code != 401 or auth.access_token is None:
        return response
    return await send(await authorize(auth.access_token))


def url_under(base_url: str, url: str) -> str:
    """The URL of a call through a connection: a path is taken under the connection's base
    URL; a full URL must lie under it, so the connection's credentials go nowhere else."""
    if not urlsplit(url).scheme:
        return f"{base_url.rstrip('/')}/{url.lstrip('/')}"
    if not url.startswith(base_url.rstrip("/") + "/") and url != base_url:
        raise invalid("url", f"must be a path, or a URL under the connection's {base_url}")
    return url


async def request(
    db: Database,
    http: httpx.AsyncClient,
    location_id: str,
    connection_id: str,
    method: str,
    path: str,
    **options: Any,
) -> httpx.Response:
    """`method path` (relative to the connection's base URL) with the connection's headers."""
    authorize = authorizer(db, location_id, connection_id)
    auth = await authorize(None)
    url = url_under(remote_base(auth), path)

    async def send(current: ConnectionAuth) -> httpx.Response:
        return await http.request(
            method, url, headers=current.headers, timeout=TIMEOUT_SECONDS, **options
        )

    return await with_auth(authorize, auth, send)
