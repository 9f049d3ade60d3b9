"""Keyset positions in the dashboard's links."""

from typing import Annotated

from fastapi import Query

from contactflow.mailsuite.paging import Position
from contactflow.platform.api_support import format_cursor, parse_cursor
from contactflow.platform.errors import Unprocessable


def cursor_position(raw: str | None) -> Position | None:
    """Where a page starts; a cursor that was not one of ours starts at the newest."""
    try:
        return parse_cursor(raw or None)
    except Unprocessable:
        return None


def older_url(path: str, next_position: Position | None) -> str:
    """The link to the page after this one at `path`, or "" on the last page."""
    return f"{path}?cursor={format_cursor(*next_position)}" if next_position else ""


# Event sequences are 64-bit integers in the database: a larger position is not one of ours.
MAX_SEQ = 2**62
# Where a live stream starts reading the location's log.
LogPosition = Annotated[int, Query(ge=0, lt=MAX_SEQ)]
