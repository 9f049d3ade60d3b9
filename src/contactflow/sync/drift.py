"""What a reconciliation finds: both sides of a sync read in bulk and compared through its
identity map, pair by pair, by the hashes of their mapped fields.

The links are walked in chunks, in the order of their CRM ids through the sync's unique index
of them, so that each chunk is read from where the last ended (by id, SQLite read every link
of the sync and sorted them for each chunk); each chunk's records are read with one query per
side, by primary key, so the cost is a few queries per thousand pairs, never one per record.
A pair whose fields still hash as the link recorded them is in step without another look; one
that does not is planned as the sync would plan it (sync/reconcile.py): when that plan writes
nothing (the sides differ only as the direction or a policy keeps them) the pair is in step,
otherwise its fields are a finding. Records of either side that no link names are missing on
the other side when the sync's direction would make them there. A record whose change still
waits in the sync's part of the event log is not judged: the sync is about to handle it; nor
is one the sync's segment leaves out (a contact, a record of such a contact, a pair of either).

Of a remote account, the CRM side is its records as listed before the comparison (ADR 0044;
of its tasks, notes and appointments, those of the contacts listed, ADR 0045): the same
comparison reads them from memory, and a pair the sync wrote after the listing began is not
judged either (its listed record may be older than its link)."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite.models import MailContact
from contactflow.platform.clock import utcnow
from contactflow.platform.events import ConsumerCursor, Event
from contactflow.sync import parents
from contactflow.sync.fields import FieldMap, field_hashes, mapping_of
from contactflow.sync.models import (
    FINDING_KINDS,
    FindingKind,
    SideName,
    Sync,
    SyncLink,
    sync_origin,
)
from contactflow.sync.objects import Reader, kind_of
from contactflow.sync.pairs import writes
from contactflow.sync.reconcile import plan
from contactflow.sync.segments import Segment
from contactflow.sync.service import consumer_name
from contactflow.sync.sides import Record

# Links compared per round trip: large enough that the queries are few, small enough that a
# chunk's records are a few megabytes.
CHUNK: Final = 1000


@dataclass(frozen=True)
class Found:
    kind: FindingKind
    crm_id: str | None
    mailsuite_id: str | None
    fields: tuple[str, ...] = ()
    detail: str | None = None


@dataclass(frozen=True)
class Listed:
    """A remote account's records of the sync's object as listed before the comparison
    (begun at `since`): its contacts, every one, or the tasks, notes or appointments of the
    contacts whose records the sync pairs. What the comparison reads of the CRM side in
    place of this workspace's."""

    records: dict[str, Record]
    since: datetime
    # Of a sync of a contact's records: the remote's contacts, by id, when the contacts
    # sync's segment leaves some out (whose records are then no finding); of the contacts
    # sync: None, its records are the contacts.
    contacts: dict[str, Record] | None = None

    async def read(
        self, _session: AsyncSession, _location: str, ids: list[str]
    ) -> dict[str, Record]:
        records = self.records
        return {record_id: records[record_id] for record_id in ids if record_id in records}


@dataclass
class Survey:
    in_sync: int = 0
    pending: int = 0
    found: list[Found] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for item in self.found if item.kind == kind) for kind in FINDING_KINDS}


async def _pending(session: AsyncSession, sync: Sync) -> set[tuple[SideName, str]]:
    """The records whose changes the sync has not read yet."""
    cursor = await session.get(ConsumerCursor, (consumer_name(sync.id), sync.location_id))
    kind = kind_of(sync.object)
    events = await session.scalars(
        select(Event).where(
            Event.location_id == sync.location_id,
            Event.seq > (cursor.position if cursor is not None else 0),
            Event.type.in_(tuple(kind.events)),
            Event.subject_id.is_not(None),
            # The sync's own writes are no change to it (its consumer passes over them).
            or_(Event.origin.is_(None), Event.origin != sync_origin(sync.id)),
        )
    )
    return {
        (kind.events[event.type].side, str(kind.record_id(event)))
        for event in events
        if kind.record_id(event) is not None
    }


@dataclass(frozen=True)
class _Linked:
    """A link as the comparison reads it: its columns, not an object of the session."""

    crm_id: str
    mailsuite_id: str
    crm_fields: dict[str, str]
    mailsuite_fields: dict[str, str]
    gone: SideName | None
    synced_at: datetime


_LINK_COLUMNS: Final = (
    SyncLink.crm_id,
    SyncLink.mailsuite_id,
    SyncLink.crm_fields,
    SyncLink.mailsuite_fields,
    SyncLink.gone,
    SyncLink.synced_at,
)


class _Comparison:
    def __init__(
        self, sync: Sync, pending: set[tuple[SideName, str]], since: datetime | None
    ) -> None:
        self.sync, self.pending, self.since, self.result = sync, pending, since, Survey()
        self.mapping: list[FieldMap] = mapping_of(sync.mapping)
        self.crm_names = [entry.crm for entry in self.mapping]
        self.mail_names = [entry.mailsuite for entry in self.mapping]

    def waiting(self, crm_id: str | None, mailsuite_id: str | None) -> bool:
        if ("crm", crm_id) in self.pending or ("mailsuite", mailsuite_id) in self.pending:
            self.result.pending += 1
            return True
        return False

    def pair(self, link: _Linked, crm: Record | None, mailsuite: Record | None) -> None:
        if self.waiting(link.crm_id, link.mailsuite_id):
            return
        if self.since is not None and link.synced_at >= self.since:
            # Synced while the remote was listed: its listed record may be older than the
            # link; the sync has just handled it.
            self.result.pending += 1
            return
        if crm is None or mailsuite is None:
            gone = [side for side, record in (("crm", crm), ("mailsuite", mailsuite)) if not record]
            if link.gone is not None and gone == [link.gone]:
                return  # a delete that was not propagated: the survivor is kept on purpose
            self._add("orphan", link, (), f"gone: {' and '.join(gone)}")
            return
        if (
            field_hashes(crm.values, self.crm_names) == link.crm_fields
            and field_hashes(mailsuite.values, self.mail_names) == link.mailsuite_fields
        ):
            self.result.in_sync += 1
            return
        # Planned as the sync plans, against the link's state as last synced.
        synced = SyncLink(crm_fields=link.crm_fields, mailsuite_fields=link.mailsuite_fields)
        writes_planned = plan(self.mapping, self.sync.direction, crm, mailsuite, synced)
        names = writes_planned.fields(self.mapping)
        if not names:
            self.result.in_sync += 1
            return
        conflicts = {
            name: writes_planned.conflicts[name]
            for name in names
            if name in writes_planned.conflicts
        }
        if conflicts:
            detail = ", ".join(f"{name}: {winner} wins" for name, winner in conflicts.items())
            self._add("conflict", link, tuple(names), f"changed on both sides; {detail}")
        else:
            self._add("differs", link, tuple(names), None)

    def _add(
        self, kind: FindingKind, link: _Linked, names: tuple[str, ...], detail: str | None
    ) -> None:
        self.result.found.append(Found(kind, link.crm_id, link.mailsuite_id, names, detail))

    def unlinked(self, side: SideName, ids: Iterable[str]) -> None:
        kind: FindingKind = "missingInMailsuite" if side == "crm" else "missingInCrm"
        for record_id in ids:
            crm_id, mailsuite_id = (record_id, None) if side == "crm" else (None, record_id)
            if not self.waiting(crm_id, mailsuite_id):
                self.result.found.append(Found(kind, crm_id, mailsuite_id))


async def survey(
    session: AsyncSession, sync: Sync, chunk: int = CHUNK, listed: Listed | None = None
) -> Survey:
    """Both sides of `sync` compared, with what is out of step: its CRM side this
    workspace's, or the remote account's records `listed`."""
    since = listed.since if listed is not None else None
    comparison = _Comparison(sync, await _pending(session, sync), since)
    location, kind = sync.location_id, kind_of(sync.object)
    read_crm: Reader = kind.reads["crm"] if listed is None else listed.read
    # Contacts the segment leaves out, whose pairs and records are no finding (ADR 0042).
    segment = await parents.segment_of(session, sync)
    left_out = await _left_out(session, sync, segment, listed)
    linked: dict[SideName, set[str]] = {"crm": set(), "mailsuite": set()}
    after = ""
    while True:
        rows = await session.execute(
            select(*_LINK_COLUMNS)
            .where(
                SyncLink.sync_id == sync.id,
                SyncLink.object == sync.object,
                SyncLink.crm_id > after,
            )
            .order_by(SyncLink.crm_id)
            .limit(chunk)
        )
        links = [_Linked(*row) for row in rows]
        if not links:
            break
        crm = await read_crm(session, location, [link.crm_id for link in links])
        mail = await kind.reads["mailsuite"](
            session, location, [link.mailsuite_id for link in links]
        )
        for link in links:
            record = crm.get(link.crm_id)
            if link.crm_id not in left_out and (record is None or record.parent not in left_out):
                comparison.pair(link, record, mail.get(link.mailsuite_id))
            linked["crm"].add(link.crm_id)
            linked["mailsuite"].add(link.mailsuite_id)
        after = links[-1].crm_id
    # Unlinked records: every id of a side less the linked ones the walk saw (of a contact's
    # records, those whose contact is linked: the others wait for it). Read as ids and
    # compared in memory, which the planners of both databases cannot get wrong.
    sides: tuple[tuple[SideName, SideName], ...] = (("crm", "mailsuite"), ("mailsuite", "crm"))
    for side, other in sides:
        if not writes(sync.direction, other):
            continue
        if side == "crm" and listed is not None:
            # A contact with no address cannot be made in the Mailsuite (as `listings`).
            records = listed.records.values()
            listing = [(one.id, one.parent) for one in records if kind.of_contact or one.email]
        else:
            listing = list(await session.execute(kind.listings[side](location)))
        if kind.of_contact:
            contacts = await parents.linked_contacts(session, location, side)
            contacts -= await _partners_left_out(session, location, side, left_out)
            ids = {record_id for record_id, parent in listing if parent in contacts}
        else:
            ids = {record_id for record_id, _ in listing}
            if side == "crm":
                ids -= left_out
            else:
                ids -= await _matches_left_out(session, sync, segment, listed, left_out)
        comparison.unlinked(side, sorted(ids - linked[side]))
    return comparison.result


async def _left_out(
    session: AsyncSession, sync: Sync, segment: Segment, listed: Listed | None
) -> set[str]:
    if segment.everyone:
        return set()
    now = utcnow()
    if listed is not None:
        contacts = listed.records if listed.contacts is None else listed.contacts
        return {one.id for one in contacts.values() if not segment.covers(one, now)}
    return set(await session.scalars(segment.left_out(sync.location_id, now)))


async def _partners_left_out(
    session: AsyncSession, location_id: str, side: SideName, left_out: set[str]
) -> set[str]:
    """The contacts of `side` that are, or are linked to, contacts the segment leaves out."""
    if side == "crm" or not left_out:
        return left_out
    return set((await parents.partners_of(session, location_id, "crm", left_out)).values())


async def _matches_left_out(
    session: AsyncSession,
    sync: Sync,
    segment: Segment,
    listed: Listed | None,
    left_out: set[str],
) -> set[str]:
    """The Mailsuite contacts with the address of a contact the segment leaves out."""
    if segment.everyone:
        return set()
    if listed is None:
        return set(await session.scalars(segment.their_matches(sync.location_id, utcnow())))
    emails = (listed.records[one].email for one in left_out)
    addresses = sorted({email.lower() for email in emails if email})
    found: set[str] = set()
    for start in range(0, len(addresses), CHUNK):
        found |= set(
            await session.scalars(
                select(MailContact.id).where(
                    MailContact.location_id == sync.location_id,
                    MailContact.email_lower.in_(addresses[start : start + CHUNK]),
                )
            )
        )
    return found
