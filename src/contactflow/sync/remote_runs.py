"""Syncs whose CRM side is a remote account (ADR 0036): their backfill and their changes,
batch by batch, with no remote call inside a transaction.

A batch takes the sync's lease (one worker at a time calls the remote for a sync), reads
what it needs of the remote first (a page of contacts, the changed ones), then goes in
rounds: a transaction brings the pairs in step with the Mailsuite side, those that need the
remote rolled back (sync/staged.py); after its commit the calls they asked for are made; the
next round takes them again. The last round's transaction moves the backfill's position or
the event-log cursor. A remote that fails (429s and 5xx past the client's retries, out of
reach, a token refused) ends the batch: the sync waits, twice as long after each failure in
a row, shows why (`lastError`), and tries again by itself; a token that no longer refreshes
also asks for the connection to be connected again (`remedy`).

A person's decision on one of its pairs (a conflict resolved, a held delete approved) is
made the same way, from the request that asks for it, under the lease (ADR 0043); so is a
repair of a reconciliation's findings, whose comparison lists the remote's records first,
outside any transaction (ADR 0044, 0045)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import TypeVar
from uuid import uuid4

import httpx
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows.connections.models import Connection
from contactflow.flows.connections.oauth_client import AuthorizationFailed, TokenEndpointDown
from contactflow.flows.connections.outbound import Authorizer
from contactflow.flows.connections.rate_budget import RateLimits, remote_limits
from contactflow.flows.connections.remote_client import RemoteAccount, RemoteFailed
from contactflow.platform import issues
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.errors import Conflict, ServiceUnavailable
from contactflow.platform.events import (
    ConsumerCursor,
    Event,
    EventStream,
    lock_cursor,
    read_events,
)
from contactflow.platform.runtime import url_policy
from contactflow.platform.webhooks.ssrf import UrlPolicy
from contactflow.settings import Settings
from contactflow.sync import backfill, parents, pending
from contactflow.sync.backfill import position, walked
from contactflow.sync.bulk import link_crm_records
from contactflow.sync.change_batch import Change, synced
from contactflow.sync.drift import Listed
from contactflow.sync.incremental import behind, changes_of, told
from contactflow.sync.models import ACTIVE, RUNNING, Sync, SyncBackfill, SyncLink, sync_origin
from contactflow.sync.objects import ObjectKind, kind_of
from contactflow.sync.pairs import Outcome, PairSync, guarded
from contactflow.sync.presence import syncs_exist
from contactflow.sync.remote import PAGE_LIMIT, RemoteContacts, RemoteSide
from contactflow.sync.remote_records import (
    RemoteRecords,
    Taken,
    contact_named,
    contact_of,
    remote_id,
)
from contactflow.sync.service import consumer_name
from contactflow.sync.sides import Record, RemoteNeeded
from contactflow.sync.staged import StagedCrm, refused_write

Item = TypeVar("Item")
Made = TypeVar("Made")
# Rounds of one batch: a record new to both sides needs three (match, create, link).
ROUNDS = 5
LONGEST_WAIT = timedelta(minutes=10)
# How long a person's decision waits for a worker's batch of the sync to end, and how often
# it looks.
LEASE_WAIT_SECONDS = 20.0
LEASE_POLL_SECONDS = 0.2
UNSETTLED = (
    "the remote account's answers kept changing while the pair was synced; its next change "
    "is synced again"
)


@dataclass(frozen=True)
class RemoteSyncSettings:
    http: httpx.AsyncClient
    policy: UrlPolicy
    limits: RateLimits
    region: str
    batch: int
    lease: timedelta
    # The first wait after the remote failed; doubled after each failure in a row.
    backoff: timedelta

    @classmethod
    def of(cls, settings: Settings, http: httpx.AsyncClient) -> "RemoteSyncSettings":
        return cls(
            http=http,
            policy=url_policy(settings),
            limits=remote_limits(settings),
            region=settings.default_phone_region,
            batch=min(settings.sync_batch_size, PAGE_LIMIT),
            lease=timedelta(seconds=settings.lease_seconds),
            backoff=timedelta(seconds=settings.sync_remote_backoff_seconds),
        )


@dataclass(frozen=True)
class Batch:
    """One batch of one sync, by the worker `owner`, through the sync's connection."""

    db: Database
    settings: RemoteSyncSettings
    owner: str
    sync_id: str
    location_id: str
    kind: ObjectKind
    # The remote's contacts (walked by a backfill of their records too), and the sync's
    # object there.
    contacts: RemoteContacts
    remote: RemoteSide


Handle = Callable[[PairSync, list[Item]], Awaitable[list[tuple[Item, Outcome]]]]


async def _each_synced(pairs: PairSync, changes: list[Change]) -> list[tuple[Change, Outcome]]:
    """Each change synced alone, in a savepoint of its own."""
    return [(change, await guarded(pairs.uow, synced(pairs, change))) for change in changes]


async def _rounds(
    batch: Batch,
    staged: StagedCrm,
    items: list[Item],
    handle: Handle[Item],
    finish: Callable[[PairSync, list[tuple[Item, Outcome]]], Awaitable[None]],
) -> bool:
    """Bring the pairs of `items` in step (`handle` says what became of each), round by
    round; `finish` in the last round's transaction. False when the sync's lease was lost
    (another worker has the sync)."""
    pending, done = items, list[tuple[Item, Outcome]]()
    for round_number in range(1, ROUNDS + 1):
        await staged.call(batch.remote)
        async with batch.db.unit_of_work() as uow:
            sync = await uow.session.get(Sync, batch.sync_id)
            if sync is None or sync.lease_owner != batch.owner:
                return False
            uow.origin = sync_origin(sync.id)
            await uow.lock(f"sync:{sync.id}")
            mailsuite = batch.kind.mailsuite_side(uow, sync.location_id, batch.settings.region)
            pairs = PairSync(uow, sync, staged, mailsuite)
            waiting: list[Item] = []
            for item, outcome in await handle(pairs, pending):
                if outcome.kind == "deferred":
                    waiting.append(item)
                else:
                    done.append((item, outcome))
            sync.leased_until = utcnow() + batch.settings.lease
            if not waiting or round_number == ROUNDS:
                done += [(item, Outcome("failed", UNSETTLED)) for item in waiting]
                await finish(pairs, done)
                sync.retry_at, sync.failures, sync.remedy = None, 0, None
                return True
        pending = waiting
    raise AssertionError("the last round finishes")


async def _contacts_first(session: AsyncSession, location_id: str) -> bool:
    """Whether the location's contacts sync still runs its backfill: a backfill of their
    records waits for it, so that the contacts it walks are linked already."""
    contacts = await parents.contacts_sync(session, location_id)
    job = await session.get(SyncBackfill, contacts) if contacts is not None else None
    return job is not None and job.state == RUNNING


async def _backfill(batch: Batch) -> bool:
    """The next page of the remote's contacts, linked to their Mailsuite partners; or, of a
    sync of their records (tasks, notes), each one's records linked to theirs. The position,
    and the count, are the contacts'. Then, as this workspace's backfill does, the Mailsuite
    records that no link names."""
    size = batch.settings.batch
    async with batch.db.reader() as session:
        job = await session.get(SyncBackfill, batch.sync_id)
        if job is None or job.state != RUNNING:
            return False
        if batch.kind.of_contact and await _contacts_first(session, batch.location_id):
            return False
        if job.walking == "mailsuite":
            sync = await session.get(Sync, batch.sync_id)
            assert sync is not None
            unlinked = list(await session.scalars(backfill.unlinked(sync, job.after_id, size)))
            return await _mailsuite_walk(batch, job.after_id, unlinked)
        started, after, counted = job.started_at, position(job), job.done > 0 or job.total > 0
        segment = await parents.contacts_segment(session, batch.location_id)
    total = None if counted else await batch.contacts.count(started)
    contacts = await batch.contacts.page(started, after, size)
    records = contacts
    if isinstance(batch.remote, RemoteRecords):
        # The records of a contact the segment leaves out are not read at all.
        now = utcnow()
        covered = (contact.id for contact in contacts if segment.covers(contact, now))
        records = await batch.remote.of_contacts(covered)
    staged = StagedCrm()
    for record in records:
        staged.know(record)

    def link(pairs: PairSync, pending: list[Record]) -> Awaitable[list[tuple[Record, Outcome]]]:
        return link_crm_records(pairs, pending, "backfill")

    async def finish(pairs: PairSync, outcomes: list[tuple[Record, Outcome]]) -> None:
        current = await pairs.uow.session.get(SyncBackfill, batch.sync_id)
        if current is None or position(current) != after:
            return  # moved on meanwhile: this batch's links are made, its count is not
        if total is not None:
            current.total = total
        walked(current, contacts, [outcome for _, outcome in outcomes], size)
        await backfill.turn(pairs.uow.session, pairs.sync, current)

    return await _rounds(batch, staged, records, link, finish)


async def _mailsuite_walk(batch: Batch, after: str | None, unlinked: list[str]) -> bool:
    """The Mailsuite records `unlinked` (the next of those no link names, past `after`), each
    synced as a change of it is: matched on the remote by email then phone, or made there."""

    async def finish(pairs: PairSync, outcomes: list[tuple[Change, Outcome]]) -> None:
        current = await pairs.uow.session.get(SyncBackfill, batch.sync_id)
        if current is None or current.walking != "mailsuite" or current.after_id != after:
            return  # moved on meanwhile, or started again
        done = [outcome for _, outcome in outcomes]
        backfill.walked_mailsuite(current, unlinked, done, batch.settings.batch)

    changes = backfill.mailsuite_changes(unlinked)
    return await _rounds(batch, StagedCrm(), changes, _each_synced, finish)


async def _changes(batch: Batch, sync: Sync) -> bool:
    """The next events of the location: the remote's contacts changed (its webhooks, the
    connection's polls) and the Mailsuite's, each brought in step with its partner."""
    consumer, location = consumer_name(sync.id), batch.location_id
    async with batch.db.reader() as session:
        cursor = await session.get(ConsumerCursor, (consumer, location))
        stream = await session.get(EventStream, location)
        start = cursor.position if cursor is not None else 0
        end = stream.last_seq if stream is not None else 0
        if end <= start:
            return False
        size = batch.settings.batch
        events = await read_events(
            session,
            location,
            after=start,
            limit=size,
            types=list(kind_of(sync.object).events),
            until=end,
        )
    changes = changes_of(sync, events)
    if batch.kind.of_contact:
        changes = _named(batch.kind, changes, events)
    staged = StagedCrm()
    staged.reads = {change.record_id for change in changes if change.side == "crm"}

    async def finish(pairs: PairSync, outcomes: list[tuple[Change, Outcome]]) -> None:
        for change, outcome in outcomes:
            await told(pairs, change.side, change.record_id, outcome)
        current = await lock_cursor(pairs.uow, consumer, location)
        if current is None or current.position != start:
            return
        current.position = events[-1].seq if len(events) == size else end

    return await _rounds(batch, staged, changes, _each_synced, finish)


def _named(kind: ObjectKind, changes: list[Change], events: list[Event]) -> list[Change]:
    """The remote's records of a contact named as the sync keeps them, with their contact
    (sync/remote_records.py); one whose event names no contact is left out."""
    contacts: dict[str, str] = {}
    for event in events:
        watched = kind.events[event.type]
        record_id, contact = watched.record_id(event), contact_of(event)
        if watched.side == "crm" and record_id and contact:
            contacts[record_id] = contact
    return [
        change
        if change.side == "mailsuite"
        else replace(change, record_id=remote_id(contacts[change.record_id], change.record_id))
        for change in changes
        if change.side == "mailsuite" or change.record_id in contacts
    ]


async def _waiting(batch: Batch) -> bool:
    """The sync's records that waited for their contacts, which are linked now."""
    query = pending.ready(batch.settings.batch, Sync.id == batch.sync_id)
    rows = await batch.db.read(lambda connection: list(connection.execute(query)))
    if not rows:
        return False
    changes = [Change(side, record_id, False) for _, side, record_id in rows]
    staged = StagedCrm()
    staged.reads = {change.record_id for change in changes if change.side == "crm"}

    async def handle(pairs: PairSync, waiting: list[Change]) -> list[tuple[Change, Outcome]]:
        done: list[tuple[Change, Outcome]] = []
        for change in waiting:
            outcome = await guarded(pairs.uow, synced(pairs, change))
            if outcome.kind != "deferred":
                await parents.done(pairs.uow, pairs.sync, change.side, change.record_id)
            done.append((change, outcome))
        return done

    async def finish(pairs: PairSync, outcomes: list[tuple[Change, Outcome]]) -> None:
        for change, outcome in outcomes:
            await told(pairs, change.side, change.record_id, outcome)

    return await _rounds(batch, staged, changes, handle, finish)


def _taken(db: Database, sync: Sync) -> Taken:
    async def taken(ids: list[str]) -> set[str]:
        query = select(SyncLink.crm_id).where(
            SyncLink.sync_id == sync.id, SyncLink.object == sync.object, SyncLink.crm_id.in_(ids)
        )
        return await db.read(lambda connection: set(connection.scalars(query))) if ids else set()

    return taken


def _ready(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """An active remote sync that does not wait for its remote: it never failed, its wait is
    over, or it asked for a reconnection and its connection changed since (connected again)."""
    reconnected = and_(Sync.remedy.is_not(None), Connection.updated_at > Sync.last_error_at)
    return and_(
        Sync.status == ACTIVE, or_(Sync.retry_at.is_(None), Sync.retry_at <= now, reconnected)
    )


async def _claim(
    db: Database,
    sync_id: str,
    owner: str,
    lease: timedelta,
    ready: ColumnElement[bool] | None = None,
) -> Sync | None:
    """The sync, leased to `owner`; None when it is not `ready` (by default: it waits, or is
    paused) or another worker has it."""
    async with db.unit_of_work() as uow:
        now = utcnow()
        found = await uow.session.scalar(
            select(Sync.id)
            .join(Connection, Connection.id == Sync.connection_id)
            .where(Sync.id == sync_id, _ready(now) if ready is None else ready)
        )
        sync = await uow.session.get(Sync, sync_id, with_for_update=True)
        if found is None or sync is None:
            return None
        held = sync.leased_until is not None and sync.leased_until > now
        if held and sync.lease_owner != owner:
            return None
        sync.lease_owner, sync.leased_until = owner, now + lease
        return sync


def _refused(error: RemoteFailed | AuthorizationFailed) -> bool:
    """Whether the remote refused the connection's token (not an endpoint down)."""
    if isinstance(error, RemoteFailed):
        return error.status == 401
    return not isinstance(error, TokenEndpointDown)


async def _failed(
    db: Database,
    settings: RemoteSyncSettings,
    sync_id: str,
    error: RemoteFailed | AuthorizationFailed,
    owner: str,
) -> None:
    """The remote failed the batch of `owner`: the sync waits, says why, and (a token
    refused, not an endpoint down) asks for the connection to be connected again."""
    async with db.unit_of_work() as uow:
        sync = await uow.session.get(Sync, sync_id)
        if sync is None:
            return
        now = utcnow()
        sync.failures += 1
        wait = min(settings.backoff * 2 ** (sync.failures - 1), LONGEST_WAIT)
        sync.retry_at = now + wait
        sync.last_error, sync.last_error_at = f"remote account: {error}", now
        sync.remedy = issues.RECONNECT if _refused(error) else None
        if sync.lease_owner == owner:
            sync.lease_owner = sync.leased_until = None


async def _batch(db: Database, settings: RemoteSyncSettings, owner: str, sync: Sync) -> Batch:
    """A batch of `sync` by `owner`, through its connection (authorized now)."""
    assert sync.connection_id is not None
    authorize = Authorizer(db, sync.location_id, sync.connection_id, issues.SYNC, sync.id)
    auth = await authorize(None)
    account = RemoteAccount(settings.http, settings.policy, authorize, auth, settings.limits)
    kind = kind_of(sync.object)
    remote = kind.remote_side(account, _taken(db, sync))
    contacts = RemoteContacts(account)
    return Batch(db, settings, owner, sync.id, sync.location_id, kind, contacts, remote)


async def _release(db: Database, sync_id: str, owner: str) -> None:
    async with db.unit_of_work() as uow:
        released = await uow.session.get(Sync, sync_id)
        if released is not None and released.lease_owner == owner:
            released.lease_owner = released.leased_until = None


async def _one(db: Database, settings: RemoteSyncSettings, owner: str, sync_id: str) -> bool:
    sync = await _claim(db, sync_id, owner, settings.lease)
    if sync is None or sync.connection_id is None:
        return False
    try:
        batch = await _batch(db, settings, owner, sync)
        busy = await _backfill(batch)
        busy = await _changes(batch, sync) or busy
        busy = await _waiting(batch) or busy
    except (RemoteFailed, AuthorizationFailed) as error:
        await _failed(db, settings, sync.id, error, owner)
        return False
    await _release(db, sync.id, owner)
    return busy


async def _claimed(db: Database, sync_id: str, owner: str, lease: timedelta) -> None:
    """The sync leased to `owner` for a person's decision, whatever its state (paused, or
    waiting for its remote: the person asks now), once a worker's batch of it ends."""
    deadline = time.monotonic() + LEASE_WAIT_SECONDS
    while await _claim(db, sync_id, owner, lease, ready=true()) is None:
        if time.monotonic() > deadline:
            raise ServiceUnavailable(
                "sync: a worker is syncing it with its remote account; nothing was decided: "
                "decide again in a moment"
            )
        await asyncio.sleep(LEASE_POLL_SECONDS)


async def decide(
    db: Database,
    settings: RemoteSyncSettings,
    sync: Sync,
    work: Callable[[PairSync], Awaitable[Made]],
) -> Made:
    """A person's decision (or a repair) on a pair of the remote sync `sync` (ADR 0043),
    made as its batches are: under its lease, `work` taken again round by round until it
    needs nothing more of the remote, with no remote call inside a transaction. When the
    remote fails, nothing is decided: the sync waits for its remote as after a failed
    batch, and the answer says why (503), so the person decides again."""
    owner = f"decision:{uuid4().hex}"
    await _claimed(db, sync.id, owner, settings.lease)
    made: list[Made] = []

    async def handle(pairs: PairSync, items: list[str]) -> list[tuple[str, Outcome]]:
        try:
            async with pairs.uow.savepoint():
                made.append(await work(pairs))
        except RemoteNeeded:
            return [(item, Outcome("deferred")) for item in items]
        return [(item, Outcome("synced")) for item in items]

    async def finish(_pairs: PairSync, _outcomes: list[tuple[str, Outcome]]) -> None:
        return None

    try:
        batch = await _batch(db, settings, owner, sync)
        kept = await _rounds(batch, StagedCrm(), [sync.id], handle, finish)
    except (RemoteFailed, AuthorizationFailed) as error:
        if isinstance(error, RemoteFailed) and refused_write(error):
            raise Conflict(f"remote account: it refused the write: {error}") from error
        await _failed(db, settings, sync.id, error, owner)
        remedy = issues.RECONNECT if _refused(error) else None
        then = (
            "connect the sync's connection again, then decide again"
            if remedy
            else "decide again once the remote answers (the sync's health says when it does)"
        )
        raise ServiceUnavailable(
            f"remote account: {error}; nothing was decided: {then}", meta={"remedy": remedy}
        ) from error
    finally:
        await _release(db, sync.id, owner)
    if not made:
        why = UNSETTLED if kept else "its lease ran out while the remote answered"
        raise ServiceUnavailable(f"sync: {why}; nothing was decided: decide again")
    return made[0]


async def _contacts_listed(db: Database, sync: Sync) -> list[str]:
    """The remote contacts whose records a reconciliation of `sync` (of a contact's records)
    lists: those the contacts sync links, and those the sync's own links name."""
    async with db.reader() as session:
        linked = await parents.linked_contacts(session, sync.location_id, "crm")
        own = await session.scalars(select(SyncLink.crm_id).where(SyncLink.sync_id == sync.id))
        named = {contact_named(record_id) for record_id in own}
    return sorted(linked | {contact for contact in named if contact is not None})


async def listed(db: Database, settings: RemoteSyncSettings, sync: Sync) -> Listed:
    """The remote account's records for a reconciliation of `sync`: its contacts, every one
    (ADR 0044); or the tasks, notes or appointments of the contacts whose records it pairs,
    a call per contact (ADR 0045), with the contacts too when the segment leaves some out.
    Listed outside any transaction and without the sync's lease (they are only read). When
    the remote fails, the sync waits for it as after a failed batch, and the failure is
    raised."""
    owner = f"reconciliation:{uuid4().hex}"
    since = utcnow()
    try:
        batch = await _batch(db, settings, owner, sync)
        if not isinstance(batch.remote, RemoteRecords):
            return Listed(await batch.contacts.every(), since)
        contact_ids, records = await _contacts_listed(db, sync), list[Record]()
        # A page of contacts at once, so that a large account's calls are not all waiting.
        for start in range(0, len(contact_ids), PAGE_LIMIT):
            records += await batch.remote.of_contacts(contact_ids[start : start + PAGE_LIMIT])
        async with db.reader() as session:
            segment = await parents.contacts_segment(session, sync.location_id)
        contacts = None if segment.everyone else await batch.contacts.every()
        return Listed({record.id: record for record in records}, since, contacts)
    except (RemoteFailed, AuthorizationFailed) as error:
        await _failed(db, settings, sync.id, error, owner)
        raise


async def advance(db: Database, settings: RemoteSyncSettings, owner: str) -> bool:
    """One batch of each active remote sync with a backfill running or changes to read
    (that is not waiting for its remote); True when any did work."""
    if not await syncs_exist(db):
        return False
    ready, running = _ready_and_running()
    now = {"now": utcnow()}
    not_waiting = await db.read(lambda connection: set(connection.scalars(ready, now)))
    if not not_waiting:
        return False  # no remote sync, or each waits for its remote: woken by every change
    backfilling = await db.read(lambda connection: set(connection.scalars(running, now)))
    resumed = pending.ready(settings.batch, Sync.connection_id.is_not(None))
    resuming = await db.read(lambda connection: {row[0] for row in connection.execute(resumed)})
    due = backfilling | ((set(await behind(db, remote=True)) | resuming) & not_waiting)
    busy = False
    for sync_id in sorted(due):
        busy = await _one(db, settings, owner, sync_id) or busy
    return busy


async def next_due(db: Database, after: datetime) -> datetime | None:
    """When the next remote sync that waits for its remote tries again, after `after`."""
    if not await syncs_exist(db):
        return None
    query, bound = _next_retry(), {"after": after}
    return await db.read(lambda connection: connection.scalar(query, bound))


# Built once: every watched change wakes the loop that runs them, remote syncs or none.
@cache
def _ready_and_running() -> tuple[Select[str], Select[str]]:
    """The remote syncs that do not wait for their remote at `:now`, and those of them with a
    backfill running."""
    ready = select(Sync.id).join(Connection, Connection.id == Sync.connection_id)
    ready = ready.where(_ready(bindparam("now", type_=Sync.retry_at.type)))
    running = select(SyncBackfill.sync_id).where(
        SyncBackfill.state == RUNNING, SyncBackfill.sync_id.in_(ready)
    )
    return ready, running


@cache
def _next_retry() -> Select[datetime | None]:
    return select(func.min(Sync.retry_at)).where(
        Sync.retry_at > bindparam("after", type_=Sync.retry_at.type)
    )
