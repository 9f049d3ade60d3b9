"""Each contact's activity timeline: what Mailsuite did (email sent, opened, clicked, tasks)
and what other systems report (notes, appointments), newest first.

An entry from another system names it (`source_system`, `source_id`); reporting the same
pair again returns the entry already kept, so a sync can safely repeat itself.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import events as mail_events
from contactflow.mailsuite.models import MailContact, TimelineEntry, TimelineKind
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound
from contactflow.platform.event_types import (
    TIMELINE_ENTRY_CREATE,
    TIMELINE_ENTRY_DELETE,
    TIMELINE_ENTRY_UPDATE,
)
from contactflow.platform.ids import new_id

MAILSUITE = "mailsuite"


async def add_entry(
    uow: UnitOfWork,
    location_id: str,
    contact_id: str,
    kind: TimelineKind,
    body: str,
    *,
    source_system: str = MAILSUITE,
    source_id: str | None = None,
    email_id: str | None = None,
    task_id: str | None = None,
    occurred_at: datetime | None = None,
) -> tuple[TimelineEntry, bool]:
    """Add an entry (TimelineEntryCreate); an existing entry of the same source and source id
    is returned as it is. True when the entry is new."""
    if source_id is not None:
        existing = await uow.session.scalar(
            select(TimelineEntry).where(
                TimelineEntry.location_id == location_id,
                TimelineEntry.source_system == source_system,
                TimelineEntry.source_id == source_id,
            )
        )
        if existing is not None:
            return existing, False
    now = utcnow()
    entry = TimelineEntry(
        id=new_id(),
        location_id=location_id,
        contact_id=contact_id,
        kind=kind,
        body=body,
        source_system=source_system,
        source_id=source_id,
        email_id=email_id,
        task_id=task_id,
        occurred_at=occurred_at or now,
        created_at=now,
    )
    uow.session.add(entry)
    await mail_events.timeline_event(uow, TIMELINE_ENTRY_CREATE, entry)
    return entry, True


async def find_entry(session: AsyncSession, location_id: str, entry_id: str) -> TimelineEntry:
    row = await session.get(TimelineEntry, entry_id)
    if row is None or row.location_id != location_id:
        raise NotFound("Timeline entry not found")
    return row


async def entry_of_source(
    session: AsyncSession, location_id: str, source_system: str, source_id: str
) -> TimelineEntry:
    """The entry another system reported under its own id."""
    row = await session.scalar(
        select(TimelineEntry).where(
            TimelineEntry.location_id == location_id,
            TimelineEntry.source_system == source_system,
            TimelineEntry.source_id == source_id,
        )
    )
    if row is None:
        raise NotFound("Timeline entry not found")
    return row


async def update_entry(uow: UnitOfWork, entry: TimelineEntry, body: str) -> TimelineEntry:
    """Change an entry's text in place (TimelineEntryUpdate), as a note edited elsewhere."""
    if entry.body != body:
        entry.body = body
        await mail_events.timeline_event(uow, TIMELINE_ENTRY_UPDATE, entry)
    return entry


async def delete_entry(uow: UnitOfWork, entry: TimelineEntry) -> TimelineEntry:
    """Remove an entry (TimelineEntryDelete), as a note deleted elsewhere."""
    await mail_events.timeline_event(uow, TIMELINE_ENTRY_DELETE, entry)
    await uow.session.delete(entry)
    await uow.session.flush()
    return entry


async def contact_timeline(
    session: AsyncSession,
    location_id: str,
    contact_id: str,
    *,
    before: Position | None,
    limit: int,
) -> Page[TimelineEntry]:
    contact = await session.get(MailContact, contact_id)
    if contact is None or contact.location_id != location_id:
        raise NotFound("Mailsuite contact not found")
    query = select(TimelineEntry).where(TimelineEntry.contact_id == contact_id)
    return await newest_first(
        session, query, TimelineEntry.occurred_at, TimelineEntry.id, before=before, limit=limit
    )
