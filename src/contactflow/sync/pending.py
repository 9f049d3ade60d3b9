"""Records of a contact (tasks, notes) that waited for their contact to be linked, synced once
it is: the location's contacts sync links the contact (by its backfill, a change, a repair),
and the workers pick up what waited on it, a batch at a time, as the sync that waited."""

from sqlalchemy import ColumnElement, Select, and_, or_, select

from contactflow.platform.db import Database
from contactflow.sync.change_batch import Change, sync_changes
from contactflow.sync.incremental import told
from contactflow.sync.models import ACTIVE, SideName, Sync, SyncLink, SyncPending, sync_origin
from contactflow.sync.pairs import pairs_for
from contactflow.sync.parents import CONTACTS, done


def ready(limit: int, which: ColumnElement[bool]) -> Select[str, SideName, str]:
    """Waiting records of active syncs (`which` of them) whose contact the contacts sync has
    linked now."""
    contacts = Sync.__table__.alias("contacts_sync")
    return (
        select(SyncPending.sync_id, SyncPending.side, SyncPending.record_id)
        .join(Sync, (Sync.id == SyncPending.sync_id) & (Sync.status == ACTIVE) & which)
        .join(
            contacts,
            (contacts.c.location_id == Sync.location_id) & (contacts.c.object == CONTACTS),
        )
        .join(
            SyncLink,
            and_(
                SyncLink.sync_id == contacts.c.id,
                SyncLink.gone.is_(None),
                or_(
                    (SyncPending.side == "crm") & (SyncLink.crm_id == SyncPending.parent_id),
                    (SyncPending.side == "mailsuite")
                    & (SyncLink.mailsuite_id == SyncPending.parent_id),
                ),
            ),
        )
        .order_by(SyncPending.sync_id, SyncPending.since)
        .limit(limit)
    )


async def resume(db: Database, region: str, batch: int) -> bool:
    """Sync one batch of waiting records whose contacts are linked now; True when it did.
    A remote account's sync takes its own (sync/remote_runs.py)."""
    query = ready(batch, Sync.connection_id.is_(None))
    rows = await db.read(lambda connection: list(connection.execute(query)))
    if not rows:
        return False
    sync_id = rows[0][0]
    async with db.unit_of_work() as uow:
        sync = await uow.session.get(Sync, sync_id)
        if sync is None or sync.status != ACTIVE:
            return False
        uow.origin = sync_origin(sync.id)
        await uow.lock(f"sync:{sync.id}")
        pairs = pairs_for(uow, sync, region)
        waited = [
            Change(side, record_id, False) for found, side, record_id in rows if found == sync_id
        ]
        for change in waited:
            await done(uow, sync, change.side, change.record_id)
        for change, outcome in await sync_changes(pairs, waited):
            await told(pairs, change.side, change.record_id, outcome)
    return True
