"""Incremental sync: each active sync reads its location's event log from its own cursor (the
events of its object's records, sync/objects.py) and brings the partner of each changed record
in step (sync/pairs.py).

No echo: the sync's writes carry its origin on their events, which it passes over; and a
record whose mapped fields still hash as the identity map last recorded them is its own
write come back, whatever carried it. So a two-way sync never loops. The cursor moves in the
transaction that syncs, so a change is synced once; a paused sync's cursor waits. A batch of
changes is synced together (sync/change_batch.py)."""

import logging
from functools import cache

from sqlalchemy import Select, and_, func, literal, or_, select

from contactflow.flows.connections.models import REMOTE_PREFIX, remote_origin
from contactflow.platform import tracing
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database, UnitOfWork, one_of
from contactflow.platform.events import ConsumerCursor, Event, EventStream, next_batch
from contactflow.sync import events as sync_events
from contactflow.sync.change_batch import Change, sync_changes
from contactflow.sync.models import (
    ACTIVE,
    RECORDS,
    SideName,
    Sync,
    batch_attributes,
    sync_origin,
)
from contactflow.sync.objects import KINDS, kind_of
from contactflow.sync.pairs import Outcome, PairSync, pairs_for
from contactflow.sync.presence import syncs_exist
from contactflow.sync.service import consumer_name

log = logging.getLogger("contactflow.sync")
# With no watched event to read, a cursor moves only this many events at a time.
CURSOR_STRIDE = 1000


async def behind(db: Database, *, remote: bool) -> list[str]:
    """Active syncs (of a remote account, or of this workspace) with a watched event past
    their cursor (or many other events): one read without the write lock."""
    query = _behind(remote)
    return await db.read(lambda connection: list(connection.scalars(query)))


@cache
def _behind(remote: bool) -> Select[str]:
    """`behind`'s statement, built once per kind of sync: every commit of a watched event
    wakes the loops that ask it."""
    position = func.coalesce(ConsumerCursor.position, 0)
    unread = (
        select(Event.id)
        .where(
            Event.location_id == Sync.location_id,
            Event.seq > position,
            or_(
                *(
                    and_(Sync.object == name, one_of(Event.type, kind.events))
                    for name, kind in KINDS.items()
                )
            ),
        )
        .exists()
    )
    kind = Sync.connection_id.is_not(None) if remote else Sync.connection_id.is_(None)
    return (
        select(Sync.id)
        .join(EventStream, EventStream.location_id == Sync.location_id)
        .outerjoin(
            ConsumerCursor,
            (ConsumerCursor.consumer == literal(consumer_name("")) + Sync.id)
            & (ConsumerCursor.location_id == Sync.location_id),
        )
        .where(
            Sync.status == ACTIVE,
            kind,
            EventStream.last_seq > position,
            or_(EventStream.last_seq - position >= CURSOR_STRIDE, unread),
        )
    )


async def _consume(db: Database, sync_id: str, region: str, batch: int) -> bool:
    async with db.unit_of_work() as uow:
        sync = await uow.session.get(Sync, sync_id)
        if sync is None or sync.status != ACTIVE:
            return False
        types = tuple(kind_of(sync.object).events)
        found = await next_batch(uow, consumer_name(sync.id), sync.location_id, types, batch)
        if found is None:
            return False
        with tracing.span("sync batch", batch_attributes(sync, "changes")) as span:
            span.set(RECORDS, len(found.events))
            await _sync_changes(uow, sync, found.events, region)
        found.done()
        return bool(found.events)


def changes_of(sync: Sync, events: list[Event]) -> list[Change]:
    """The records the events changed, each once, leaving out the sync's own writes. A
    contact's events are those of the sync's remote account (they come in with its connection
    as their origin), or this workspace's own."""
    kind = kind_of(sync.object)
    own, remote = sync_origin(sync.id), None
    if sync.connection_id is not None:
        remote = remote_origin(sync.connection_id)
    found: dict[Change, None] = {}
    for event in events:
        watched = kind.events[event.type]
        subject = watched.record_id(event)
        if event.origin == own or subject is None:
            continue
        from_remote = (event.origin or "").startswith(REMOTE_PREFIX)
        if watched.side == "crm" and (event.origin != remote if remote else from_remote):
            continue
        found[Change(watched.side, subject, watched.deleted)] = None
    return list(found)


async def _sync_changes(uow: UnitOfWork, sync: Sync, events: list[Event], region: str) -> None:
    uow.origin = sync_origin(sync.id)
    await uow.lock(f"sync:{sync.id}")
    pairs = pairs_for(uow, sync, region)
    for change, outcome in await sync_changes(pairs, changes_of(sync, events)):
        await told(pairs, change.side, change.record_id, outcome)


async def told(pairs: PairSync, side: SideName, record_id: str, outcome: Outcome) -> None:
    """A record a side refused, on the sync (its last error), in the event log and in its
    pair's history."""
    if outcome.kind != "failed":
        return
    sync, reason = pairs.sync, outcome.reason or ""
    log.info("sync %s: %s %s not synced: %s", sync.id, side, record_id, reason)
    sync.last_error = f"{side} record {record_id}: {reason}"
    sync.last_error_at = utcnow()
    await sync_events.failed(pairs.uow, sync, side, record_id, reason)
    await pairs.refused(side, record_id, reason)


async def consume(db: Database, region: str, batch: int) -> bool:
    """One round over every active sync with unread changes; True when it read any."""
    if not await syncs_exist(db):
        return False
    busy = False
    for sync_id in await behind(db, remote=False):
        busy = await _consume(db, sync_id, region, batch) or busy
    return busy
