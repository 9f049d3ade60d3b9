"""What the Mailsuite routers share: scopes, paging parameters and the tracking links."""

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request

from contactflow.mailsuite.paging import Page, Position
from contactflow.mailsuite.tracking import Links, tracking_key
from contactflow.platform.api_support import format_cursor, parse_cursor
from contactflow.platform.auth.http import database, requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import MAILSUITE_READ, MAILSUITE_WRITE

PREFIX = "/mailsuite/v1"
Reader = Annotated[Principal, requires(MAILSUITE_READ)]
Writer = Annotated[Principal, requires(MAILSUITE_WRITE)]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]
ContactId = Annotated[str, Path(alias="contactId", min_length=1, max_length=64)]
CursorQuery = Annotated[
    str | None,
    Query(max_length=100, description="The nextCursor of the previous page (newest first)"),
]


def position(cursor: str | None) -> Position | None:
    return parse_cursor(cursor)


def next_cursor(page: Page[Any]) -> str | None:
    return format_cursor(*page.next) if page.next is not None else None


async def links(request: Request) -> Links:
    """Tracking and unsubscribe URLs under the server's public address."""
    base_url: str = request.app.state.settings.base_url
    return Links(base_url, await tracking_key(database(request)))


LinksDep = Annotated[Links, Depends(links)]
