"""A batch of changes synced together: a pair changed several times (on one side or both) in
one batch is written once, from its records as they are now; records with and without links
share a batch; a record a side refuses is refused alone, its batch's other changes synced and
the cursor past them all; and a batch that fails as a whole moves nothing, so its changes are
synced by the next read, once.

Driven in process against a database of the test's own: each test decides when the sync
reads (one read of up to 100 events is one batch)."""

from typing import Any

import pytest
from sqlalchemy import func, select

from contactflow.contacts import service as contacts
from contactflow.contacts.schemas import ContactCreate as CrmCreate
from contactflow.contacts.schemas import ContactUpdate as CrmUpdate
from contactflow.mailsuite import contacts as mailsuite
from contactflow.mailsuite.schemas import ContactCreate as MailCreate
from contactflow.mailsuite.schemas import ContactUpdate as MailUpdate
from contactflow.platform.db import Database
from contactflow.platform.event_types import MAILSUITE_CONTACT_UPSERT, SYNC_FAILED
from contactflow.platform.events import ConsumerCursor, Event
from contactflow.sync import backfill, history, incremental
from contactflow.sync.models import Direction, Sync, SyncLink, sync_origin
from contactflow.sync.service import SyncSettings, consumer_name, create_sync
from tests.support import make_tenant

BATCH = 100


async def _synced_world(
    db: Database, people: int, direction: Direction = "both"
) -> tuple[str, str, list[tuple[str, str]]]:
    """A location with `people` contacts, a sync backfilled, and each contact's pair."""
    location = (await make_tenant(db)).location_id
    async with db.unit_of_work() as uow:
        crm_ids = []
        for number in range(people):
            body = CrmCreate.model_validate(
                {"email": f"p{number}@example.com", "firstName": f"P{number}"}
            )
            crm_ids.append((await contacts.create_contact(uow, location, body, "US")).id)
        sync = await create_sync(uow, location, SyncSettings("Batch", direction=direction))
        sync_id = sync.id
    while await backfill.advance(db, BATCH, "US"):
        pass
    async with db.reader() as session:
        links = _links(await session.execute(select(SyncLink.crm_id, SyncLink.mailsuite_id)))
    return location, sync_id, [(crm_id, links[crm_id]) for crm_id in crm_ids]


def _links(rows: Any) -> dict[str, str]:
    return {crm_id: mailsuite_id for crm_id, mailsuite_id in rows}


async def _change_crm(db: Database, location: str, crm_id: str, **fields: Any) -> None:
    async with db.unit_of_work() as uow:
        body = CrmUpdate.model_validate(fields)
        await contacts.update_contact(uow, location, crm_id, body, "US")


async def _change_mail(db: Database, location: str, mail_id: str, **fields: Any) -> None:
    async with db.unit_of_work() as uow:
        body = MailUpdate.model_validate(fields)
        await mailsuite.update_contact(uow, location, mail_id, body, "US")


async def _both(db: Database, location: str, crm_id: str, mail_id: str) -> tuple[Any, Any]:
    async with db.reader() as session:
        crm = await contacts.find_contact(session, location, crm_id)
        mail = await mailsuite.find_contact(session, location, mail_id)
        return crm, mail


async def _sync_writes(db: Database, sync_id: str, event_type: str, subject_id: str) -> int:
    async with db.reader() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Event)
            .where(
                Event.type == event_type,
                Event.subject_id == subject_id,
                Event.origin == sync_origin(sync_id),
            )
        )
    return count or 0


async def _cursor(db: Database, sync_id: str, location: str) -> int:
    async with db.reader() as session:
        cursor = await session.get(ConsumerCursor, (consumer_name(sync_id), location))
        return cursor.position if cursor is not None else 0


async def _last_seq(db: Database, location: str) -> int:
    async with db.reader() as session:
        last = await session.scalar(
            select(func.max(Event.seq)).where(Event.location_id == location)
        )
        return last or 0


async def test_a_pair_changed_many_times_in_a_batch_is_written_once_beside_new_records(
    isolated_db: Database,
) -> None:
    db = isolated_db
    location, sync_id, [(ann, ann_mail), (bea, bea_mail)] = await _synced_world(db, 2)
    made_by_backfill = await _sync_writes(db, sync_id, MAILSUITE_CONTACT_UPSERT, ann_mail)
    # Ann changes twice here and once in Mailsuite, Bea once; Cy is new on the CRM side and
    # Dee on the Mailsuite side: one batch.
    await _change_crm(db, location, ann, first_name="Anna")
    await _change_crm(db, location, ann, first_name="Annabel")
    await _change_mail(db, location, ann_mail, last_name="Lee")
    await _change_crm(db, location, bea, first_name="Beatrix")
    async with db.unit_of_work() as uow:
        body = CrmCreate.model_validate({"email": "cy@example.com", "firstName": "Cy"})
        cy = (await contacts.create_contact(uow, location, body, "US")).id
        made = MailCreate.model_validate({"email": "dee@example.com", "firstName": "Dee"})
        dee_mail = (await mailsuite.create_contact(uow, location, made, "US")).id

    assert await incremental.consume(db, "US", BATCH)

    crm, mail = await _both(db, location, ann, ann_mail)
    assert (mail.first_name, mail.last_name) == ("Annabel", "Lee")
    assert (crm.first_name, crm.last_name) == ("Annabel", "Lee")
    _, mail = await _both(db, location, bea, bea_mail)
    assert mail.first_name == "Beatrix"
    # One write each way for Ann's pair, whatever number of its changes the batch held.
    written = await _sync_writes(db, sync_id, MAILSUITE_CONTACT_UPSERT, ann_mail)
    assert written == made_by_backfill + 1
    async with db.reader() as session:
        entries = await history.of_pair(session, sync_id, ann)
        links = _links(await session.execute(select(SyncLink.crm_id, SyncLink.mailsuite_id)))
    assert sorted((e.direction, e.fields) for e in entries) == [
        ("crmToMailsuite", ["firstName"]),
        ("mailsuiteToCrm", ["lastName"]),
    ]
    assert cy in links
    assert dee_mail in links.values()
    _, cy_mail = await _both(db, location, cy, links[cy])
    assert cy_mail.first_name == "Cy"
    # The sync's own writes come back as no change: the log settles.
    while await incremental.consume(db, "US", BATCH):
        pass
    assert await _sync_writes(db, sync_id, MAILSUITE_CONTACT_UPSERT, ann_mail) == written
    assert await _cursor(db, sync_id, location) == await _last_seq(db, location)


async def test_a_record_a_side_refuses_is_refused_alone_and_the_batch_goes_on(
    isolated_db: Database,
) -> None:
    db = isolated_db
    location, sync_id, pairs = await _synced_world(db, 3, "crmToMailsuite")
    (ann, ann_mail), (eve, eve_mail), (fay, fay_mail) = pairs
    made_by_backfill = await _sync_writes(db, sync_id, MAILSUITE_CONTACT_UPSERT, ann_mail)
    async with db.unit_of_work() as uow:
        taken = MailCreate.model_validate({"email": "taken@example.com"})
        await mailsuite.create_contact(uow, location, taken, "US")
    await _change_crm(db, location, ann, first_name="Anna")
    await _change_crm(db, location, eve, email="taken@example.com", first_name="Evelyn")
    await _change_crm(db, location, fay, first_name="Faith")

    assert await incremental.consume(db, "US", BATCH)

    assert (await _both(db, location, ann, ann_mail))[1].first_name == "Anna"
    assert (await _both(db, location, fay, fay_mail))[1].first_name == "Faith"
    _, refused = await _both(db, location, eve, eve_mail)
    assert (refused.email, refused.first_name) == ("p1@example.com", "P1")
    # The batch written together was rolled back, then each pair done alone: no event of the
    # rolled-back writes, one of each written pair's.
    upserts = [
        await _sync_writes(db, sync_id, MAILSUITE_CONTACT_UPSERT, m) for m in (ann_mail, eve_mail)
    ]
    assert upserts == [made_by_backfill + 1, made_by_backfill]
    async with db.reader() as session:
        sync = await session.get(Sync, sync_id)
        failed = await session.scalar(
            select(func.count()).where(Event.type == SYNC_FAILED, Event.location_id == location)
        )
        [entry] = await history.of_pair(session, sync_id, eve)
    assert sync is not None
    assert sync.last_error is not None
    assert sync.last_error.startswith(f"crm record {eve}: ")
    assert failed == 1
    assert (entry.direction, entry.result) == ("crmToMailsuite", "refused")
    # Refused changes are told, not retried: the cursor is past the whole batch.
    while await incremental.consume(db, "US", BATCH):
        pass
    assert await _cursor(db, sync_id, location) == await _last_seq(db, location)


async def test_a_batch_that_fails_moves_nothing_and_is_synced_by_the_next_read(
    isolated_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = isolated_db
    location, sync_id, [(ann, ann_mail), (bea, bea_mail)] = await _synced_world(db, 2)
    position = await _cursor(db, sync_id, location)
    made_by_backfill = await _sync_writes(db, sync_id, MAILSUITE_CONTACT_UPSERT, ann_mail)
    await _change_crm(db, location, ann, first_name="Anna")
    await _change_crm(db, location, bea, first_name="Beatrix")

    async def broken(*_: object) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(mailsuite, "update_contacts", broken)
        with pytest.raises(RuntimeError):
            await incremental.consume(db, "US", BATCH)
    assert await _cursor(db, sync_id, location) == position
    assert (await _both(db, location, ann, ann_mail))[1].first_name == "P0"

    assert await incremental.consume(db, "US", BATCH)
    assert (await _both(db, location, ann, ann_mail))[1].first_name == "Anna"
    assert (await _both(db, location, bea, bea_mail))[1].first_name == "Beatrix"
    assert (
        await _sync_writes(db, sync_id, MAILSUITE_CONTACT_UPSERT, ann_mail) == made_by_backfill + 1
    )
