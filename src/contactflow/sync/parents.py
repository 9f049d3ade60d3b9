"""The contact a task or note belongs to, as the location's contacts sync pairs it: a record of
a contact gets its partner under its contact's partner, and waits (`sync_pending`) while its
contact has none. The waiting records are synced once their contacts are linked
(sync/pending.py)."""

from collections.abc import Iterable

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.sync.models import SideName, Sync, SyncLink, SyncPending
from contactflow.sync.objects import kind_of
from contactflow.sync.segments import Segment

CONTACTS = "contacts"


async def contacts_sync(session: AsyncSession, location_id: str) -> str | None:
    """The id of the location's contacts sync, if it has one."""
    return await session.scalar(
        select(Sync.id).where(Sync.location_id == location_id, Sync.object == CONTACTS)
    )


async def contacts_segment(session: AsyncSession, location_id: str) -> Segment:
    """The segment of the location's contacts sync: the contacts whose records are synced."""
    stored = await session.scalar(
        select(Sync.segment).where(Sync.location_id == location_id, Sync.object == CONTACTS)
    )
    return Segment.of(stored)


async def segment_of(session: AsyncSession, sync: Sync) -> Segment:
    """Which contacts `sync` covers: its own segment, or (a sync of a contact's records) its
    contacts sync's."""
    if kind_of(sync.object).of_contact:
        return await contacts_segment(session, sync.location_id)
    return Segment.of(sync.segment)


async def drop_waiting(
    uow: UnitOfWork, location_id: str, contact_ids: Iterable[str] | Select[str]
) -> None:
    """The location's records waiting for one of the Contacts API contacts `contact_ids`,
    which the contacts sync's segment leaves out, wait no longer: they are not synced."""
    ids = contact_ids if isinstance(contact_ids, Select) else list(contact_ids)
    if isinstance(ids, list) and not ids:
        return
    syncs = select(Sync.id).where(Sync.location_id == location_id, Sync.object != CONTACTS)
    await uow.session.execute(
        delete(SyncPending).where(
            SyncPending.sync_id.in_(syncs),
            SyncPending.side == "crm",
            SyncPending.parent_id.in_(ids),
        )
    )


async def partner_of(
    session: AsyncSession, location_id: str, side: SideName, contact_id: str
) -> str | None:
    """The partner on the other side of the contact `contact_id` of `side`, linked by the
    location's contacts sync (None when it is not linked, or its partner is gone)."""
    return (await partners_of(session, location_id, side, [contact_id])).get(contact_id)


async def partners_of(
    session: AsyncSession, location_id: str, side: SideName, contact_ids: Iterable[str]
) -> dict[str, str]:
    """`partner_of` each of `contact_ids` that has one, in one query: partner by contact."""
    column, partner = (
        (SyncLink.crm_id, SyncLink.mailsuite_id)
        if side == "crm"
        else (SyncLink.mailsuite_id, SyncLink.crm_id)
    )
    rows = await session.execute(
        select(column, partner)
        .join(Sync, Sync.id == SyncLink.sync_id)
        .where(
            Sync.location_id == location_id,
            Sync.object == CONTACTS,
            SyncLink.object == CONTACTS,
            column.in_(set(contact_ids)),
            SyncLink.gone.is_(None),
        )
    )
    return {contact: found for contact, found in rows}


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
    await wait_many(uow, sync, side, {record_id: parent})


async def wait_many(uow: UnitOfWork, sync: Sync, side: SideName, parents: dict[str, str]) -> None:
    """Each record of `parents` (record id: its contact) waits for its contact, as `wait`."""
    if not parents:
        return
    waiting = await uow.session.scalars(
        select(SyncPending).where(
            SyncPending.sync_id == sync.id,
            SyncPending.side == side,
            SyncPending.record_id.in_(parents),
        )
    )
    fresh = dict(parents)
    for row in waiting:
        row.parent_id = fresh.pop(row.record_id)
    now = utcnow()
    uow.session.add_all(
        SyncPending(sync_id=sync.id, side=side, record_id=record_id, parent_id=parent, since=now)
        for record_id, parent in fresh.items()
    )


async def done(uow: UnitOfWork, sync: Sync, side: SideName, record_id: str) -> None:
    """The record waits no longer: linked, or gone."""
    await done_many(uow, sync, side, [record_id])


async def done_many(uow: UnitOfWork, sync: Sync, side: SideName, record_ids: list[str]) -> None:
    """None of `record_ids` waits any longer, in one statement."""
    if record_ids:
        await uow.session.execute(
            delete(SyncPending).where(
                SyncPending.sync_id == sync.id,
                SyncPending.side == side,
                SyncPending.record_id.in_(record_ids),
            )
        )
