"""Calls through a connection: its auth, and one refresh and retry when an OAuth provider
answers 401 (a token revoked or expired early). Each call runs outside any transaction, so
a slow provider holds no lock."""

from typing import Any

import httpx

from contactflow.flows.connections.oauth_client import TIMEOUT_SECONDS, connection_auth
from contactflow.platform.db import Database
from contactflow.platform.errors import BadRequest


async def request(
    db: Database,
    location_id: str,
    connection_id: str,
    method: str,
    path: str,
    **options: Any,
) -> httpx.Response:
    """`method path` (relative to the connection's base URL) with the connection's headers."""
    async with db.unit_of_work() as uow:
        auth = await connection_auth(uow, location_id, connection_id)
    if auth.base_url is None:
        raise BadRequest(
            f"Connection {connection_id} is this workspace: it is not called over HTTP"
        )
    async with httpx.AsyncClient(base_url=auth.base_url, timeout=TIMEOUT_SECONDS) as http:
        response = await http.request(method, path, headers=auth.headers, **options)
        if response.status_code != 401 or auth.access_token is None:
            return response
        async with db.unit_of_work() as uow:
            auth = await connection_auth(
                uow, location_id, connection_id, stale_token=auth.access_token
            )
        return await http.request(method, path, headers=auth.headers, **options)
