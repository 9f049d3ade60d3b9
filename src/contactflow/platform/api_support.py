"""What every router shares: request-scoped dependencies and the documented error bodies."""

from datetime import datetime
from typing import Annotated, Any
from weakref import ref

from fastapi import Depends, Request
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from contactflow.platform.auth.http import database
from contactflow.platform.clock import from_epoch_ms, to_epoch_ms
from contactflow.platform.db import Database
from contactflow.platform.errors import invalid
from contactflow.platform.ratelimit import REFUSED_HEADERS_DOC
from contactflow.settings import Settings


# Dependencies are coroutines: FastAPI runs a plain function on a worker thread, a hand-off
# per request for what is an attribute read.
async def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


async def database_of(request: Request) -> Database:
    return database(request)


DatabaseDep = Annotated[Database, Depends(database_of)]
SettingsDep = Annotated[Settings, Depends(settings)]


class ErrorBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    statusCode: int
    message: str | list[str]
    error: str | None = None
    traceId: str
    meta: dict[str, Any] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Bad request"),
        (401, "Missing, invalid or under-scoped token"),
        (403, "The token does not have access to this location"),
        (404, "Not found in the token's location"),
        (409, "A request with the same Idempotency-Key is in progress"),
        (413, "Body too large"),
        (422, "Validation failed; each message names its field"),
        (429, "Too many requests from this app to this location; retry after Retry-After"),
    )
}
ERROR_RESPONSES[429]["headers"] = REFUSED_HEADERS_DOC


def parse_cursor(raw: str | None) -> tuple[datetime, str] | None:
    """Keyset cursors of newest-first logs read "<epoch ms>_<id>"."""
    if raw is None:
        return None
    millis, _, last_id = raw.partition("_")
    if not millis.isdigit() or not last_id or int(millis) > 32503680000000:
        raise invalid("cursor", "use the nextCursor of the previous page")
    return from_epoch_ms(int(millis)), last_id


def format_cursor(created_at: datetime, row_id: str) -> str:
    return f"{to_epoch_ms(created_at)}_{row_id}"


# The names clients page lists with. A list that ignored one it does not take would answer its
# first page again and again (a client paging with `skip` would never end), so each is refused.
PAGING_PARAMETERS = frozenset(
    {
        "limit",
        "skip",
        "offset",
        "page",
        "pageLimit",
        "pageSize",
        "startAfter",
        "startAfterId",
        "searchAfter",
        "cursor",
        "after",
        "before",
    }
)


# Per route (by id, as routes are not hashable), the paging parameters it takes: a route's
# parameters are fixed once it is built, and flattening its dependencies on each request cost
# more than the rest of a list's checks. An entry goes with its route.
_paging_taken: dict[int, tuple["ref[APIRoute]", list[str]]] = {}


def _paging_parameters_of(route: APIRoute) -> list[str]:
    key = id(route)
    kept = _paging_taken.get(key)
    if kept is not None and kept[0]() is route:
        return kept[1]
    taken = [
        param.alias
        for param in get_flat_params(route.dependant)
        if param.alias in PAGING_PARAMETERS
    ]
    _paging_taken[key] = (ref(route, lambda _: _paging_taken.pop(key, None)), taken)
    return taken


async def paging_parameters_taken(request: Request) -> None:
    """422 naming a paging parameter that a GET endpoint of the API does not take (what the
    endpoint pages with instead, if anything)."""
    route = request.scope.get("route")
    named = [name for name in request.query_params if name in PAGING_PARAMETERS]
    if not named or request.method != "GET" or not isinstance(route, APIRoute):
        return
    if not route.include_in_schema:
        return
    taken = _paging_parameters_of(route)
    for name in named:
        if name not in taken:
            if taken:
                pages_with = ", ".join(taken)
                raise invalid(name, f"not a parameter of this list; it pages with {pages_with}")
            raise invalid(name, "not a parameter of this endpoint, which is not paged")
