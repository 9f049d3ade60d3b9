"""Each contact's activity timeline: what Mailsuite did (email sent, opened, clicked, tasks)
and what other systems report (notes, appointments), newest first.

An entry from another system names it (`source_system`, `source_id`); reporting the same
pair again returns the entry already kept, so a sync can safely repeat itself.
"""

from datetime import datetime
from typing import TypedDict, Unpack

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import events as mail_events
from contactflow.mailsuite.models import MailContact, TimelineEntry, TimelineKind
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.mailsuite.sources import copies_of
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork, new_row
from contactflow.platform.errors import NotFound
from contactflow.platform.event_types import (
    TIMELINE_ENTRY_CREATE,
    TIMELINE_ENTRY_DELETE,
    TIMELINE_ENTRY_UPDATE,
)
from contactflow.platform.ids import new_id

MAILSUITE = "mailsuite"


class EntryDetails(TypedDict, total=False):
    """What an entry may say besides its contact, kind and text."""

    source_system: str
    source_id: str | None
    email_id: str | None
    task_id: str | None
    occurred_at: datetime | None


async def add_entry(
    uow: UnitOfWork,
    location_id: str,
    contact_id: str,
    kind: TimelineKind,
    body: str,
    **details: Unpack[EntryDetails],
) -> tuple[TimelineEntry, bool]:
    """Add an entry (TimelineEntryCreate); an existing entry of the same source and source id
    is returned as it is. True when the entry is new."""
    entry = new_entry(location_id, contact_id, kind, body, **details)
    if entry.source_id is not None:
        found = await copies_of(
            uow.session, TimelineEntry, location_id, entry.source_system, [entry.source_id]
        )
        if entry.source_id in found:
            return found[entry.source_id], False
    await insert_entries(uow, [entry])
    return entry, True


def new_entry(
    location_id: str,
    contact_id: str,
    kind: TimelineKind,
    body: str,
    **details: Unpack[EntryDetails],
) -> TimelineEntry:
    """An entry not written yet (`insert_entries` writes it)."""
    now = utcnow()
    return new_row(
        TimelineEntry,
        id=new_id(),
        location_id=location_id,
        contact_id=contact_id,
        kind=kind,
        body=body,
        source_system=details.get("source_system", MAILSUITE),
        source_id=details.get("source_id"),
        email_id=details.get("email_id"),
        task_id=details.get("task_id"),
        occurred_at=details.get("occurred_at") or now,
        created_at=now,
    )


async def insert_entries(uow: UnitOfWork, entries: list[TimelineEntry]) -> None:
    """Entries not written yet, none of whose sources has one, written together (Core
    inserts: they stay out of the session): TimelineEntryCreate each."""
    await uow.insert_new(entries)
    await entries_told(uow, entries)


async def entries_told(uow: UnitOfWork, entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """TimelineEntryCreate of each of `entries` (the caller writes them); `entries`."""
    for entry in entries:
        await mail_events.timeline_event(uow, TIMELINE_ENTRY_CREATE, entry)
    return entries


async def find_entry(session: AsyncSession, location_id: str, entry_id: str) -> TimelineEntry:
    row = await session.get(TimelineEntry, entry_id)
    if row is None or row.location_id != location_id:
        raise NotFound("Timeline entry not found")
    return row


async def entry_of_source(
    session: AsyncSession, location_id: str, source_system: str, source_id: str
) -> TimelineEntry:
    """The entry another system reported under its own id."""
    found = await copies_of(session, TimelineEntry, location_id, source_system, [source_id])
    if source_id not in found:
        raise NotFound("Timeline entry not found")
    return found[source_id]


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
