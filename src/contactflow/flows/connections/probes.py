"""Testing a connection: one harmless call per scope family, and which of them work.

Reads fetch a page of one; the write probe posts a body the API must refuse as invalid
(an unknown property), so it proves the scope without changing anything: a missing scope is
refused first (401 or 403), a granted one then fails validation (400 or 422).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from contactflow.flows.connections.models import LOCAL, Connection
from contactflow.flows.connections.oauth_client import TIMEOUT_SECONDS, headers_of
from contactflow.flows.connections.outbound import Authorizer, request, url_under
from contactflow.flows.connections.schemas import ConnectionTest, ScopeCheck
from contactflow.flows.connections.service import find_connection
from contactflow.platform import issues
from contactflow.platform.auth.scopes import (
    BUSINESSES_READ,
    CONTACTS_READ,
    CONTACTS_WRITE,
    USERS_READ,
)
from contactflow.platform.db import Database
from contactflow.platform.errors import DomainError

REFUSED_BODY = {"connectionTest": True}
# A call through the connection: method, path under its base URL, httpx options.
Call = Callable[..., Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    writes: bool = False


PROBES = {
    CONTACTS_READ: Probe("GET", "/contacts/"),
    CONTACTS_WRITE: Probe("POST", "/contacts/", writes=True),
    BUSINESSES_READ: Probe("GET", "/businesses/"),
    USERS_READ: Probe("GET", "/users/"),
}
HTTP_PROBE = Probe("GET", "")


def _works(probe: Probe, status: int) -> bool:
    return status < 300 or (probe.writes and status in (400, 422))


async def _check(call: Call, scope: str, probe: Probe, remote: str | None) -> ScopeCheck:
    options: dict[str, Any] = {}
    if probe.writes:
        options["json"] = {**REFUSED_BODY, **({"locationId": remote} if remote else {})}
    elif probe.path:
        options["params"] = {"limit": 1, **({"locationId": remote} if remote else {})}
    try:
        response = await call(probe.method, probe.path, **options)
    except httpx.HTTPError as error:
        return ScopeCheck(scope=scope, ok=False, status=None, message=str(error) or "unreachable")
    except DomainError as error:
        return ScopeCheck(scope=scope, ok=False, status=None, message=str(error))
    ok = _works(probe, response.status_code)
    message = None if ok else response.text[:300]
    return ScopeCheck(scope=scope, ok=ok, status=response.status_code, message=message)


async def _checks(row: Connection, call: Call) -> ConnectionTest:
    if row.kind != "contacts":
        checks = [await _check(call, "request", HTTP_PROBE, None)]
    else:
        wanted = [scope for scope in row.scopes if scope in PROBES] or list(PROBES)
        remote = row.remote_location_id
        checks = [await _check(call, scope, PROBES[scope], remote) for scope in wanted]
    return ConnectionTest(ok=all(check.ok for check in checks), scopes=checks)


async def check_connection(db: Database, location_id: str, connection_id: str) -> ConnectionTest:
    async with db.reader() as session:
        row = await find_connection(session, location_id, connection_id)
    if row.auth == LOCAL:
        return ConnectionTest(ok=True, scopes=[])
    authorize = Authorizer(db, location_id, row.id, issues.CONNECTION_TEST, row.id)
    async with httpx.AsyncClient(follow_redirects=False) as http:

        async def call(method: str, path: str, **options: Any) -> httpx.Response:
            return await request(http, authorize, method, path, **options)

        return await _checks(row, call)


async def check_unsaved(row: Connection) -> ConnectionTest:
    """The same calls with the credentials of a connection not saved yet (not OAuth, which
    has no token before it is saved and authorized)."""
    base_url = row.base_url or ""
    async with httpx.AsyncClient(follow_redirects=False) as http:

        async def call(method: str, path: str, **options: Any) -> httpx.Response:
            return await http.request(
                method,
                url_under(base_url, path),
                headers=headers_of(row),
                timeout=TIMEOUT_SECONDS,
                **options,
            )

        return await _checks(row, call)
