"""A backfill batch in a few statements, for every object: the links of its CRM records
read at once, with the partners of those linked already; the partners of the others matched
at once (a contact by email then phone; a contact's task or note is never matched, its
contact's partner is read instead, for all of the batch at once); and the partners of those
matched to none created and linked together, with Core inserts. A record of a contact whose
contact is not linked yet waits for it (sync/pending.py), all of the batch's in one
statement.

The records matched to a partner are linked together too (`in_step`: each pair planned, the
writes of each side made together, the links inserted at once); when a side refuses one of
those writes, they are linked one at a time, each refused alone. A linked record whose pair
is not as the link last saw it (a resync finds what was written behind the sync's back) is
brought in step one at a time. What is out of the common way
goes through `PairSync.compared`: a record whose partner is gone, an address met twice in the
batch (linked as the incremental sync links it). The whole creation goes through
`PairSync.record` when a write of it is refused (an address another writer took since the
match, a task's contact gone), or would write a remote CRM side (sync/staged.py): rolled back
in its savepoint, its records are done one by one, each refused (or deferred) alone. Records
the sync's segment leaves out are set aside first, all of the batch's at once."""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from contactflow.platform.errors import DomainError
from contactflow.sync import history, parents
from contactflow.sync.fields import Values
from contactflow.sync.models import LinkOrigin, SideName, SyncLink
from contactflow.sync.pairs import EXCLUDED, WAITING, Outcome, PairSync, guarded, taken_by
from contactflow.sync.sides import (
    PARENT,
    SOURCE,
    BulkSide,
    MailsuiteContacts,
    Record,
    RemoteNeeded,
    Side,
)

T = TypeVar("T")


async def links_of(pairs: PairSync, side: SideName, ids: list[str]) -> dict[str, SyncLink]:
    """The links of the `side` records `ids`, by their id, in one query (through that side's
    unique index)."""
    column = SyncLink.crm_id if side == "crm" else SyncLink.mailsuite_id
    rows = await pairs.uow.session.scalars(
        select(SyncLink).where(
            SyncLink.sync_id == pairs.sync.id,
            SyncLink.object == pairs.sync.object,
            column.in_(ids),
        )
    )
    return {link.crm_id if side == "crm" else link.mailsuite_id: link for link in rows}


async def link_crm_records(
    pairs: PairSync, records: list[Record], origin: LinkOrigin
) -> list[tuple[Record, Outcome]]:
    """Each of `records` (of the CRM side) linked to its Mailsuite partner, matched or made,
    with what became of it; those the sync's segment leaves out are not (their links kept)."""
    left_out = await pairs.coverage.left_out(records)
    if left_out:
        await pairs.coverage.excluded(sorted(left_out))
    covered = [record for record in records if record.id not in left_out]
    outcomes = await _link_covered(pairs, covered, origin)
    return outcomes + [(record, EXCLUDED) for record in records if record.id in left_out]


async def _link_covered(
    pairs: PairSync, records: list[Record], origin: LinkOrigin
) -> list[tuple[Record, Outcome]]:
    mailsuite, uow = pairs.mailsuite, pairs.uow
    if not isinstance(mailsuite, BulkSide):
        return [(r, await guarded(uow, pairs.compared(r, origin))) for r in records]
    links = await links_of(pairs, "crm", [record.id for record in records])
    live = [r for r in records if r.id in links and links[r.id].gone is None]
    read = pairs.kind.reads["mailsuite"]
    partner_ids = [links[r.id].mailsuite_id for r in live]
    partners_now = await read(uow.session, pairs.sync.location_id, partner_ids) if live else {}
    fresh = [record for record in records if record.id not in links]
    partners = await mailsuite.match_many([(r.email, r.phone) for r in fresh])
    one_by_one = [r for r in records if r.id in links and links[r.id].gone is not None]
    matched: list[tuple[Record, Record]] = []
    outcomes: list[tuple[Record, Outcome]] = []
    to_create: list[Record] = []
    addresses: set[str] = set()
    for record, partner in zip(fresh, partners, strict=True):
        refused = pairs.uncreatable("mailsuite", record)
        if partner is not None:
            matched.append((record, partner))
        elif record.email and record.email.lower() in addresses:
            one_by_one.append(record)
        elif refused is not None:
            outcomes.append((record, refused))
        else:
            addresses.update([record.email.lower()] if record.email else [])
            to_create.append(record)
    placed, waiting = await _placed(pairs, to_create)
    outcomes += waiting
    outcomes += await _create_partners(pairs, mailsuite, placed, origin)
    outcomes += await _link_matched(pairs, matched, origin)
    for record in live:
        link = links[record.id]
        comparing = pairs.compare(record, link, partners_now.get(link.mailsuite_id), origin)
        outcomes.append((record, await guarded(uow, comparing)))
    for record in one_by_one:
        outcomes.append((record, await guarded(uow, pairs.compared(record, origin))))
    return outcomes


async def _link_matched(
    pairs: PairSync, matched: list[tuple[Record, Record]], origin: LinkOrigin
) -> list[tuple[Record, Outcome]]:
    """Each record linked to the partner it matched, together (`in_step`); skipped, as
    `PairSync.link_matched` skips it, when that partner is linked to another record already.
    A partner matched twice in the batch links its later records one by one (the first has
    it then)."""
    if not matched:
        return []
    taken = await links_of(pairs, "mailsuite", [partner.id for _, partner in matched])
    outcomes: list[tuple[Record, Outcome]] = []
    due: dict[str, tuple[Record, Record]] = {}
    later: list[tuple[Record, Record]] = []
    for record, partner in matched:
        if partner.id in taken:
            outcomes.append((record, taken_by("mailsuite", partner.id, taken[partner.id])))
        elif partner.id in due:
            later.append((record, partner))
        else:
            due[partner.id] = (record, partner)

    async def each(pairs_due: Iterable[tuple[Record, Record]]) -> list[tuple[Record, Outcome]]:
        return [
            (record, await guarded(pairs.uow, pairs.link_matched("crm", record, partner, origin)))
            for record, partner in pairs_due
        ]

    async def together() -> list[tuple[Record, Outcome]]:
        await in_step(
            pairs, [InStep(record, partner, None, origin) for record, partner in due.values()]
        )
        return [(record, Outcome("matched")) for record, _ in due.values()]

    outcomes += await together_or_apart(pairs, together, lambda: each(due.values()))
    return outcomes + await each(later)


@dataclass(frozen=True)
class InStep:
    """A pair to bring in step: its records as read now, its link (None: linked now), and
    what brought it (the link's origin)."""

    crm: Record
    mailsuite: Record
    link: SyncLink | None
    origin: LinkOrigin


async def in_step(pairs: PairSync, due: list[InStep]) -> None:
    """The pairs brought in step together: planned each, the writes of each side made
    together (in one statement a table where the side can), then the identity map (the new
    links in one insert) and the history, pruned once."""
    planned = [(pair, *await pairs.planned(pair.crm, pair.mailsuite, pair.link)) for pair in due]
    to_crm = {pair.crm.id: writes.to_crm for pair, writes, _ in planned if writes.to_crm}
    to_mail = {
        pair.mailsuite.id: writes.to_mailsuite for pair, writes, _ in planned if writes.to_mailsuite
    }
    crm_now = await _written(pairs.crm, to_crm)
    mail_now = await _written(pairs.mailsuite, to_mail)
    links: list[SyncLink] = []
    noted = [
        pair.crm.id
        for pair, writes, told in planned
        if pairs.recorded(
            crm_now.get(pair.crm.id, pair.crm),
            mail_now.get(pair.mailsuite.id, pair.mailsuite),
            pair.link,
            writes,
            told,
            pair.origin,
            links,
        )
    ]
    await history.prune(pairs.uow, pairs.sync.id, noted)
    await pairs.uow.insert_new(links)
    await pairs.uow.session.flush()


async def _written(side: Side, writes: dict[str, Values]) -> dict[str, Record]:
    """`writes` (values by record id) made on `side`: together where it can, else each."""
    if not writes:
        return {}
    if isinstance(side, MailsuiteContacts):
        return await side.update_many(writes)
    return {record_id: await side.update(record_id, values) for record_id, values in writes.items()}


async def _placed(
    pairs: PairSync, records: list[Record]
) -> tuple[list[tuple[Record, Values]], list[tuple[Record, Outcome]]]:
    """Each of `records` with the values its partner is made with; a contact's record under
    its contact's partner, or (its contact not linked yet) waiting for it."""
    if not pairs.kind.of_contact or not records:
        return [(record, pairs.carried("crm", record)) for record in records], []
    sync = pairs.sync
    contacts = await parents.partners_of(
        pairs.uow.session, sync.location_id, "crm", [str(record.parent) for record in records]
    )
    placed: list[tuple[Record, Values]] = []
    waiting: dict[str, str] = {}
    for record in records:
        parent = str(record.parent)
        if parent in contacts:
            values = pairs.carried("crm", record) | {PARENT: contacts[parent], SOURCE: record.id}
            placed.append((record, values))
        else:
            waiting[record.id] = parent
    await parents.wait_many(pairs.uow, sync, "crm", waiting)
    return placed, [(record, WAITING) for record in records if record.id in waiting]


async def _create_partners(
    pairs: PairSync, mailsuite: BulkSide, placed: list[tuple[Record, Values]], origin: LinkOrigin
) -> list[tuple[Record, Outcome]]:
    if not placed:
        return []
    records = [record for record, _ in placed]

    async def together() -> list[tuple[Record, Outcome]]:
        if pairs.kind.of_contact:
            await parents.done_many(pairs.uow, pairs.sync, "crm", [r.id for r in records])
        made = await mailsuite.create_many([values for _, values in placed])
        outcomes: list[tuple[Record, Outcome]] = []
        links: list[SyncLink] = []
        for record, partner in zip(records, made, strict=True):
            if isinstance(partner, str):
                outcomes.append((record, Outcome("failed", partner)))
                continue
            await pairs.reconcile("crm", record, partner, None, origin, new_links=links)
            outcomes.append((record, Outcome("created")))
        await pairs.uow.insert_new(links)
        return outcomes

    async def apart() -> list[tuple[Record, Outcome]]:
        return [(r, await guarded(pairs.uow, pairs.record("crm", r, origin))) for r in records]

    return await together_or_apart(pairs, together, apart)


async def together_or_apart(
    pairs: PairSync, together: Callable[[], Awaitable[T]], apart: Callable[[], Awaitable[T]]
) -> T:
    """The writes of many pairs `together` in a savepoint; when a side refuses one of them
    (or one would write a remote CRM side), rolled back and done `apart`: one by one, each
    refused (or deferred) alone."""
    try:
        async with pairs.uow.savepoint():
            return await together()
    except (IntegrityError, DomainError, ValidationError, RemoteNeeded):
        return await apart()
