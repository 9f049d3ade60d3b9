"""Calls through a connection: its auth, and one refresh and retry when an OAuth provider
answers 401 (a token revoked or expired early). Each call runs outside any transaction, so
a slow provider holds no lock.

An OAuth token that cannot be renewed, or that the provider still refuses once renewed, is
a failure of the connection in the issues inbox, with the run, poll or test behind it; the
next answer that accepts the connection's token resolves that issue.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from contactflow.flows.connections.models import Connection
from contactflow.flows.connections.oauth_client import (
    TIMEOUT_SECONDS,
    AuthorizationFailed,
    ConnectionAuth,
    TokenEndpointDown,
    connection_auth,
)
from contactflow.platform import issues
from contactflow.platform.db import Database
from contactflow.platform.errors import BadRequest, invalid

Send = Callable[[ConnectionAuth], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Authorizer:
    """The auth of one connection for the calls of one record (a run, a poll, a test): each
    look-up in a transaction of its own, ended before the call goes out. Called with the
    access token a 401 answered (None on the first try)."""

    db: Database
    location_id: str
    connection_id: str
    record: str
    record_id: str

    async def __call__(self, stale_token: str | None) -> ConnectionAuth:
        try:
            async with self.db.unit_of_work() as uow:
                auth = await connection_auth(
                    uow, self.location_id, self.connection_id, stale_token=stale_token
                )
                if auth.access_token is None:
                    return auth
                failing = await issues.unresolved(
                    uow, self.location_id, issues.CONNECTION, self.connection_id
                )
                return replace(auth, token_failing=failing)
        except AuthorizationFailed as error:
            down = isinstance(error, TokenEndpointDown)
            await self.failed(str(error), remedy=None if down else issues.RECONNECT)
            raise

    async def failed(self, error: str, remedy: str | None = issues.RECONNECT) -> None:
        """Count a failure of the connection's token against its issue; unless the token
        endpoint was down, connecting again is what it asks of a person."""
        async with self.db.unit_of_work() as uow:
            row = await uow.session.get(Connection, self.connection_id)
            if row is None:
                return
            await issues.record_failure(
                uow,
                self.location_id,
                issues.CONNECTION,
                self.connection_id,
                subject=row.name,
                record=self.record,
                record_id=self.record_id,
                error=error,
                remedy=remedy,
            )

    async def recovered(self) -> None:
        """The connection's token got through again: its unresolved issue resolves."""
        async with self.db.unit_of_work() as uow:
            await issues.record_successes(uow, issues.CONNECTION, [self.connection_id])


def remote_base(auth: ConnectionAuth) -> str:
    """The connection's base URL; the built-in connections have none to call."""
    if auth.base_url is None:
        raise BadRequest(
            f"Connection {auth.connection_id} is this workspace: it is not called over HTTP"
        )
    return auth.base_url


async def with_auth(authorize: Authorizer, auth: ConnectionAuth, send: Send) -> httpx.Response:
    """`send` with the connection's auth; once more with fresh auth after a 401 to an
    OAuth token. A second 401 counts against the connection's issue; an answer that is no
    401 resolves an unresolved one."""
    response = await send(auth)
    if auth.access_token is None:
        return response
    if response.status_code == 401:
        auth = await authorize(auth.access_token)
        response = await send(auth)
        if response.status_code == 401:
            await authorize.failed(f"The renewed token was refused too: 401 {response.text[:300]}")
            return response
    if auth.token_failing:
        await authorize.recovered()
    return response


def url_under(base_url: str, url: str) -> str:
    """The URL of a call through a connection: a path is taken under the connection's base
    URL; a full URL must lie under it, so the connection's credentials go nowhere else."""
    if not urlsplit(url).scheme:
        return f"{base_url.rstrip('/')}/{url.lstrip('/')}"
    if not url.startswith(base_url.rstrip("/") + "/") and url != base_url:
        raise invalid("url", f"must be a path, or a URL under the connection's {base_url}")
    return url


async def request(
    http: httpx.AsyncClient, authorize: Authorizer, method: str, path: str, **options: Any
) -> httpx.Response:
    """`method path` (relative to the connection's base URL) with the connection's headers."""
    auth = await authorize(None)
    url = url_under(remote_base(auth), path)

    async def send(current: ConnectionAuth) -> httpx.Response:
        return await http.request(
            method, url, headers=current.headers, timeout=TIMEOUT_SECONDS, **options
        )

    return await with_auth(authorize, auth, send)
