"""The backfill of a contact's tasks and notes in bulk batches: each linked once under its
contact's partner, its copy's events told as the sync's own; a batch that fails after its
writes leaves nothing of them, and the walk resumes from the last committed batch with
nothing made twice; a task whose contact is not linked waits, then follows its contact."""

from collections.abc import Awaitable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from contactflow.background import CONTEXT_WORKERS
from contactflow.contacts import records
from contactflow.contacts import service as contacts
from contactflow.contacts.models import Task as CrmTask
from contactflow.contacts.record_schemas import NoteCreate, TaskCreate
from contactflow.contacts.schemas import ContactCreate, ContactUpdate
from contactflow.mailsuite.models import Task as MailTask
from contactflow.mailsuite.models import TimelineEntry
from contactflow.platform.db import Database
from contactflow.platform.event_types import (
    MAILSUITE_TASK_COMPLETE,
    MAILSUITE_TASK_CREATE,
    TIMELINE_ENTRY_CREATE,
)
from contactflow.platform.events import Event
from contactflow.platform.runtime import running_workers
from contactflow.settings import Settings
from contactflow.sync import bulk, parents, service, statuses
from contactflow.sync.backfill import advance
from contactflow.sync.models import Sync, SyncLink, SyncObject, sync_origin
from contactflow.sync.service import SyncSettings
from tests.mailsuite.helpers import poll
from tests.support import make_tenant
from tests.sync.helpers import backfill_job

CONTACTS = 40
EACH = 3  # tasks, and notes, of each contact
DUE = datetime(2026, 12, 24, 9, tzinfo=UTC)
COPY_EVENTS = (MAILSUITE_TASK_CREATE, MAILSUITE_TASK_COMPLETE, TIMELINE_ENTRY_CREATE)


async def contacts_with_records(db: Database, location_id: str) -> list[str]:
    """`CONTACTS` contacts with addresses, and one with none (the contacts sync cannot link
    it), each with `EACH` tasks (every third completed) and `EACH` notes: the last one's id
    last."""
    made: list[str] = []
    async with db.unit_of_work() as uow:
        for number in range(CONTACTS + 1):
            fields = {"firstName": f"P{number}"}
            if number < CONTACTS:
                fields["email"] = f"p{number}@example.com"
            body = ContactCreate.model_validate(fields)
            contact = await contacts.create_contact(uow, location_id, body, "US")
            made.append(contact.id)
            for k in range(EACH):
                task = TaskCreate.model_validate(
                    {"title": f"T{number}-{k}", "dueDate": DUE, "completed": k == 0}
                )
                await records.create_task(uow, location_id, contact.id, task)
                note = NoteCreate.model_validate({"body": f"N{number}-{k}"})
                await records.create_note(uow, location_id, contact.id, note)
    return made


async def backfilled(db: Database, location_id: str, *objects: SyncObject) -> list[Sync]:
    """Syncs of `objects` made, one after the other, each backfilled to its end by batches
    of 40."""
    syncs: list[Sync] = []
    for name in objects:
        async with db.unit_of_work() as uow:
            syncs.append(await service.create_sync(uow, location_id, SyncSettings(object=name)))
        while await advance(db, 40, "US"):
            pass
    return syncs


async def count(db: Database, query: object) -> int:
    async with db.reader() as session:
        return int(await session.scalar(query) or 0)  # type: ignore[call-overload]


async def links_of(db: Database, sync_id: str) -> list[SyncLink]:
    async with db.reader() as session:
        return list(await session.scalars(select(SyncLink).where(SyncLink.sync_id == sync_id)))


def events(location_id: str, event_type: str) -> object:
    return select(func.count()).where(Event.location_id == location_id, Event.type == event_type)


async def check_linked_once(db: Database, location_id: str, tasks: Sync, notes: Sync) -> None:
    """Each task and note of a linked contact linked once, to a copy of its own made once
    under its contact's partner, its events told as its sync's own."""
    linked = CONTACTS * EACH
    for sync in (tasks, notes):
        links = await links_of(db, sync.id)
        assert len({link.crm_id for link in links}) == len(links) == linked
        assert len({link.mailsuite_id for link in links}) == linked
    async with db.reader() as session:
        rows = await session.execute(select(CrmTask.id, CrmTask.contact_id))
        owners = {task: contact for task, contact in rows}
        copies = list(
            await session.execute(
                select(MailTask.id, MailTask.source_id, MailTask.contact_id, MailTask.status)
            )
        )
        entries = list(
            await session.execute(
                select(TimelineEntry.id, TimelineEntry.source_id).where(
                    TimelineEntry.location_id == location_id, TimelineEntry.kind == "note"
                )
            )
        )
        partners = await parents.partners_of(session, location_id, "crm", owners.values())
        told = set(
            await session.execute(
                select(Event.type, Event.origin)
                .distinct()
                .where(Event.location_id == location_id, Event.type.in_(COPY_EVENTS))
            )
        )
    task_links = {link.crm_id: link.mailsuite_id for link in await links_of(db, tasks.id)}
    assert {source: copy for copy, source, _, _ in copies} == task_links
    assert all(contact == partners[owners[str(source)]] for _, source, contact, _ in copies)
    assert sum(status == "done" for *_, status in copies) == CONTACTS
    note_links = {link.crm_id: link.mailsuite_id for link in await links_of(db, notes.id)}
    assert {source: entry for entry, source in entries} == note_links
    by_tasks, by_notes = sync_origin(tasks.id), sync_origin(notes.id)
    assert told == {
        (MAILSUITE_TASK_CREATE, by_tasks),
        (MAILSUITE_TASK_COMPLETE, by_tasks),
        (TIMELINE_ENTRY_CREATE, by_tasks),
        (TIMELINE_ENTRY_CREATE, by_notes),
    }
    assert await count(db, events(location_id, MAILSUITE_TASK_CREATE)) == linked
    assert await count(db, events(location_id, MAILSUITE_TASK_COMPLETE)) == CONTACTS
    # A note's entry, and a task's "created" and "completed" entries.
    assert await count(db, events(location_id, TIMELINE_ENTRY_CREATE)) == linked * 2 + CONTACTS


async def test_tasks_and_notes_backfilled_in_bulk_and_a_waiting_task_follows_its_contact(
    own_settings: Settings,
) -> None:
    db = Database(own_settings.database_url)
    try:
        location = (await make_tenant(db)).location_id
        made = await contacts_with_records(db, location)
        _, tasks, notes = await backfilled(db, location, "contacts", "tasks", "notes")
        await check_linked_once(db, location, tasks, notes)
        for sync in (tasks, notes):
            job = await backfill_job(db, sync.id)
            total = (CONTACTS + 1) * EACH
            assert (job.state, job.done, job.created, job.skipped) == (
                "finished",
                total,
                CONTACTS * EACH,
                EACH,
            )
            assert "not linked yet" in str(job.last_skip)
        async with db.reader() as session:
            waiting = (
                await statuses.count(session, tasks, "waiting"),
                await statuses.count(session, notes, "waiting"),
            )
        assert waiting == (EACH, EACH)

        # The last contact gets an address: the contacts sync links it, its records follow.
        async with db.unit_of_work() as uow:
            change = ContactUpdate.model_validate({"email": "late@example.com"})
            await contacts.update_contact(uow, location, made[-1], change, "US")
        async with running_workers(db, own_settings, CONTEXT_WORKERS):
            everyone = len(made) * EACH

            async def all_linked() -> list[int]:
                return [len(await links_of(db, sync.id)) for sync in (tasks, notes)]

            await poll(all_linked, lambda linked: linked == [everyone, everyone], within=60)
        async with db.reader() as session:
            assert await statuses.count(session, tasks, "waiting") == 0
            late = await parents.partner_of(session, location, "crm", made[-1])
            followed = await session.scalar(select(func.count()).where(MailTask.contact_id == late))
        assert followed == EACH
    finally:
        await db.dispose()


async def test_a_batch_failing_after_its_writes_leaves_nothing_and_the_walk_resumes(
    own_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half-way through the tasks' and notes' backfills a batch fails after writing its
    copies (a crash before its commit): none of its copies, links or events stay, its
    position is not moved, and the walk resumed links every record once."""
    db = Database(own_settings.database_url)
    try:
        location = (await make_tenant(db)).location_id
        await contacts_with_records(db, location)
        await backfilled(db, location, "contacts")
        create_partners = bulk._create_partners
        calls = 0

        async def crashing(*args: object) -> object:
            nonlocal calls
            calls += 1
            made = await create_partners(*args)  # type: ignore[arg-type]
            if calls in (5, 6):
                raise RuntimeError("the process stops before the batch commits")
            return made

        monkeypatch.setattr(bulk, "_create_partners", crashing)
        async with db.unit_of_work() as uow:
            tasks = await service.create_sync(uow, location, SyncSettings(object="tasks"))
            notes = await service.create_sync(uow, location, SyncSettings(object="notes"))

        def walk() -> Awaitable[bool]:
            return advance(db, 40, "US")

        for _ in range(4):  # two batches of each
            assert await walk()
        halfway = [(await backfill_job(db, sync.id)).done for sync in (tasks, notes)]
        for _ in range(2):
            with pytest.raises(RuntimeError):
                await walk()
        assert [(await backfill_job(db, s.id)).done for s in (tasks, notes)] == halfway
        copied = await count(db, events(location, MAILSUITE_TASK_CREATE))
        assert copied == len(await links_of(db, tasks.id))
        monkeypatch.setattr(bulk, "_create_partners", create_partners)
        while await walk():
            pass
        await check_linked_once(db, location, tasks, notes)
    finally:
        await db.dispose()
