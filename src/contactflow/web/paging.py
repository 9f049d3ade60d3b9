"""Keyset positions in the dashboard's links."""

from contactflow.mailsuite.paging import Position
from contactflow.platform.api_support import parse_cursor
from contactflow.platform.errors import Unprocessable


def cursor_position(raw: str | None) -> Position | None:
    """Where a page starts; a cursor that was not one of ours starts at the newest."""
    try:
        return parse_cursor(raw or None)
    except Unprocessable:
        return None
