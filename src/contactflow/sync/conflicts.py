"""Conflicts held for a person (a field whose policy is `manual`), listed and resolved: a
person picks a side, or a value of their own, and it is written through the sync's own path
(its origin, its identity map), so no echo follows."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.errors import Conflict, NotFound, Unprocessable
from contactflow.settings import Settings
from contactflow.sync import events as sync_events
from contactflow.sync.decisions import as_person
from contactflow.sync.fields import CRM_LISTS, FieldMap
from contactflow.sync.models import OPEN, RESOLVED, ConflictChoice, ConflictState, SyncConflict
from contactflow.sync.pairs import PairSync
from contactflow.sync.service import find_sync

CONFLICT_NOT_FOUND = "Conflict not found"


async def list_conflicts(
    session: AsyncSession,
    location_id: str,
    sync_id: str,
    *,
    state: ConflictState | None,
    before: Position | None,
    limit: int,
) -> Page[SyncConflict]:
    await find_sync(session, location_id, sync_id)
    query = select(SyncConflict).where(SyncConflict.sync_id == sync_id)
    if state is not None:
        query = query.where(SyncConflict.state == state)
    return await newest_first(
        session, query, SyncConflict.created_at, SyncConflict.id, before=before, limit=limit
    )


def _kept(
    entry: FieldMap, row: SyncConflict, choice: ConflictChoice, value: Any
) -> tuple[Any, Any]:
    """The values the person's choice writes to each side, in each side's form."""
    if choice == "crm":
        return row.crm_value, entry.to_mailsuite(row.crm_value)
    if choice == "mailsuite":
        return entry.to_crm(row.mailsuite_value), row.mailsuite_value
    if isinstance(value, list) != (entry.crm in CRM_LISTS):
        kind = "a list of texts" if entry.crm in CRM_LISTS else "a text or null"
        raise Unprocessable([f"value: {entry.crm} takes {kind}"])
    return value, entry.to_mailsuite(value)


async def resolve(
    db: Database,
    settings: Settings,
    location_id: str,
    sync_id: str,
    conflict_id: str,
    choice: ConflictChoice,
    value: Any,
    who: str,
) -> SyncConflict:
    """Keep one side's value (or `value`, with `choice` "value") on both sides; 409 once
    resolved, 422 when the field is no longer mapped for a person."""

    async def resolved(pairs: PairSync) -> SyncConflict:
        uow, sync = pairs.uow, pairs.sync
        row = await uow.session.get(SyncConflict, conflict_id, with_for_update=True)
        if row is None or row.sync_id != sync.id:
            raise NotFound(CONFLICT_NOT_FOUND)
        if row.state != OPEN:
            raise Conflict(f"conflict: it was {row.state} already")
        entry = next((item for item in pairs.mapping if item.crm == row.field), None)
        if entry is None:
            raise Unprocessable([f"field: {row.field} is no longer mapped by the sync"])
        crm_value, mail_value = _kept(entry, row, choice, value)
        row.state, row.chosen, row.resolved_by = RESOLVED, choice, who
        row.resolved_at = row.updated_at = utcnow()
        await uow.session.flush()
        await pairs.settle(row.crm_id, {entry.crm: crm_value}, {entry.mailsuite: mail_value})
        await sync_events.resolved(uow, sync, row)
        return row

    return await as_person(db, settings, location_id, sync_id, resolved)
