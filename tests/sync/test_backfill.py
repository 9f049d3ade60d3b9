"""The backfill: every CRM contact linked once to a Mailsuite contact (matched by email, then
phone, before one is made), never a duplicate; interrupted and resumed, the same result."""

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from contactflow.mailsuite import contacts as mailsuite
from contactflow.mailsuite.models import MailContact
from contactflow.mailsuite.schemas import ContactCreate as MailCreate
from contactflow.platform.db import Database
from contactflow.platform.event_types import MAILSUITE_CONTACT_UPSERT
from contactflow.platform.events import Event
from contactflow.settings import Settings
from contactflow.sync import service
from contactflow.sync.backfill import advance
from contactflow.sync.service import SyncSettings
from contactflow.sync.sides import MailsuiteContacts, Record
from tests.mailsuite.helpers import json_of
from tests.support import (
    LiveServer,
    Tenant,
    api_client,
    make_tenant,
)
from tests.sync.helpers import (
    ALONE,
    SYNCS,
    backfill_job,
    check_linked_once,
    cut_off,
    make_world,
    stopped_then_finished,
    wait_backfilled,
)

SIZE = 300


async def test_backfill_links_each_contact_once(
    server: LiveServer, db: Database, tenant: Tenant
) -> None:
    world = await make_world(db, tenant.location_id, SIZE)
    async with api_client(server.base_url, tenant.headers) as http:
        created = await http.post(SYNCS, json={"name": "Everyone"})
        assert created.status_code == 201, created.text
        sync = json_of(created)["sync"]
        assert sync["backfill"]["total"] == SIZE
        assert [entry["crm"] for entry in sync["mapping"]] == [
            "firstName",
            "lastName",
            "email",
            "phone",
            "tags",
        ]
        done = await wait_backfilled(http, sync["id"])
        contacts = json_of(await http.get("/mailsuite/v1/contacts", params={"limit": 100}))
    job = done["backfill"]
    # The CRM's contacts, then the Mailsuite's that matched none, made in the CRM.
    assert (job["done"], job["total"], job["walking"]) == (SIZE + ALONE, SIZE + ALONE, "mailsuite")
    assert job["matched"] == world.matched
    assert job["skipped"] == world.skipped
    assert job["created"] == SIZE - world.matched - world.skipped + ALONE
    assert "no email address" in job["lastSkip"]
    assert job["secondsLeft"] == 0
    assert done["linked"] == SIZE - world.skipped + ALONE
    await check_linked_once(db, sync["id"], tenant.location_id, world)
    made = {contact["email"]: contact for contact in contacts["contacts"]}
    # A contact made by the sync carries the CRM contact's fields, its tags as text.
    assert made["c299@example.com"]["firstName"] == "First299"
    assert made["c297@example.com"]["customFields"] == {"tags": "vip, lead"}


async def test_backfill_interrupted_twice_resumes_to_the_same_result(
    own_settings: Settings, quiet_server: LiveServer
) -> None:
    """A backfill's task cancelled mid-way, then a worker stopped mid-way: each resumes after
    its last committed batch and links every contact once."""
    db = Database(own_settings.database_url)
    try:
        tenant = await make_tenant(db)
        world = await make_world(db, tenant.location_id, SIZE)
        async with api_client(quiet_server.base_url, tenant.headers) as http:
            sync_id = json_of(await http.post(SYNCS, json={}))["sync"]["id"]
            first = await cut_off(db, sync_id, lambda: advance(db, 5, "US"), 50)
            assert first.state == "running"
            assert first.done < SIZE

            done = await stopped_then_finished(db, own_settings, http, sync_id, 50)
        assert done["backfill"]["done"] == SIZE + ALONE
        assert done["backfill"]["matched"] == world.matched
        await check_linked_once(db, sync_id, tenant.location_id, world)
    finally:
        await db.dispose()


async def test_an_address_taken_after_a_batch_matched_is_linked_once(
    own_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer makes a Mailsuite contact with an address between the batch's match and
    its writes: the batch's creations roll back and its contacts are linked one by one, that
    one to the contact made meanwhile; the rolled-back creations leave no event."""
    db = Database(own_settings.database_url)
    try:
        tenant = await make_tenant(db)
        world = await make_world(db, tenant.location_id, 30)
        async with db.unit_of_work() as uow:
            sync = await service.create_sync(uow, tenant.location_id, SyncSettings("Race"))
        taken = "c1@example.com"
        match_many = MailsuiteContacts.match_many

        async def then_taken(
            side: MailsuiteContacts, wanted: list[tuple[str | None, str | None]]
        ) -> list[Record | None]:
            found = await match_many(side, wanted)
            body = MailCreate.model_validate({"email": taken.upper()})
            await mailsuite.create_contact(side.uow, side.location_id, body, "US")
            return found

        monkeypatch.setattr(MailsuiteContacts, "match_many", then_taken)
        while await advance(db, 100, "US"):
            pass

        job = await backfill_job(db, sync.id)
        assert (job.state, job.matched) == ("finished", world.matched + 1)
        assert job.skipped == world.skipped
        raced = replace(
            world, mailsuite_before=world.mailsuite_before + 1, matched=world.matched + 1
        )
        await check_linked_once(db, sync.id, tenant.location_id, raced)
        async with db.reader() as session:
            made = await session.scalar(
                select(func.count())
                .select_from(MailContact)
                .where(MailContact.location_id == tenant.location_id)
            )
            upserts = await session.scalars(
                select(Event.payload).where(
                    Event.location_id == tenant.location_id,
                    Event.type == MAILSUITE_CONTACT_UPSERT,
                )
            )
            news = sum(1 for payload in upserts if payload["new"])
        assert news == made
    finally:
        await db.dispose()
