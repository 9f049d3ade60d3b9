"""`kill -9` of a `contactflow worker` halfway through the backfill of a remote account's 500
contacts, each with a task and a note, synced by three syncs (contacts, tasks, notes) over
HTTP: a second worker finishes it, and every record is linked exactly once, with no
duplicate on either side (by email; by title or body per contact)."""

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from contactflow.contacts.models import Contact, Note, Task
from contactflow.mailsuite.models import MailContact, TimelineEntry
from contactflow.mailsuite.models import Task as MailTask
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.ids import new_id
from contactflow.settings import Settings
from contactflow.sync.models import SyncBackfill, SyncLink
from tests.mailsuite.helpers import json_of, poll
from tests.support import LiveServer, api_client, make_tenant
from tests.sync.helpers import SYNCS
from tests.sync.remote_helpers import remote_connection
from tests.webhooks.helpers import WorkerProcess, worker_processes

SIZE = 500
# About 20 ms of CPU a record between the worker and the remote server (a request per contact
# per sync, and the Mailsuite's writes): on a busy machine the backfill takes minutes.
WORKER = {
    "worker_groups": "sync",
    # Twenty batches a sync, so that the kill lands between batches well inside the backfill.
    "sync_batch_size": "25",
    # The dead worker's lease on a sync runs out soon after it.
    "lease_seconds": "3",
    # The remote is the test's own server: far more than HighLevel's budget.
    "remote_rate_burst": "1000000",
    "remote_rate_daily": "1000000000",
}


@pytest.fixture
def workers(own_settings: Settings, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    with worker_processes(own_settings.database_url, tmp_path) as start:
        yield start


async def _seed(db: Database, location_id: str) -> None:
    """`SIZE` contacts, each with a task and a note, written at once (no events)."""
    began = utcnow() - timedelta(hours=1)
    contacts: list[dict[str, object]] = []
    tasks: list[dict[str, object]] = []
    notes: list[dict[str, object]] = []
    for number in range(SIZE):
        contact_id, added = new_id(), began + timedelta(milliseconds=number)
        email = f"r{number}@remote.io"
        contacts.append(
            {
                "id": contact_id,
                "location_id": location_id,
                "first_name": f"R{number}",
                "email": email,
                "email_lower": email,
                "search_text": email,
                "date_added": added,
                "date_updated": added,
            }
        )
        common = {
            "location_id": location_id,
            "contact_id": contact_id,
            "date_added": added,
            "date_updated": added,
        }
        tasks.append({**common, "id": new_id(), "title": f"Call r{number}", "due_date": began})
        notes.append({**common, "id": new_id(), "body": f"Met r{number}"})
    async with db.unit_of_work() as uow:
        await uow.session.execute(insert(Contact), contacts)
        await uow.session.execute(insert(Task), tasks)
        await uow.session.execute(insert(Note), notes)


async def _links(db: Database, sync_ids: list[str]) -> int:
    async with db.reader() as session:
        query = select(func.count()).where(SyncLink.sync_id.in_(sync_ids))
        return int(await session.scalar(query) or 0)


async def _finished(db: Database, sync_ids: list[str]) -> bool:
    async with db.reader() as session:
        states = await session.scalars(
            select(SyncBackfill.state).where(SyncBackfill.sync_id.in_(sync_ids))
        )
        return set(states) == {"finished"}


async def _check_once(db: Database, location: str, remote: str, syncs: dict[str, str]) -> None:
    async with db.reader() as session:
        for name, sync_id in syncs.items():
            links = list(await session.scalars(select(SyncLink).where(SyncLink.sync_id == sync_id)))
            assert len(links) == SIZE, name
            assert len({link.crm_id for link in links}) == SIZE, name
            assert len({link.mailsuite_id for link in links}) == SIZE, name

        async def count(query: object) -> int:
            return int(await session.scalar(query) or 0)  # type: ignore[call-overload]

        # No duplicate on the remote: nothing was written back.
        for model in (Contact, Task, Note):
            mine = select(func.count()).select_from(model).where(model.location_id == remote)
            assert await count(mine) == SIZE, model.__name__
        # No duplicate here: one Mailsuite contact per address, one task per title and one
        # note per body under each contact.
        mails = select(func.count(func.distinct(MailContact.email))).where(
            MailContact.location_id == location
        )
        assert await count(mails) == SIZE
        everyone = select(func.count()).where(MailContact.location_id == location)
        assert await count(everyone) == SIZE
        titles = select(MailTask.contact_id, MailTask.title).where(MailTask.location_id == location)
        assert len(set((await session.execute(titles)).all())) == SIZE
        assert await count(select(func.count()).where(MailTask.location_id == location)) == SIZE
        entries = select(TimelineEntry.contact_id, TimelineEntry.body).where(
            TimelineEntry.location_id == location, TimelineEntry.kind == "note"
        )
        assert len(set((await session.execute(entries)).all())) == SIZE
        notes = select(func.count()).where(
            TimelineEntry.location_id == location, TimelineEntry.kind == "note"
        )
        assert await count(notes) == SIZE
        # Each task is under its own contact's partner: the remote task's id names its
        # contact (contactId/taskId), whose link is to the Mailsuite task's contact.
        contact_link, mail_task = SyncLink.__table__.alias(), MailTask.__table__.alias()
        placed = (
            select(func.count())
            .select_from(SyncLink)
            .join(mail_task, mail_task.c.id == SyncLink.mailsuite_id)
            .join(
                contact_link,
                (contact_link.c.sync_id == syncs["contacts"])
                & (contact_link.c.mailsuite_id == mail_task.c.contact_id),
            )
            .where(
                SyncLink.sync_id == syncs["tasks"],
                SyncLink.crm_id.startswith(contact_link.c.crm_id + "/"),
            )
        )
        assert await count(placed) == SIZE


async def test_a_worker_killed_halfway_through_a_remote_backfill_of_tasks_and_notes(
    own_settings: Settings,
    quiet_server: LiveServer,
    workers: Callable[..., WorkerProcess],
) -> None:
    db = Database(own_settings.database_url)
    # Started first: it comes up while the remote is filled.
    first = workers(**WORKER)
    try:
        tenant, remote = await make_tenant(db), await make_tenant(db)
        await _seed(db, remote.location_id)
        async with api_client(quiet_server.base_url, tenant.headers) as http:
            connection_id = await remote_connection(http, quiet_server.base_url, remote)
            syncs: dict[str, str] = {}
            for name, body in (
                ("contacts", {"connectionId": connection_id}),
                ("tasks", {"object": "tasks"}),
                ("notes", {"object": "notes"}),
            ):
                created = await http.post(SYNCS, json=body)
                assert created.status_code == 201, created.text
                sync = json_of(created)["sync"]
                assert sync["connectionId"] == connection_id
                syncs[name] = sync["id"]
        sync_ids = list(syncs.values())

        await first.started()
        half = 3 * SIZE // 2
        await poll(
            lambda: _links(db, sync_ids), lambda linked: linked >= half, within=600, every=0.2
        )
        first.kill()
        assert await _links(db, sync_ids) < 3 * SIZE

        second = workers(**WORKER)
        await second.started()
        await poll(lambda: _finished(db, sync_ids), bool, within=600, every=0.5)
        assert await second.stop() == 0, second.output()
        await _check_once(db, tenant.location_id, remote.location_id, syncs)
    finally:
        await db.dispose()
