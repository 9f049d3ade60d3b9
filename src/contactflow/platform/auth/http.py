"""FastAPI dependencies that turn a bearer token into a Principal allowed to do one thing.

One pipeline for every credential kind: authenticate the token, check the caller's address
against the credential's allowlist, count the request against the rate limit, check the
operation's scope, and remember the use. Refusals of address and scope are audited.
"""

import time
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from contactflow.platform import audit
from contactflow.platform.auth.api_keys import authenticate_key, record_use
from contactflow.platform.auth.credential_cache import CredentialCache
from contactflow.platform.auth.ip import allowed, client_ip
from contactflow.platform.auth.oauth.tokens import authenticate_access_token, is_access_token
from contactflow.platform.auth.principal import Principal
from contactflow.platform.db import Database
from contactflow.platform.errors import Forbidden, Unauthorized
from contactflow.platform.http import location_id_var
from contactflow.platform.ratelimit import count_request

_bearer = HTTPBearer(auto_error=False, description="An API key (cf_live_…) or OAuth token")
# How often the last-used time of one credential is written when its address has not changed.
USE_RECORD_INTERVAL = 60.0


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


class UsageRecorder:
    """Writes a credential's last use at most once a minute, and at once from a new address,
    so that reads do not each cost a write."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, str | None]] = {}

    def due(self, principal: Principal, ip: str | None) -> bool:
        now = time.monotonic()
        previous = self._last.get(principal.credential_id)
        if previous is not None and previous[1] == ip and now - previous[0] < USE_RECORD_INTERVAL:
            return False
        self._last[principal.credential_id] = (now, ip)
        return True


async def authenticate(db: Database, token: str) -> Principal:
    async with db.reader() as session:
        if is_access_token(token):
            return await authenticate_access_token(session, token)
        return await authenticate_key(session, token)


class _Pipeline(HTTPBearer):
    """The bearer scheme and the whole pipeline as one dependency. FastAPI solves each
    dependency of a request on its own, at a cost of its own (ADR 0047); as an HTTPBearer this
    one still documents the scheme in the OpenAPI document, under the same name as `_bearer`."""

    def __init__(self, scope: str | None) -> None:
        super().__init__(
            auto_error=False, description=_bearer.model.description, scheme_name="HTTPBearer"
        )
        self.required_scope = scope

    # A Principal where HTTPBearer gives the credentials: this is the pipeline past them.
    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            raise Unauthorized("Missing bearer token in the Authorization header")
        db = database(request)
        cache: CredentialCache = request.app.state.credential_cache
        found = await cache.principal(
            credentials.credentials, lambda token: authenticate(db, token)
        )
        location_id_var.set(found.location_id)
        ip = client_ip(request, trust_proxy=request.app.state.settings.trust_proxy)
        where = {"actor": found.actor, "location_id": found.location_id, "ip": ip}
        if not allowed(ip, found.allowed_ips):
            await audit.record_now(db, audit.REFUSED_IP, **where)
            raise Forbidden(f"Requests from {ip} are not allowed for this token")
        # After the address check (a refused address is not the app's and spends nothing of its
        # budget), before the scope check (an app's under-scoped calls count like any other).
        await count_request(request, found)
        scope = self.required_scope
        if scope is not None and scope not in found.scopes:
            await audit.record_now(db, audit.REFUSED_SCOPE, **where, scope=scope)
            found.require_scope(scope)
        recorder: UsageRecorder = request.app.state.usage_recorder
        if found.credential_kind == "api_key" and recorder.due(found, ip):
            await record_use(db, found, ip)
        request.state.principal = found
        return found


def requires(scope: str | None) -> Any:
    """A dependency for one operation: a valid bearer token that carries `scope` (any valid
    token when `scope` is None)."""
    return Depends(_Pipeline(scope))
