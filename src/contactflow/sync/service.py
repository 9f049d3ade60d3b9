"""Syncs as data: create (with its backfill, and its event-log cursor at the log's end; of a
remote account, through a connection with the scopes it needs), read, change (its
reconciliation schedule too), pause, resume, resync (its backfill again, keeping its identity
map), delete; each scoped to the caller's location."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows.connections.models import LOCAL, Connection
from contactflow.flows.connections.polling import poll_from_now
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.platform import topics
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Conflict, NotFound, Unprocessable, invalid
from contactflow.platform.events import ConsumerCursor, EventStream, lock_cursor
from contactflow.sync import backfill, parents, presence
from contactflow.sync.fields import FieldMap, checked_mapping
from contactflow.sync.models import (
    ACTIVE,
    PAUSED,
    QUEUED,
    RUNNING,
    DeletePolicy,
    Direction,
    Sync,
    SyncBackfill,
    SyncObject,
    SyncReconciliation,
    SyncStatus,
)
from contactflow.sync.objects import ObjectKind, kind_of
from contactflow.sync.pairs import writes
from contactflow.sync.segments import Segment

SYNC_NOT_FOUND = "Sync not found"
CONNECTION = "connectionId"
# How often a remote account's contacts are polled for the changes its webhooks missed, when
# its connection did not poll already.
SAFETY_POLL_SECONDS = 60


def consumer_name(sync_id: str) -> str:
    """The sync's cursor over its location's event log."""
    return f"sync:{sync_id}"


@dataclass(frozen=True)
class SyncSettings:
    # Without a name, direction or mapping: the object's own (sync/objects.py).
    name: str | None = None
    object: SyncObject = "contacts"
    direction: Direction | None = None
    mapping: tuple[FieldMap, ...] | None = None
    # Minutes between scheduled reconciliations; 0: only when asked for.
    reconcile_every: int = 0
    on_delete: DeletePolicy = "ignore"
    # A connection to a remote account whose contacts are the CRM side; None: this workspace.
    connection_id: str | None = None
    # Which contacts it covers; None: every contact.
    segment: Segment | None = None


def _checked_segment(kind: ObjectKind, segment: Segment) -> Segment:
    """`segment`, which only a contacts sync takes: a sync of a contact's records covers the
    records of the contacts its contacts sync covers (422 naming `segment`)."""
    if kind.of_contact and not segment.everyone:
        raise invalid(
            "segment",
            f"a {kind.name} sync covers the {kind.name} of the contacts the location's contacts "
            "sync covers: give the segment to the contacts sync",
        )
    return segment


def schedule(sync: Sync, minutes: int | None) -> None:
    """Reconcile `sync` every `minutes` from now on (None or 0: only when asked)."""
    sync.reconcile_minutes = minutes or None
    sync.reconcile_due_at = utcnow() + timedelta(minutes=minutes) if minutes else None


async def _check_remote(
    session: AsyncSession,
    location_id: str,
    connection_id: str,
    kind: ObjectKind,
    direction: Direction,
) -> Connection:
    """The connection a sync of `direction` may use: 422 naming `connectionId` when it is
    none of the location's remote Contacts API connections, or lacks a scope it needs."""
    row = await session.get(Connection, connection_id)
    if row is None or row.location_id != location_id:
        raise invalid(CONNECTION, f"no connection {connection_id} in this location")
    if row.kind != "contacts":
        raise invalid(CONNECTION, f"{row.id} is a {row.kind} connection, not a Contacts API")
    if row.auth == LOCAL:
        raise invalid(CONNECTION, f"{row.id} is this workspace: leave connectionId out")
    read, write = kind.remote_scopes
    needed = [read, *([write] if writes(direction, "crm") else [])]
    for scope in needed:
        if scope not in row.scopes:
            raise invalid(
                CONNECTION,
                f"the sync needs scope {scope}, which connection {row.id} was not granted "
                "(add it to the connection's scopes)",
            )
    return row


async def _contacts_connection(
    session: AsyncSession, location_id: str, kind: ObjectKind, wanted: str | None
) -> str | None:
    """The account a sync of a contact's records reads: its contacts sync's (this workspace,
    or that sync's remote account). 422 when the location has no contacts sync, or the sync
    names another connection."""
    contacts = await parents.contacts_sync(session, location_id)
    if contacts is None:
        raise Unprocessable(
            [
                f"object: a {kind.name} sync pairs the records of contacts the location's "
                "contacts sync links; create that sync first"
            ]
        )
    connection_id = await session.scalar(select(Sync.connection_id).where(Sync.id == contacts))
    if wanted is not None and wanted != connection_id:
        where = f"connection {connection_id}" if connection_id else "this workspace"
        raise invalid(
            CONNECTION,
            f"a {kind.name} sync reads the account of the location's contacts sync ({where}): "
            "leave connectionId out",
        )
    return connection_id


async def find_sync(session: AsyncSession, location_id: str, sync_id: str) -> Sync:
    sync = await session.get(Sync, sync_id)
    if sync is None or sync.location_id != location_id:
        raise NotFound(SYNC_NOT_FOUND)
    return sync


async def list_syncs(
    session: AsyncSession, location_id: str, *, before: Position | None, limit: int
) -> Page[Sync]:
    query = select(Sync).where(Sync.location_id == location_id)
    return await newest_first(session, query, Sync.created_at, Sync.id, before=before, limit=limit)


async def create_sync(uow: UnitOfWork, location_id: str, wanted: SyncSettings) -> Sync:
    """A sync, active at once: its backfill links what both sides hold now, and its cursor
    reads the changes made from now on. 409 when the location syncs these objects already;
    422 for a sync of a contact's records when the location has no contacts sync. Such a sync
    reads the account its contacts sync reads (a remote one too)."""
    kind = kind_of(wanted.object)
    mapping = checked_mapping(list(wanted.mapping or kind.mapping), kind.catalog)
    segment = _checked_segment(kind, wanted.segment or Segment())
    direction = kind.checked_direction(wanted.direction or kind.directions[0])
    connection_id = wanted.connection_id
    await uow.lock(f"syncs:{location_id}")
    if kind.of_contact:
        connection_id = await _contacts_connection(uow.session, location_id, kind, connection_id)
    connection = None
    if connection_id is not None:
        connection = await _check_remote(
            uow.session,
            location_id,
            connection_id,
            kind,
            direction,
        )
    taken = await uow.session.scalar(
        select(Sync.id).where(Sync.location_id == location_id, Sync.object == wanted.object)
    )
    if taken is not None:
        raise Conflict(
            f"object: this location syncs {wanted.object} already, in sync {taken}",
            meta={"syncId": taken},
        )
    now = utcnow()
    sync = Sync(
        location_id=location_id,
        name=wanted.name or kind.title,
        object=wanted.object,
        direction=direction,
        mapping=[entry.as_data() for entry in mapping],
        segment=segment.as_data(),
        status=ACTIVE,
        on_delete=wanted.on_delete,
        connection_id=connection_id,
        created_at=now,
        updated_at=now,
    )
    schedule(sync, wanted.reconcile_every)
    uow.session.add(sync)
    uow.after_commit(presence.sync_made)
    await uow.session.flush()
    cursor = await lock_cursor(uow, consumer_name(sync.id), location_id)
    assert cursor is not None  # a new consumer's cursor: nobody else holds it
    stream = await uow.session.get(EventStream, location_id)
    cursor.position = stream.last_seq if stream is not None else 0
    await backfill.start(uow, sync)
    if connection is not None:
        poll_from_now(uow, connection, SAFETY_POLL_SECONDS)
    return sync


async def change_sync(
    uow: UnitOfWork,
    location_id: str,
    sync_id: str,
    *,
    name: str | None = None,
    direction: Direction | None = None,
    mapping: list[FieldMap] | None = None,
    reconcile_every: int | None = None,
    on_delete: DeletePolicy | None = None,
    segment: Segment | None = None,
) -> Sync:
    """Rename it, change its direction or mapping (pairs are reconciled with the new ones as
    their records next change), how often it is reconciled, its delete policy, or its
    segment (walked again: see `_segment_changed`)."""
    sync = await find_sync(uow.session, location_id, sync_id)
    kind = kind_of(sync.object)
    if segment is not None:
        stored = _checked_segment(kind, segment).as_data()
        if stored != sync.segment:
            sync.segment = stored
            await _segment_changed(uow, sync, segment)
    if sync.connection_id is not None:
        await _check_remote(
            uow.session,
            location_id,
            sync.connection_id,
            kind,
            direction or sync.direction,
        )
    if mapping is not None:
        sync.mapping = [entry.as_data() for entry in checked_mapping(mapping, kind.catalog)]
    if name is not None:
        sync.name = name
    if direction is not None:
        sync.direction = kind.checked_direction(direction)
    if reconcile_every is not None:
        schedule(sync, reconcile_every)
    if on_delete is not None:
        sync.on_delete = on_delete
    sync.updated_at = utcnow()
    return sync


async def _segment_changed(uow: UnitOfWork, sync: Sync, segment: Segment) -> None:
    """The contacts sync `sync` covers `segment` now: its backfill and those of the syncs that
    pair through it start again from the first record (keeping their identity maps), so the
    contacts it now covers are linked with their tasks, notes and appointments without
    waiting for their next change, and those it leaves out are counted. The records waiting
    for a contact it leaves out wait no longer."""
    location_id = sync.location_id
    if sync.connection_id is None:
        await parents.drop_waiting(uow, location_id, segment.left_out(location_id, utcnow()))
    for walked in await uow.session.scalars(select(Sync).where(Sync.location_id == location_id)):
        await backfill.start(uow, walked)


async def set_status(uow: UnitOfWork, location_id: str, sync_id: str, status: SyncStatus) -> Sync:
    """Pause (changes wait in the event log; the backfill stops after its batch) or resume
    (they are synced, and the backfill goes on, from where each stopped)."""
    sync = await find_sync(uow.session, location_id, sync_id)
    if sync.status != status:
        sync.status, sync.updated_at = status, utcnow()
        if status == ACTIVE:
            uow.wake(topics.SYNC_BACKFILLS, topics.SYNC_CHANGES)
    return sync


def reconciliation_lock(sync_id: str) -> str:
    """The lock under which a sync's reconciliation is asked for or its backfill restarted:
    one waits for the other, so neither starts while the other is under way."""
    return f"sync-reconciliation:{sync_id}"


async def resync(uow: UnitOfWork, location_id: str, sync_id: str) -> Sync:
    """Start the sync's backfill again from the first record, keeping its identity map: each
    linked pair is compared again (whichever side changed, told or not) and each record not
    linked is linked. 409 while its backfill runs, it is paused, or a reconciliation of it
    is checking or repairing (its findings would be of the sync as it stood before)."""
    sync = await find_sync(uow.session, location_id, sync_id)
    await uow.lock(reconciliation_lock(sync.id))
    job = await uow.session.get(SyncBackfill, sync.id, with_for_update=True)
    if sync.status == PAUSED:
        raise Conflict(f"sync: {sync.id} is paused; resume it, then resync")
    if job is not None and job.state == RUNNING:
        raise Conflict(
            f"sync: the backfill of {sync.id} is running ({job.done} of {job.total}); "
            "resync once it has finished"
        )
    checking = await uow.session.scalar(
        select(SyncReconciliation.id).where(
            SyncReconciliation.sync_id == sync.id,
            or_(
                SyncReconciliation.state.in_((QUEUED, RUNNING)),
                SyncReconciliation.repair_state == RUNNING,
            ),
        )
    )
    if checking is not None:
        raise Conflict(
            f"sync: reconciliation {checking} of {sync.id} is checking or repairing; "
            "resync once it has finished"
        )
    await backfill.start(uow, sync)
    sync.updated_at = utcnow()
    return sync


async def delete_sync(uow: UnitOfWork, location_id: str, sync_id: str) -> None:
    """The sync, its identity map and backfill, and its cursor. Records stay as they are.
    409 for the contacts sync while a sync of contacts' records pairs through it."""
    sync = await find_sync(uow.session, location_id, sync_id)
    if not kind_of(sync.object).of_contact:
        dependent = await uow.session.scalar(
            select(Sync.id).where(Sync.location_id == location_id, Sync.id != sync.id)
        )
        if dependent is not None:
            raise Conflict(
                f"sync: sync {dependent} pairs the records of the contacts this sync links; "
                "delete that one first",
                meta={"syncId": dependent},
            )
    await uow.session.execute(
        delete(ConsumerCursor).where(ConsumerCursor.consumer == consumer_name(sync.id))
    )
    await uow.session.delete(sync)
