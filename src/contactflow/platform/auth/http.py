"""FastAPI dependencies that turn a bearer token into a Principal with one required scope."""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contactflow.platform.auth.api_keys import authenticate_key
from contactflow.platform.auth.principal import Principal
from contactflow.platform.db import Database
from contactflow.platform.errors import Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An API key (cf_live_…) or OAuth token")


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def requires(scope: str) -> Any:
    """A dependency for one operation: a valid bearer token that carries `scope`."""

    async def principal(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("Missing bearer token in the Authorization header")
        async with database(request).reader() as session:
            found = await authenticate_key(session, credentials.credentials)
        found.require_scope(scope)
        return found

    dependency: Callable[..., Coroutine[Any, Any, Principal]] = principal
    return Depends(dependency)
