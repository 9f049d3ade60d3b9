"""The contact a task or note belongs to, as the location's contacts sync pairs it: a record of
a contact gets its partner under its contact's partner, and waits (`sync_pending`) while its
contact has none. The waiting records are synced once their contacts are linked
(sync/pending.py)."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.sync.models import SideName, Sync, SyncLink, SyncPending

CONTACTS = "contacts"


async def contacts_sync(session: AsyncSession, location_id: str) -> str | None:
    """The id of the location's contacts sync, if it has one."""
    return await session.scalar(
        select(Sync.id).where(Sync.location_id == location_id, Sync.object == CONTACTS)
    )


async def partner_of(
    session: AsyncSession, location_id: str, side: SideName, contact_id: str
) -> str | None:
    """The partner on the other side of the contact `contact_id` of `side`, linked by the
    location's contacts sync (None when it is not linked, or its partner is gone)."""
    column, partner = (
        (SyncLink.crm_id, SyncLink.mailsuite_id)
        if side == "crm"
        else (SyncLink.mailsuite_id, SyncLink.crm_id)
    )
    return await session.scalar(
        select(partner)
        .join(Sync, Sync.id == SyncLink.sync_id)
        .where(
            Sync.location_id == location_id,
            Sync.object == CONTACTS,
            SyncLink.object == CONTACTS,
            column == contact_id,
            SyncLink.gone.is_(None),
        )
    )


async def linked_contacts(session: AsyncSession, location_id: str, side: SideName) -> set[str]:
    """The contacts of `side` that the location's contacts sync links to a partner."""
    column = SyncLink.crm_id if side == "crm" else SyncLink.mailsuite_id
    rows = await session.scalars(
        select(column)
        .join(Sync, Sync.id == SyncLink.sync_id)
        .where(
            Sync.location_id == location_id,
            Sync.object == CONTACTS,
            SyncLink.object == CONTACTS,
            SyncLink.gone.is_(None),
        )
    )
    return set(rows)


async def wait(uow: UnitOfWork, sync: Sync, side: SideName, record_id: str, parent: str) -> None:
    """The record waits for its contact to be linked (once, however often it is seen)."""
    row = await uow.session.get(SyncPending, (sync.id, side, record_id))
    if row is None:
        uow.session.add(
            SyncPending(
                sync_id=sync.id, side=side, record_id=record_id, parent_id=parent, since=utcnow()
            )
        )
    else:
        row.parent_id = parent


async def done(uow: UnitOfWork, sync: Sync, side: SideName, record_id: str) -> None:
    """The record waits no longer: linked, or gone."""
    row = await uow.session.get(SyncPending, (sync.id, side, record_id))
    if row is not None:
        await uow.session.delete(row)
        await uow.session.flush()


async def count_waiting(session: AsyncSession, sync_id: str) -> int:
    query = select(func.count()).where(SyncPending.sync_id == sync_id)
    return int(await session.scalar(query) or 0)
