"""The records a sync covers, as its pairs are synced: its segment (sync/segments.py), or, for
a sync of a contact's records, its contacts sync's, read once per unit of work. A record the
segment leaves out is not synced, and neither waits for its contact nor lets the records of
its contact wait for it (sync/pending.py): they would wait for ever."""

from contactflow.mailsuite.models import MailContact
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.sync import parents
from contactflow.sync.models import Sync
from contactflow.sync.objects import kind_of
from contactflow.sync.segments import Segment, left_out_of
from contactflow.sync.sides import Record


class Coverage:
    def __init__(self, uow: UnitOfWork, sync: Sync) -> None:
        self.uow, self.sync, self.kind = uow, sync, kind_of(sync.object)
        self._segment: Segment | None = None

    async def segment(self) -> Segment:
        """Which contacts the sync covers: its own segment, or (a sync of a contact's
        records) its contacts sync's."""
        if self._segment is None:
            self._segment = await parents.segment_of(self.uow.session, self.sync)
        return self._segment

    async def left_out(self, records: list[Record]) -> set[str]:
        """The ids of those CRM `records` the segment leaves out: contacts it does not
        cover, or records of such contacts."""
        segment = await self.segment()
        if segment.everyone:
            return set()
        if not self.kind.of_contact:
            now = utcnow()
            return {record.id for record in records if not segment.covers(record, now)}
        contacts = await self.contacts_left_out([r.parent for r in records if r.parent])
        return {record.id for record in records if record.parent in contacts}

    async def outside(self, crm: Record) -> bool:
        """Whether the segment leaves out the CRM record `crm`."""
        return bool(await self.left_out([crm]))

    async def contacts_left_out(self, contact_ids: list[str]) -> set[str]:
        """Those of the Contacts API contacts `contact_ids` the segment leaves out. A remote
        account's contacts are judged only as its contacts sync reads them (ADR 0042)."""
        if self.sync.connection_id is not None:
            return set()
        location, segment = self.sync.location_id, await self.segment()
        return await left_out_of(self.uow.session, location, segment, contact_ids, utcnow())

    async def matches_left_out(self, mailsuite_ids: list[str]) -> set[str]:
        """Those of the Mailsuite contacts `mailsuite_ids`, linked to none, whose address is
        that of a contact the segment leaves out: they will not be linked. A remote
        account's contacts are not here to compare with."""
        segment = await self.segment()
        if segment.everyone or self.sync.connection_id is not None or not mailsuite_ids:
            return set()
        matches = segment.their_matches(self.sync.location_id, utcnow())
        found = await self.uow.session.scalars(matches.where(MailContact.id.in_(mailsuite_ids)))
        return set(found)

    async def excluded(self, crm_ids: list[str]) -> None:
        """The CRM records `crm_ids`, which the segment leaves out, are not synced: a record
        of a contact waits no longer, nor do the records of a contact."""
        if self.kind.of_contact:
            await parents.done_many(self.uow, self.sync, "crm", crm_ids)
        else:
            await parents.drop_waiting(self.uow, self.sync.location_id, crm_ids)
