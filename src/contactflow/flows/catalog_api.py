"""Routes of /catalog: every trigger, action and step as data, for any authenticated caller
(the catalog is the same for every location)."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from contactflow.flows.catalog import Entry, entries, find
from contactflow.platform.api_support import ERROR_RESPONSES
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.errors import NotFound
from contactflow.platform.wire import WireModel

router = APIRouter(prefix="/catalog", tags=["Catalog"], responses=ERROR_RESPONSES)
Caller = Annotated[Principal, requires(None)]


class CatalogEntry(WireModel):
    key: str
    app: str
    kind: str
    title: str
    description: str
    scopes: list[str]
    input: dict[str, Any]
    output: dict[str, Any]
    sample: dict[str, Any]
    event_type: str | None


class CatalogList(WireModel):
    entries: list[CatalogEntry]
    count: int


def _out(entry: Entry) -> CatalogEntry:
    return CatalogEntry.model_validate(entry.describe())


@router.get("", response_model=CatalogList, summary="The catalog's entries, by key")
async def list_entries(
    caller: Caller,
    app: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    kind: Annotated[Literal["trigger", "action", "step"] | None, Query()] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Words in key, title or text")
    ] = None,
) -> CatalogList:
    found = [_out(entry) for entry in entries(app, kind, q)]
    return CatalogList(entries=found, count=len(found))


@router.get("/{key}", response_model=CatalogEntry, summary="One entry of the catalog")
async def get_entry(
    caller: Caller, key: Annotated[str, Path(min_length=1, max_length=128)]
) -> CatalogEntry:
    entry = find(key)
    if entry is None:
        raise NotFound(f"No catalog entry {key}")
    return _out(entry)
