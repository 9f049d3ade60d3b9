"""A sync's records by status, the records behind each of its counts: its linked pairs, the
records waiting for their contact, those its segment leaves out, the pairs whose last change a
side refused, and its open conflicts. Each status is one query that the sync's count counts
and its list pages, so a count is always the length of its list."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from contactflow.platform.clock import utcnow
from contactflow.platform.errors import invalid
from contactflow.sync.models import (
    OPEN,
    RecordStatus,
    Sync,
    SyncChange,
    SyncConflict,
    SyncLink,
    SyncPending,
)
from contactflow.sync.objects import kind_of
from contactflow.sync.parents import segment_of
from contactflow.sync.segments import left_out_records

REMOTE_EXCLUDED: Final = (
    "a remote account's contacts are not kept here, so those its segment leaves out cannot "
    "be listed: its excluded count is what its last backfill left out"
)


def listable(sync: Sync, status: RecordStatus) -> bool:
    """Whether the sync's records with `status` can be listed: all but a remote account's
    contacts left out by the segment."""
    return status != "excluded" or sync.connection_id is None


@dataclass(frozen=True)
class Listed:
    """One record behind a count. `key` orders the list (a record's id; an open conflict's
    own, as a pair may hold one per field); `pair` is the Contacts API id of its linked pair,
    whose history the sync keeps, when it has one."""

    key: str
    crm_id: str | None
    mailsuite_id: str | None
    at: datetime | None
    reason: str | None
    pair: str | None


# The columns every status lists, in the order of Listed's fields, and what makes one.
Columns = Select[Any, Any, Any, Any, Any, Any]
Column = ColumnElement[Any] | InstrumentedAttribute[Any]


def _columns(
    key: Column,
    crm_id: Column,
    mailsuite_id: Column,
    at: Column,
    reason: Column,
    pair: Column = SyncLink.crm_id,
) -> Columns:
    return select(
        key.label("key"),
        crm_id.label("crm_id"),
        mailsuite_id.label("mailsuite_id"),
        at.label("at"),
        reason.label("reason"),
        pair.label("pair"),
    )


def _pair_of(sync: Sync, crm_id: Column) -> ColumnElement[bool]:
    """The sync's link of the Contacts API record `crm_id` (by the whole of the links' unique
    index: without the object, each look-up would read every link of the sync)."""
    return and_(
        SyncLink.sync_id == sync.id, SyncLink.object == sync.object, SyncLink.crm_id == crm_id
    )


def _linked(sync: Sync) -> Subquery:
    gone = literal("gone: ") + SyncLink.gone
    listed = _columns(
        SyncLink.crm_id, SyncLink.crm_id, SyncLink.mailsuite_id, SyncLink.synced_at, gone
    )
    return listed.where(SyncLink.sync_id == sync.id).subquery()


def _waiting(sync: Sync) -> Subquery:
    record, side = SyncPending.record_id, SyncPending.side
    listed = _columns(
        record,
        case((side == "crm", record)),
        case((side == "mailsuite", record)),
        SyncPending.since,
        literal("waits for its contact ") + SyncPending.parent_id,
        null(),
    )
    return listed.where(SyncPending.sync_id == sync.id).subquery()


async def _excluded(session: AsyncSession, sync: Sync) -> Subquery:
    """This workspace's contacts the segment leaves out (or the records of those contacts),
    with their partner when a pair of them was linked before it left them out."""
    if not listable(sync, "excluded"):
        raise invalid("status", REMOTE_EXCLUDED)
    kind, location = kind_of(sync.object), sync.location_id
    segment = await segment_of(session, sync)
    records = kind.listings["crm"](location) if kind.of_contact else None
    left = left_out_records(location, segment, utcnow(), records).subquery()
    record, why = left.c[0], left.c[1]
    listed = _columns(record, record, SyncLink.mailsuite_id, SyncLink.synced_at, why)
    return listed.outerjoin(SyncLink, _pair_of(sync, record)).subquery()


def _failing(sync: Sync) -> Subquery:
    """Linked pairs whose newest change in their history a side refused. Read from the
    refused changes (the history's index of results finds them; few, as a rule), each kept
    when no change of its pair came after it: the cost grows with the refusals, not with the
    pairs, whose every history a look-up per pair read at each count."""
    later = aliased(SyncChange)
    refused = SyncChange
    newer = exists().where(
        later.sync_id == refused.sync_id,
        later.crm_id == refused.crm_id,
        or_(later.at > refused.at, and_(later.at == refused.at, later.id > refused.id)),
    )
    listed = _columns(
        SyncLink.crm_id, SyncLink.crm_id, SyncLink.mailsuite_id, refused.at, refused.reason
    )
    return (
        listed.select_from(refused)
        .join(SyncLink, _pair_of(sync, refused.crm_id))
        .where(refused.sync_id == sync.id, refused.result == "refused", ~newer)
        .subquery()
    )


def _conflict(sync: Sync) -> Subquery:
    listed = _columns(
        SyncConflict.id,
        SyncConflict.crm_id,
        SyncConflict.mailsuite_id,
        SyncConflict.updated_at,
        SyncConflict.field + literal(": changed on both sides"),
    )
    return (
        listed.outerjoin(SyncLink, _pair_of(sync, SyncConflict.crm_id))
        .where(SyncConflict.sync_id == sync.id, SyncConflict.state == OPEN)
        .subquery()
    )


async def _query(session: AsyncSession, sync: Sync, status: RecordStatus) -> Subquery:
    if status == "excluded":
        return await _excluded(session, sync)
    return {"linked": _linked, "waiting": _waiting, "failing": _failing, "conflict": _conflict}[
        status
    ](sync)


async def count(session: AsyncSession, sync: Sync, status: RecordStatus) -> int:
    """How many records of the sync have `status`."""
    listed = await _query(session, sync, status)
    return int(await session.scalar(select(func.count()).select_from(listed)) or 0)


async def page(
    session: AsyncSession, sync: Sync, status: RecordStatus, *, after: str | None, limit: int
) -> tuple[list[Listed], str | None]:
    """A page of the sync's records with `status` in the order of their keys (after the key
    `after`), and the key the next page starts after (None on the last)."""
    listed = await _query(session, sync, status)
    query = select(listed).order_by(listed.c.key).limit(limit + 1)
    if after is not None:
        query = query.where(listed.c.key > after)
    rows = [Listed(*row) for row in await session.execute(query)]
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], rows[limit - 1].key
