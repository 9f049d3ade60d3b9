"""Any interleaving of changes on both sides (random mapped fields and values, random conflict
policies) and of the sync's reading of the log ends, once the log is read, with both sides of
every pair equal under the mapping, and the log quiet: reading it again changes nothing (no
echo loop). Fields held for a person converge once their conflicts are resolved.

Driven in process against a database of the test's own (no workers: each example decides
when the sync reads), a new location per example."""

from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from contactflow.contacts import service as contacts
from contactflow.contacts.schemas import ContactCreate as CrmCreate
from contactflow.contacts.schemas import ContactUpdate as CrmUpdate
from contactflow.mailsuite import contacts as mailsuite
from contactflow.mailsuite.schemas import ContactUpdate as MailUpdate
from contactflow.platform.db import Database
from contactflow.platform.events import Event
from contactflow.settings import Settings
from contactflow.sync import backfill, conflicts, incremental
from contactflow.sync.fields import FieldMap
from contactflow.sync.models import OPEN, Sync, SyncConflict, SyncLink
from contactflow.sync.pairs import pairs_for
from contactflow.sync.service import SyncSettings, create_sync
from tests.support import make_tenant

FIELDS = (("firstName", "firstName"), ("lastName", "lastName"), ("tags", "customFields.tags"))
POLICIES = ("crmWins", "mailsuiteWins", "newestWins", "manual")
PEOPLE = 2
# A loop would never stop writing: far more rounds than a quiet log needs.
ROUNDS = 20


@dataclass(frozen=True)
class Change:
    side: str
    person: int
    field: int
    value: Any


def _value(field: int) -> st.SearchStrategy[Any]:
    if FIELDS[field][0] == "tags":
        return st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=2, unique=True)
    return st.sampled_from(["Ann", "Bea", "Cid"])


changes = st.integers(0, len(FIELDS) - 1).flatmap(
    lambda field: st.builds(
        Change,
        side=st.sampled_from(["crm", "mailsuite"]),
        person=st.integers(0, PEOPLE - 1),
        field=st.just(field),
        value=_value(field),
    )
)
# A step is a change on one side, or the sync reading what the log holds (None): reads are
# rarer, so a field often changes on both sides in between (a conflict).
steps = st.lists(st.one_of(changes, changes, changes, st.none()), min_size=1, max_size=12)
BOTH_SIDES = [Change("crm", 0, 0, "Bea"), Change("mailsuite", 0, 0, "Cid"), None]


async def _read_until_quiet(db: Database) -> None:
    for _ in range(ROUNDS):
        if not await incremental.consume(db, "US", 50):
            return
    raise AssertionError("the sync never stopped reading: a loop")


async def _apply(db: Database, location_id: str, ids: list[tuple[str, str]], step: Change) -> None:
    crm_name, mail_name = FIELDS[step.field]
    entry = FieldMap(crm_name, mail_name)
    crm_id, mail_id = ids[step.person]
    async with db.unit_of_work() as uow:
        if step.side == "crm":
            body = CrmUpdate.model_validate({crm_name: step.value})
            await contacts.update_contact(uow, location_id, crm_id, body, "US")
            return
        value = entry.to_mailsuite(step.value)
        fields = {"customFields": {"tags": value}} if crm_name == "tags" else {mail_name: value}
        await mailsuite.update_contact(
            uow, location_id, mail_id, MailUpdate.model_validate(fields), "US"
        )


async def _events(db: Database, location_id: str) -> int:
    async with db.reader() as session:
        count = await session.scalar(
            select(func.count()).select_from(Event).where(Event.location_id == location_id)
        )
    return count or 0


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(policies=st.tuples(*[st.sampled_from(POLICIES)] * len(FIELDS)), plan=steps)
@example(policies=("manual", "crmWins", "newestWins"), plan=BOTH_SIDES)
@example(policies=("newestWins", "crmWins", "mailsuiteWins"), plan=BOTH_SIDES)
async def test_any_interleaving_converges_and_settles(
    isolated_db: Database, policies: tuple[str, ...], plan: list[Change | None]
) -> None:
    db = isolated_db
    tenant = await make_tenant(db)
    location = tenant.location_id
    changed = [FieldMap(c, m, p) for (c, m), p in zip(FIELDS, policies, strict=True)]  # type: ignore[arg-type]
    # Mailsuite keys its contacts by email: mapped, never changed here.
    mapping = (*changed, FieldMap("email", "email"))
    async with db.unit_of_work() as uow:
        crm_ids = [
            (
                await contacts.create_contact(
                    uow,
                    location,
                    CrmCreate.model_validate({"email": f"p{n}@example.com", "firstName": "Ann"}),
                    "US",
                )
            ).id
            for n in range(PEOPLE)
        ]
        sync = await create_sync(uow, location, SyncSettings("Both", mapping=mapping))
        sync_id = sync.id
    while await backfill.advance(db, 50, "US"):
        pass
    async with db.reader() as session:
        links = {
            link.crm_id: link.mailsuite_id
            for link in await session.scalars(select(SyncLink).where(SyncLink.sync_id == sync_id))
        }
    ids = [(crm_id, links[crm_id]) for crm_id in crm_ids]

    for step in plan:
        if step is None:
            await _read_until_quiet(db)
        else:
            await _apply(db, location, ids, step)
    await _read_until_quiet(db)
    async with db.reader() as session:
        held = list(
            await session.scalars(
                select(SyncConflict.id).where(
                    SyncConflict.sync_id == sync_id, SyncConflict.state == OPEN
                )
            )
        )
    resolving = Settings(default_phone_region="US")
    for conflict_id in held:
        await conflicts.resolve(db, resolving, location, sync_id, conflict_id, "crm", None, "test")
    await _read_until_quiet(db)

    async with db.unit_of_work() as uow:
        stored = await uow.session.get(Sync, sync_id)
        assert stored is not None
        pairs = pairs_for(uow, stored, "US")
        for crm_id, mail_id in ids:
            crm, mail = await pairs.crm.get(crm_id), await pairs.mailsuite.get(mail_id)
            assert crm is not None
            assert mail is not None
            for entry in mapping:
                crm_value, mail_value = crm.values.get(entry.crm), mail.values.get(entry.mailsuite)
                assert entry.same(crm_value, mail_value), (entry, crm_value, mail_value)
    quiet = await _events(db, location)
    assert not await incremental.consume(db, "US", 50)
    assert await _events(db, location) == quiet
