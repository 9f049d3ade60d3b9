"""A batch of changes read from the event log, synced together (ADR 0040): the links of its
records read in one query, the records and their partners in one query a side (the object's
bulk readers, sync/objects.py), the partners' updates written together (in one statement a
table where a side writes many at once), the links, the history and its pruning with one
flush. Every object goes this way.

A pair is synced once per batch, from both records as they are now, however many of its
changes the batch holds: the state, not the events, is synced. What is out of the common way
goes one by one, in the order its changes came, through `PairSync` as before: a record with no
link yet (matched, created, or waiting for its contact), a pair a delete in the batch touches,
a pair one of whose records is gone. A pair whose CRM record the sync's segment leaves out
carries nothing (ADR 0042). When a side refuses a write of the batch, the batch's
writes are rolled back in their savepoint and its pairs synced one by one, each refused alone
(sync/bulk.py), so one refusal never loses the others' changes."""

from collections.abc import Awaitable
from dataclasses import dataclass

from contactflow.sync.bulk import InStep, in_step, links_of, together_or_apart
from contactflow.sync.models import SideName, SyncLink
from contactflow.sync.pairs import EXCLUDED, Outcome, PairSync, guarded
from contactflow.sync.sides import Record


@dataclass(frozen=True)
class Change:
    side: SideName
    record_id: str
    deleted: bool


@dataclass(frozen=True)
class _Due:
    """A linked pair to bring in step: `change` told of its `record`, whose partner is
    `partner`."""

    change: Change
    link: SyncLink
    record: Record
    partner: Record


def synced(pairs: PairSync, change: Change) -> Awaitable[Outcome]:
    """Bring the partner of the changed record in step, one record at a time."""
    if change.deleted:
        return pairs.deleted(change.side, change.record_id)
    return pairs.changed(change.side, change.record_id, change.side)


def _other(side: SideName) -> SideName:
    return "mailsuite" if side == "crm" else "crm"


async def _links(pairs: PairSync, changes: list[Change]) -> dict[tuple[SideName, str], SyncLink]:
    """The links of the changed records, by (side, record id), in a query a side: one query
    with an OR of both sides read every link of the sync on SQLite (it uses one index, the
    sync's)."""
    ids: dict[SideName, list[str]] = {"crm": [], "mailsuite": []}
    for change in changes:
        ids[change.side].append(change.record_id)
    found: dict[tuple[SideName, str], SyncLink] = {}
    for side, wanted in ids.items():
        if wanted:
            for link in (await links_of(pairs, side, wanted)).values():
                found[("crm", link.crm_id)] = found[("mailsuite", link.mailsuite_id)] = link
    return found


async def sync_changes(pairs: PairSync, changes: list[Change]) -> list[tuple[Change, Outcome]]:
    """Each change of the batch brought to the other side, with what became of it."""
    links = await _links(pairs, changes)
    groups: dict[object, tuple[SyncLink | None, list[Change]]] = {}
    for change in changes:
        link = links.get((change.side, change.record_id))
        key = link.id if link is not None else (change.side, change.record_id)
        groups.setdefault(key, (link, []))[1].append(change)
    together: list[tuple[SyncLink, list[Change]]] = []
    apart: list[Change] = []
    for link, group in groups.values():
        if link is None or link.gone is not None or any(c.deleted for c in group):
            apart += group
        else:
            together.append((link, group))
    outcomes = await _linked(pairs, together)
    apart.sort(key=changes.index)
    for change in apart:
        outcomes.append((change, await guarded(pairs.uow, synced(pairs, change))))
    return outcomes


async def _linked(
    pairs: PairSync, together: list[tuple[SyncLink, list[Change]]]
) -> list[tuple[Change, Outcome]]:
    """The changes of linked pairs, each pair read with the others and synced once."""
    if not together:
        return []
    reads, session, location = pairs.kind.reads, pairs.uow.session, pairs.sync.location_id
    records = {
        "crm": await reads["crm"](session, location, [link.crm_id for link, _ in together]),
        "mailsuite": await reads["mailsuite"](
            session, location, [link.mailsuite_id for link, _ in together]
        ),
    }
    outcomes: list[tuple[Change, Outcome]] = []
    due: list[_Due] = []
    # A pair whose CRM record the segment leaves out keeps its link and carries nothing.
    left_out = await pairs.coverage.left_out(list(records["crm"].values()))
    if left_out:
        await pairs.coverage.excluded(sorted(left_out))
    for link, group in together:
        if link.crm_id in left_out:
            outcomes += [(change, EXCLUDED) for change in group]
            continue
        now: dict[SideName, Record | None] = {
            "crm": records["crm"].get(link.crm_id),
            "mailsuite": records["mailsuite"].get(link.mailsuite_id),
        }
        moved = [
            change
            for change in group
            if (record := now[change.side]) is None
            or not pairs.as_synced(change.side, record, link)
        ]
        # As last synced on every side told of: the sync's own writes, back.
        outcomes += [(change, Outcome("unchanged")) for change in group if change not in moved]
        if not moved:
            continue
        # The pair is synced once, from both records as they are now.
        change, other = moved[0], _other(moved[0].side)
        outcomes += [(later, Outcome("unchanged")) for later in moved[1:]]
        record, partner = now[change.side], now[other]
        if record is None:
            gone = f"the {change.side} record {change.record_id} is no longer there"
            outcomes.append((change, Outcome("skipped", gone)))
        elif partner is None:
            gone = f"its linked {other} record is no longer there"
            outcomes.append((change, Outcome("skipped", gone)))
        else:
            due.append(_Due(change, link, record, partner))
    if not due:
        return outcomes
    outcomes += await together_or_apart(
        pairs, lambda: _in_step(pairs, due), lambda: _one_by_one(pairs, due)
    )
    return outcomes


async def _in_step(pairs: PairSync, due: list[_Due]) -> list[tuple[Change, Outcome]]:
    steps = [
        InStep(pair.record, pair.partner, pair.link, pair.change.side)
        if pair.change.side == "crm"
        else InStep(pair.partner, pair.record, pair.link, pair.change.side)
        for pair in due
    ]
    await in_step(pairs, steps)
    return [(pair.change, Outcome("synced")) for pair in due]


async def _one_by_one(pairs: PairSync, due: list[_Due]) -> list[tuple[Change, Outcome]]:
    outcomes: list[tuple[Change, Outcome]] = []
    for pair in due:
        side = pair.change.side
        outcomes.append(
            (pair.change, await guarded(pairs.uow, pairs.record(side, pair.record, side)))
        )
    return outcomes
