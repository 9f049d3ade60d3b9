"""GET /audit: the location's audit log, newest first."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from contactflow.platform import audit
from contactflow.platform.api_support import (
    ERROR_RESPONSES,
    DatabaseDep,
    format_cursor,
    parse_cursor,
)
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import AUDIT_READ
from contactflow.platform.clock import to_iso

router = APIRouter(prefix="/audit", tags=["Audit"], responses=ERROR_RESPONSES)


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    action: str
    actor: str
    ip: str | None
    detail: dict[str, Any]
    created_at: str


class AuditPage(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    entries: list[AuditEntryOut]
    next_cursor: str | None


def entry_out(row: audit.AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=row.id,
        action=row.action,
        actor=row.actor,
        ip=row.ip,
        detail=row.detail,
        created_at=to_iso(row.created_at),
    )


@router.get("", response_model=AuditPage, summary="The location's audit log")
async def list_entries(
    caller: Annotated[Principal, requires(AUDIT_READ)],
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    action: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> AuditPage:
    async with db.reader() as session:
        rows = await audit.entries(
            session, caller.location_id, limit=limit, before=parse_cursor(cursor), action=action
        )
    last = rows[-1] if len(rows) == limit else None
    return AuditPage(
        entries=[entry_out(row) for row in rows],
        next_cursor=format_cursor(last.created_at, last.id) if last else None,
    )
