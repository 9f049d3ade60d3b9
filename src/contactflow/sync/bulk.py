"""A backfill batch of contacts in a few statements: the links of its CRM records read at
once, their Mailsuite partners matched at once, and the partners of those matched to none
created and linked together, with one flush. The records of a contact (tasks, notes) are
never matched: each goes through `PairSync.compared`.

A record matched to a partner is linked to it one at a time (its fields are reconciled and
may be written on either side). What is out of the common way goes through
`PairSync.compared`: a record linked already (compared with its partner as both sides hold
them now, so a resync finds what was written behind the sync's back), an address met twice in
the batch (linked as the incremental sync links it). The whole creation goes through
`PairSync.record` when a write of it is refused (an address another writer took
since the match), or would write a remote CRM side (sync/staged.py): rolled back in its
savepoint, its records are done one by one, each refused (or deferred) alone."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from contactflow.platform.errors import DomainError
from contactflow.sync.models import LinkOrigin, SyncLink
from contactflow.sync.pairs import Outcome, PairSync, guarded
from contactflow.sync.sides import MailsuiteContacts, Record, RemoteNeeded

T = TypeVar("T")


async def _linked(pairs: PairSync, crm_ids: list[str]) -> set[str]:
    rows = await pairs.uow.session.scalars(
        select(SyncLink.crm_id).where(
            SyncLink.sync_id == pairs.sync.id,
            SyncLink.object == pairs.sync.object,
            SyncLink.crm_id.in_(crm_ids),
        )
    )
    return set(rows)


async def link_crm_records(
    pairs: PairSync, records: list[Record], origin: LinkOrigin
) -> list[tuple[Record, Outcome]]:
    """Each of `records` (of the CRM side) linked to its Mailsuite partner, matched or made,
    with what became of it."""
    mailsuite = pairs.mailsuite
    if not isinstance(mailsuite, MailsuiteContacts):
        return [(r, await guarded(pairs.uow, pairs.compared(r, origin))) for r in records]
    linked = await _linked(pairs, [record.id for record in records])
    fresh = [record for record in records if record.id not in linked]
    partners = await mailsuite.match_many([(r.email, r.phone) for r in fresh])
    one_by_one = [record for record in records if record.id in linked]
    matched: list[tuple[Record, Record]] = []
    outcomes: list[tuple[Record, Outcome]] = []
    to_create: list[Record] = []
    addresses: set[str] = set()
    for record, partner in zip(fresh, partners, strict=True):
        refused = pairs.uncreatable("mailsuite", record)
        if partner is not None:
            matched.append((record, partner))
        elif (record.email or "").lower() in addresses:
            one_by_one.append(record)
        elif refused is not None:
            outcomes.append((record, refused))
        else:
            addresses.add((record.email or "").lower())
            to_create.append(record)
    outcomes += await _create_partners(pairs, mailsuite, to_create, origin)
    for record, partner in matched:
        linking = pairs.link_matched("crm", record, partner, origin)
        outcomes.append((record, await guarded(pairs.uow, linking)))
    for record in one_by_one:
        outcomes.append((record, await guarded(pairs.uow, pairs.compared(record, origin))))
    return outcomes


async def _create_partners(
    pairs: PairSync, mailsuite: MailsuiteContacts, records: list[Record], origin: LinkOrigin
) -> list[tuple[Record, Outcome]]:
    if not records:
        return []

    async def together() -> list[tuple[Record, Outcome]]:
        made = await mailsuite.create_many([pairs.carried("crm", record) for record in records])
        outcomes: list[tuple[Record, Outcome]] = []
        for record, partner in zip(records, made, strict=True):
            if isinstance(partner, str):
                outcomes.append((record, Outcome("failed", partner)))
                continue
            await pairs.reconcile("crm", record, partner, None, origin, flush=False)
            outcomes.append((record, Outcome("created")))
        await pairs.uow.session.flush()
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
