"""One record brought in step with its partner on the other side: linked when it is new to
the sync (a contact matched by email, then phone, or created; a task or note created under
its contact's partner, or waiting for it), reconciled field by field, and the pair's state
recorded in the identity map. The backfill and the incremental sync both go through here, so
a record is handled the same whichever saw it first, whatever object the sync carries."""

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import ValidationError
from sqlalchemy import select

from contactflow.platform import topics
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork, new_row
from contactflow.platform.errors import Conflict, DomainError
from contactflow.platform.ids import new_id
from contactflow.sync import conflict_queue, history, parents
from contactflow.sync import events as sync_events
from contactflow.sync.coverage import Coverage
from contactflow.sync.fields import Values, field_hashes, mapping_of, record_hash
from contactflow.sync.models import (
    HELD,
    ChangeDirection,
    Direction,
    LinkOrigin,
    SideName,
    Sync,
    SyncHeldDelete,
    SyncLink,
)
from contactflow.sync.objects import kind_of
from contactflow.sync.reconcile import Plan, plan
from contactflow.sync.sides import PARENT, SOURCE, Record, RemoteNeeded, Side, refusal

# Skipped: nothing to do by the sync's rules (the reason says why); failed: a side refused
# the write (an address another contact has, a number that is no phone); deferred: it waits
# for a call to a remote side (sync/staged.py); excluded: the sync's segment leaves it out.
OutcomeKind = Literal[
    "matched", "created", "synced", "unchanged", "skipped", "failed", "deferred", "excluded"
]
_WRITES: Final[dict[SideName, str]] = {"crm": "mailsuiteToCrm", "mailsuite": "crmToMailsuite"}


def writes(direction: Direction, side: SideName) -> bool:
    """Whether a sync of `direction` writes the records of `side`."""
    return direction in ("both", _WRITES[side])


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    reason: str | None = None


WAITING: Final = Outcome("skipped", "its contact is not linked yet: it waits for it")
EXCLUDED: Final = Outcome("excluded", "the sync's segment leaves it out")


class PairSync:
    """A sync's pairs, in one unit of work, between a CRM side and the Mailsuite side."""

    def __init__(self, uow: UnitOfWork, sync: Sync, crm: Side, mailsuite: Side) -> None:
        self.uow, self.sync, self.crm, self.mailsuite = uow, sync, crm, mailsuite
        self.kind = kind_of(sync.object)
        self.sides: dict[SideName, Side] = {"crm": crm, "mailsuite": mailsuite}
        self.mapping = mapping_of(sync.mapping)
        self.manual = any(entry.conflict == "manual" for entry in self.mapping)
        self.names: dict[SideName, list[str]] = {
            "crm": [entry.crm for entry in self.mapping],
            "mailsuite": [entry.mailsuite for entry in self.mapping],
        }
        self.coverage = Coverage(uow, sync)

    async def _link(self, side: SideName, record_id: str) -> SyncLink | None:
        column = SyncLink.crm_id if side == "crm" else SyncLink.mailsuite_id
        return await self.uow.session.scalar(
            select(SyncLink).where(
                SyncLink.sync_id == self.sync.id,
                SyncLink.object == self.sync.object,
                column == record_id,
            )
        )

    def _hashes(self, side: SideName, record: Record) -> dict[str, str]:
        return field_hashes(record.values, self.names[side])

    async def changed(self, side: SideName, record_id: str, origin: LinkOrigin) -> Outcome:
        """The record of `side` changed (or is new): bring its partner in step."""
        record = await self.sides[side].get(record_id)
        if record is None:
            return Outcome("skipped", f"the {side} record {record_id} is no longer there")
        return await self.record(side, record, origin)

    async def record(self, side: SideName, record: Record, origin: LinkOrigin) -> Outcome:
        """`record` of `side`, changed or new, brought in step with its partner; unless the
        segment leaves out its CRM record (this one, its partner, or the one it would make):
        then nothing is written, and a link it has is kept."""
        other: SideName = "mailsuite" if side == "crm" else "crm"
        if side == "crm" and await self.coverage.outside(record):
            await self.coverage.excluded([record.id])
            return EXCLUDED
        link = await self._link(side, record.id)
        if link is not None:
            if self.as_synced(side, record, link):
                return Outcome("unchanged")  # as last synced: the sync's own write, back
            partner = await self.sides[other].get(
                link.mailsuite_id if side == "crm" else link.crm_id
            )
            if partner is None:
                return Outcome("skipped", f"its linked {other} record is no longer there")
            if side == "mailsuite" and await self.coverage.outside(partner):
                return EXCLUDED
            await self.reconcile(side, record, partner, link, origin)
            return Outcome("synced")
        partner = await self.sides[other].match(record.email, record.phone)
        if partner is not None:
            if side == "mailsuite" and await self.coverage.outside(partner):
                return EXCLUDED
            return await self.link_matched(side, record, partner, origin)
        refused = self.uncreatable(other, record)
        if refused is not None:
            return refused
        values = self.carried(side, record)
        if self.kind.of_contact:
            assert record.parent is not None  # else uncreatable
            parent = await parents.partner_of(
                self.uow.session, self.sync.location_id, side, record.parent
            )
            if parent is None:
                if side == "mailsuite" and await self.coverage.matches_left_out([record.parent]):
                    await parents.done(self.uow, self.sync, side, record.id)
                    return EXCLUDED  # its contact's match is left out: it would wait for ever
                await parents.wait(self.uow, self.sync, side, record.id, record.parent)
                return WAITING
            if side == "mailsuite" and await self.coverage.contacts_left_out([parent]):
                return EXCLUDED
            values |= {PARENT: parent, SOURCE: record.id}
            await parents.done(self.uow, self.sync, side, record.id)
        elif side == "mailsuite" and await self.coverage.outside(_made(record, values)):
            return EXCLUDED
        created = await self.sides[other].create(values)
        await self.reconcile(side, record, created, None, origin)
        return Outcome("created")

    def as_synced(self, side: SideName, record: Record, link: SyncLink) -> bool:
        """Whether the `side` record of the pair `link` hashes as the pair was last synced."""
        hashes = link.crm_hash if side == "crm" else link.mailsuite_hash
        return record_hash(self._hashes(side, record)) == hashes

    async def compared(self, record: Record, origin: LinkOrigin) -> Outcome:
        """The CRM `record`, linked already, and its partner as both sides hold them now,
        brought in step whichever side changed: a backfill walks pairs whose changes may
        never have been told (a resync, after records were written behind the sync's back)."""
        link = await self._link("crm", record.id)
        if link is None or link.gone is not None:
            return await self.record("crm", record, origin)
        return await self.compare(record, link, await self.mailsuite.get(link.mailsuite_id), origin)

    async def compare(
        self, record: Record, link: SyncLink, partner: Record | None, origin: LinkOrigin
    ) -> Outcome:
        """`compared`, given the CRM `record`'s live link and its partner as read now."""
        if partner is None:
            return Outcome("skipped", "its linked mailsuite record is no longer there")
        crm_hash = record_hash(self._hashes("crm", record))
        if (crm_hash, record_hash(self._hashes("mailsuite", partner))) == (
            link.crm_hash,
            link.mailsuite_hash,
        ):
            return Outcome("unchanged")
        await self.reconcile("crm", record, partner, link, origin)
        return Outcome("synced")

    async def link_matched(
        self, side: SideName, record: Record, partner: Record, origin: LinkOrigin
    ) -> Outcome:
        """`record`, new to the sync, linked to `partner`, the other side's record its email
        or phone matched, unless that one is linked to another record already."""
        other: SideName = "mailsuite" if side == "crm" else "crm"
        taken = await self._link(other, partner.id)
        if taken is not None:
            return taken_by(other, partner.id, taken)
        await self.reconcile(side, record, partner, None, origin)
        return Outcome("matched")

    async def resync(self, crm_id: str) -> Outcome:
        """The pair of the linked record `crm_id`, read as both sides hold it now and brought
        in step, whichever side changed (a repair: its events may never have come)."""
        link = await self._link("crm", crm_id)
        if link is None:
            return Outcome("skipped", f"the crm record {crm_id} is no longer linked")
        crm = await self.crm.get(link.crm_id)
        mailsuite = await self.sides["mailsuite"].get(link.mailsuite_id)
        if crm is None or mailsuite is None:
            return Outcome("skipped", "a record of the pair is no longer there")
        await self.reconcile("crm", crm, mailsuite, link, "repair")
        return Outcome("synced")

    async def settle_orphan(self, crm_id: str, mailsuite_id: str) -> Outcome:
        """A link one or both of whose records are gone, as if their deletes had been read:
        removed when both are, otherwise the sync's delete policy decides."""
        link = await self._link("crm", crm_id)
        if link is None or link.mailsuite_id != mailsuite_id:
            return Outcome("skipped", "the pair is no longer linked")
        if await self.crm.get(crm_id) is None:
            return await self.deleted("crm", crm_id)
        if await self.sides["mailsuite"].get(mailsuite_id) is None:
            return await self.deleted("mailsuite", mailsuite_id)
        return await self.resync(crm_id)

    async def deleted(self, side: SideName, record_id: str) -> Outcome:
        """The record of `side` was deleted: its partner is deleted too (`propagate`), held
        for a person (`hold`) or kept (`ignore`, or a direction that does not write the
        partner's side); a kept partner's link stays, marked with the side that is gone."""
        link = await self._link(side, record_id)
        if link is None and self.kind.of_contact:
            await parents.done(self.uow, self.sync, side, record_id)
        if link is None or link.gone == side:
            return Outcome("unchanged")
        if await self.sides[side].get(record_id) is not None:
            return Outcome("unchanged")  # deleted, then made again with its id: still there
        other: SideName = "mailsuite" if side == "crm" else "crm"
        partner_id = link.mailsuite_id if side == "crm" else link.crm_id
        if await self.sides[other].get(partner_id) is None:
            await self.forget(link)
            return Outcome("synced", "both records are gone: the link is removed")
        policy = self.sync.on_delete if writes(self.sync.direction, other) else "ignore"
        if policy == "propagate":
            await self.sides[other].delete(partner_id)
            await self.forget(link)
            return Outcome("synced", f"its {other} partner is deleted too")
        link.gone, link.synced_at = side, utcnow()
        if policy == "hold":
            self.uow.session.add(
                SyncHeldDelete(
                    sync_id=self.sync.id,
                    side=side,
                    record_id=record_id,
                    partner_id=partner_id,
                    state=HELD,
                    created_at=utcnow(),
                )
            )
            return Outcome("synced", f"the {side} record is gone: deleting its partner waits")
        return Outcome("synced", f"the {side} record is gone: its partner is kept")

    def _note(self, crm_id: str, writes: Plan, held: list[str]) -> bool:
        """The changes carried for a linked pair, in its history; True when there were any
        (its older entries are then pruned)."""
        to_mailsuite = [e.crm for e in self.mapping if e.mailsuite in writes.to_mailsuite]
        to_crm = [e.crm for e in self.mapping if e.crm in writes.to_crm]
        if to_mailsuite:
            history.note(self.uow, self.sync, crm_id, "crmToMailsuite", to_mailsuite, "written")
        if to_crm:
            history.note(self.uow, self.sync, crm_id, "mailsuiteToCrm", to_crm, "written")
        if held:
            history.note(self.uow, self.sync, crm_id, "both", held, "conflict")
        return bool(to_mailsuite or to_crm or held)

    async def refused(self, side: SideName, record_id: str, reason: str) -> None:
        """A change of `record_id` a side refused to take, in its linked pair's history (the
        change itself was rolled back, with what it would have written)."""
        link = await self._link(side, record_id)
        if link is None:
            return
        direction: ChangeDirection = "crmToMailsuite" if side == "crm" else "mailsuiteToCrm"
        history.note(self.uow, self.sync, link.crm_id, direction, [], "refused", reason)
        await history.prune(self.uow, self.sync.id, [link.crm_id])

    async def settle(self, crm_id: str, to_crm: Values, to_mailsuite: Values) -> None:
        """Write a person's choice to the sides of the linked pair `crm_id` that do not hold
        it yet, then bring the pair in step (its identity map records the writes as the
        sync's own)."""
        link = await self._link("crm", crm_id)
        if link is None:
            raise Conflict(f"conflict: the crm record {crm_id} is no longer linked")
        crm = await self.crm.get(link.crm_id)
        mailsuite = await self.sides["mailsuite"].get(link.mailsuite_id)
        if crm is None or mailsuite is None:
            raise Conflict("conflict: a record of the pair is no longer there")
        crm_changes = {k: v for k, v in to_crm.items() if crm.values.get(k) != v}
        mail_changes = {k: v for k, v in to_mailsuite.items() if mailsuite.values.get(k) != v}
        if crm_changes:
            crm = await self.crm.update(crm.id, crm_changes)
            history.note(self.uow, self.sync, crm_id, "mailsuiteToCrm", list(to_crm), "written")
        if mail_changes:
            mailsuite = await self.sides["mailsuite"].update(mailsuite.id, mail_changes)
            fields = [e.crm for e in self.mapping if e.mailsuite in mail_changes]
            history.note(self.uow, self.sync, crm_id, "crmToMailsuite", fields, "written")
        await self.reconcile("crm", crm, mailsuite, link, "repair")
        await history.prune(self.uow, self.sync.id, [crm_id])

    async def forget(self, link: SyncLink) -> None:
        await self.uow.session.delete(link)
        await self.uow.session.flush()

    def uncreatable(self, side: SideName, record: Record) -> Outcome | None:
        """Why `record`, matched to nothing, gets no partner made on `side`; None when it
        does."""
        if not writes(self.sync.direction, side):
            return Outcome("skipped", f"the sync's direction creates no {side} records")
        reason = self.kind.uncreatable(side, record)
        return None if reason is None else Outcome("skipped", reason)

    def carried(self, side: SideName, record: Record) -> Values:
        """`record`'s mapped values in the other side's names and form."""
        if side == "crm":
            return {e.mailsuite: e.to_mailsuite(record.values.get(e.crm)) for e in self.mapping}
        return {e.crm: e.to_crm(record.values.get(e.mailsuite)) for e in self.mapping}

    async def reconcile(
        self,
        side: SideName,
        record: Record,
        partner: Record,
        link: SyncLink | None,
        origin: LinkOrigin,
        *,
        new_links: list[SyncLink] | None = None,
    ) -> None:
        """Bring the pair in step and record it in the identity map; given `new_links`, a
        new link goes there, for the caller to write with the others (many pairs, one
        insert), and nothing is flushed."""
        crm, mailsuite = (record, partner) if side == "crm" else (partner, record)
        writes, told = await self.planned(crm, mailsuite, link)
        if writes.to_crm:
            crm = await self.crm.update(crm.id, writes.to_crm)
        if writes.to_mailsuite:
            mailsuite = await self.mailsuite.update(mailsuite.id, writes.to_mailsuite)
        if self.recorded(crm, mailsuite, link, writes, told, origin, new_links):
            await history.prune(self.uow, self.sync.id, [crm.id])
        if new_links is None:
            await self.uow.session.flush()

    async def planned(
        self, crm: Record, mailsuite: Record, link: SyncLink | None
    ) -> tuple[Plan, list[str]]:
        """What to write to bring the pair in step, and the held fields whose conflicts are
        new or moved (the queue brought up to date, SyncConflict appended)."""
        writes = plan(self.mapping, self.sync.direction, crm, mailsuite, link)
        told = writes.held
        if self.manual:
            told = await conflict_queue.hold(
                self.uow, self.sync, self.mapping, crm, mailsuite, writes.held
            )
        shown = {k: v for k, v in writes.conflicts.items() if v != "manual" or k in told}
        if shown:
            await sync_events.conflict(self.uow, self.sync, crm.id, mailsuite.id, shown)
        return writes, told

    def recorded(
        self,
        crm: Record,
        mailsuite: Record,
        link: SyncLink | None,
        writes: Plan,
        told: list[str],
        origin: LinkOrigin,
        new_links: list[SyncLink] | None = None,
    ) -> bool:
        """The pair as `writes` left it, in the identity map (linked when `link` is None: the
        new link added to the session, or to `new_links`), and its changes in its history;
        True when its history has new entries to prune."""
        crm_fields, mail_fields = self._hashes("crm", crm), self._hashes("mailsuite", mailsuite)
        for entry in self.mapping:
            if entry.crm in writes.held:
                # Held for a person: still changed on both sides until it is resolved.
                crm_fields[entry.crm] = (link.crm_fields if link else {}).get(entry.crm, "")
                mail_fields[entry.mailsuite] = (link.mailsuite_fields if link else {}).get(
                    entry.mailsuite, ""
                )
        now, noted = utcnow(), False
        if link is None:
            link = new_row(
                SyncLink,
                id=new_id(),
                sync_id=self.sync.id,
                object=self.sync.object,
                crm_id=crm.id,
                mailsuite_id=mailsuite.id,
                version=1,
                linked_at=now,
            )
            if new_links is None:
                self.uow.session.add(link)
            else:
                new_links.append(link)
            if not self.kind.of_contact:
                # Records of the contact may wait for it (sync/pending.py).
                self.uow.wake(topics.SYNC_CHANGES)
        else:
            noted = self._note(crm.id, writes, told)
            if writes.to_crm or writes.to_mailsuite:
                link.version += 1
        link.crm_fields, link.crm_hash = crm_fields, record_hash(crm_fields)
        link.mailsuite_fields, link.mailsuite_hash = mail_fields, record_hash(mail_fields)
        link.origin, link.synced_at = origin, now
        return noted


def taken_by(side: SideName, partner_id: str, link: SyncLink) -> Outcome:
    """A record matched to the `side` record `partner_id`, which `link` pairs with another
    already: skipped."""
    owner = link.crm_id if side == "mailsuite" else link.mailsuite_id
    return Outcome(
        "skipped",
        f"its email or phone matches the {side} record {partner_id}, already linked to {owner}",
    )


def _made(record: Record, values: Values) -> Record:
    """The CRM contact a Mailsuite `record` would become, with `values`, made now."""
    now = utcnow()
    return Record(record.id, values, now, (now, record.id))


def pairs_for(uow: UnitOfWork, sync: Sync, region: str) -> PairSync:
    """The sync's pairs between this workspace's records of its object and Mailsuite's. A
    sync with a remote account is taken through sync/remote_runs.py (a person's decision
    too, sync/decisions.py): what comes here of it is refused."""
    if sync.connection_id is not None:
        raise Conflict(
            f"sync: {sync.id} syncs a remote account, which this does not reach yet; "
            "change the records on either side and the sync carries the change"
        )
    crm, mailsuite = kind_of(sync.object).sides(uow, sync.location_id, region)
    return PairSync(uow, sync, crm, mailsuite)


async def guarded(uow: UnitOfWork, work: Awaitable[Outcome]) -> Outcome:
    """`work` in a savepoint: a pair a side refuses is rolled back alone, failed with the
    reason, and the rest of the batch goes on; so is one that waits for a remote call."""
    try:
        async with uow.savepoint():
            return await work
    except RemoteNeeded:
        return Outcome("deferred")
    except (DomainError, ValidationError) as error:
        return Outcome("failed", refusal(error))
