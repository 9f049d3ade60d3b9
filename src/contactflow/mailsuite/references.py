"""Ids named in a request body: one that is not in the workspace is a 422 naming the field
(a 404 is for the resource in the path)."""

from collections.abc import Awaitable
from typing import TypeVar

from contactflow.platform.errors import NotFound, invalid

T = TypeVar("T")


async def referenced(lookup: Awaitable[T], field: str) -> T:
    try:
        return await lookup
    except NotFound as error:
        raise invalid(field, "not found in this workspace") from error
