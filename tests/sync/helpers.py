"""What the sync tests share: a location's contacts on both sides made through their
services, a sync's state read back, and the identity map's invariants."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from contactflow.background import CONTEXT_WORKERS
from contactflow.contacts import service as contacts
from contactflow.contacts.models import Contact
from contactflow.contacts.schemas import ContactCreate as CrmCreate
from contactflow.mailsuite import contacts as mailsuite
from contactflow.mailsuite.models import MailContact
from contactflow.mailsuite.schemas import ContactCreate as MailCreate
from contactflow.platform.db import Database
from contactflow.platform.events import ConsumerCursor, Event
from contactflow.platform.runtime import running_workers
from contactflow.settings import Settings
from contactflow.sync import service
from contactflow.sync.models import PAUSED, Sync, SyncBackfill, SyncLink
from contactflow.sync.objects import kind_of
from contactflow.sync.service import SyncSettings, consumer_name
from tests.mailsuite.helpers import json_of, poll

SYNCS = "/sync/v1/syncs"
# How long a backfill may take on a loaded 2-core machine before a test gives up on it.
PATIENCE = 180.0
Json = dict[str, Any]


def phone(number: int) -> str:
    return f"+1202555{number:04d}"


@dataclass(frozen=True)
class World:
    """What a backfill test made: CRM contacts, Mailsuite contacts there before the sync,
    and how the backfill should link them."""

    crm_ids: list[str]
    mailsuite_before: int
    matched: int
    skipped: int
    # Mailsuite contacts that match nothing: a sync both ways makes each in the CRM.
    alone: int = 0


ALONE = 3


async def make_world(
    db: Database, location_id: str, size: int, crm_location: str | None = None
) -> World:
    """`size` CRM contacts (in `crm_location`, a remote account's, if given): every tenth
    has a phone and no email (half of those have a Mailsuite contact with that phone, the
    other half cannot be synced: no email, no match); every seventh other one has a
    Mailsuite contact already, its address in upper case; and three Mailsuite contacts match
    nothing."""
    crm_ids: list[str] = []
    before = matched = skipped = 0
    async with db.unit_of_work() as uow:
        for number in range(size):
            no_email = number % 10 == 0
            fields: Json = {
                "firstName": f"First{number}",
                "lastName": "Crm",
                "phone": phone(number),
            }
            if not no_email:
                fields["email"] = f"c{number}@example.com"
            if number % 3 == 0:
                fields["tags"] = ["vip", "lead"]
            contact = await contacts.create_contact(
                uow, crm_location or location_id, CrmCreate.model_validate(fields), "US"
            )
            crm_ids.append(contact.id)
            if no_email and number % 20 == 0:
                other: Json = {"email": f"phone{number}@example.com", "phone": phone(number)}
            elif not no_email and number % 7 == 0:
                other = {"email": f"C{number}@EXAMPLE.COM", "firstName": "Mail"}
            elif no_email:
                skipped += 1
                continue
            else:
                continue
            await mailsuite.create_contact(uow, location_id, MailCreate.model_validate(other), "US")
            before += 1
            matched += 1
        for number in range(ALONE):
            body = MailCreate.model_validate({"email": f"alone{number}@example.com"})
            await mailsuite.create_contact(uow, location_id, body, "US")
            before += 1
    return World(crm_ids, before, matched, skipped, ALONE)


async def wait_backfilled(http: httpx.AsyncClient, sync_id: str, within: float = PATIENCE) -> Json:
    async def fetch() -> Json:
        response = await http.get(f"{SYNCS}/{sync_id}")
        assert response.status_code == 200, response.text
        body: Json = json_of(response)["sync"]
        return body

    def finished(sync: Json) -> bool:
        return bool(sync["backfill"]["state"] == "finished")

    return await poll(fetch, finished, within=within)


async def backfill_job(db: Database, sync_id: str) -> SyncBackfill:
    async with db.reader() as session:
        job = await session.get(SyncBackfill, sync_id)
        assert job is not None
        return job


async def cut_off(
    db: Database, sync_id: str, step: Callable[[], Awaitable[bool]], after: int
) -> SyncBackfill:
    """The backfill advanced by `step` until at least `after` records are done, then its task
    cancelled mid-way: the job as it was left."""

    async def walk() -> None:
        while await step():
            pass

    task = asyncio.create_task(walk())
    await poll(lambda: backfill_job(db, sync_id), lambda job: job.done >= after, within=PATIENCE)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return await backfill_job(db, sync_id)


async def stopped_then_finished(
    db: Database, settings: Settings, http: httpx.AsyncClient, sync_id: str, more: int
) -> Json:
    """The backfill advanced by workers stopped once `more` records are done (it is still
    running then), then by others until it finishes: the sync as it is then."""
    before = (await backfill_job(db, sync_id)).done
    async with running_workers(db, settings, CONTEXT_WORKERS):
        await poll(
            lambda: backfill_job(db, sync_id),
            lambda job: job.done >= before + more,
            within=PATIENCE,
        )
    assert (await backfill_job(db, sync_id)).state == "running"
    async with running_workers(db, settings, CONTEXT_WORKERS):
        return await wait_backfilled(http, sync_id)


async def check_linked_once(
    db: Database, sync_id: str, location_id: str, world: World, crm_location: str | None = None
) -> None:
    """Each CRM contact (in `crm_location`, if given) that can be synced is linked once, to
    its own Mailsuite contact, and no contact was made twice on either side."""
    async with db.reader() as session:
        links = list(await session.scalars(select(SyncLink).where(SyncLink.sync_id == sync_id)))
        mail_count = await session.scalar(
            select(func.count())
            .select_from(MailContact)
            .where(MailContact.location_id == location_id)
        )
        crm_count = await session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.location_id == (crm_location or location_id))
        )
    linkable = len(world.crm_ids) - world.skipped
    assert len(links) == linkable + world.alone
    assert len({link.crm_id for link in links}) == linkable + world.alone
    assert len({link.mailsuite_id for link in links}) == linkable + world.alone
    assert len({link.crm_id for link in links} - set(world.crm_ids)) == world.alone
    created = linkable - world.matched
    assert mail_count == world.mailsuite_before + created
    # Only the Mailsuite contacts that matched nothing went back, each as one new CRM contact.
    assert crm_count == len(world.crm_ids) + world.alone


async def settled(db: Database, sync_id: str, location_id: str, within: float = 20) -> None:
    """Wait until the sync has read every change of its object in its location's log. A
    sync that wrote a change while reading one would have appended it past its own cursor: a
    loop would never settle."""

    async def positions() -> tuple[int, int]:
        async with db.reader() as session:
            cursor = await session.get(ConsumerCursor, (consumer_name(sync_id), location_id))
            sync = await session.get(Sync, sync_id)
            assert sync is not None
            watched = tuple(kind_of(sync.object).events)
            last = await session.scalar(
                select(func.max(Event.seq)).where(
                    Event.location_id == location_id, Event.type.in_(watched)
                )
            )
            return (cursor.position if cursor is not None else 0), last or 0

    await poll(positions, lambda pair: pair[0] >= pair[1], within=within)


async def linked_partner(db: Database, sync_id: str, crm_id: str, within: float = 10) -> str:
    """The Mailsuite contact linked to `crm_id`, once the sync has linked it."""

    async def find() -> str | None:
        async with db.reader() as session:
            return await session.scalar(
                select(SyncLink.mailsuite_id).where(
                    SyncLink.sync_id == sync_id, SyncLink.crm_id == crm_id
                )
            )

    found = await poll(find, lambda value: value is not None, within=within)
    assert found is not None
    return found


async def paused_sync(db: Database, location_id: str, name: str = "Paused") -> Sync:
    """A sync paused in the transaction that made it: its backfill has not begun."""
    async with db.unit_of_work() as uow:
        sync = await service.create_sync(uow, location_id, SyncSettings(name))
        await service.set_status(uow, location_id, sync.id, PAUSED)
        return sync
