"""The sync benchmark's seeding (bench/sync.py): a tenant, its contacts and, unless asked
for contacts only, each contact's 2 tasks and 2 notes, written with Core bulk inserts; and
the location's contacts sync, made through the service."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from tests.support import make_tenant

from contactflow.contacts.models import Contact, ContactTag, Note, Task
from contactflow.contacts.normalize import search_text
from contactflow.mailsuite.models import MailContact
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, Database
from contactflow.platform.ids import new_id
from contactflow.sync import service
from contactflow.sync.service import SyncSettings

SEED_BATCH = 2_000


def _contact_rows(
    location: str, start: int, stop: int, children: bool
) -> dict[type[Base], list[dict[str, Any]]]:
    """Contacts `start` to `stop`, their tags, the Mailsuite contacts already there and,
    with `children`, each contact's 2 tasks and 2 notes: rows by table."""
    now = utcnow()
    rows: dict[type[Base], list[dict[str, Any]]] = {
        table: [] for table in (Contact, ContactTag, MailContact, Task, Note)
    }
    for number in range(start, stop):
        contact_id, email = new_id(), f"person{number}@example.com"
        first, last = f"Person{number}", "Bench"
        labels = ["vip", "lead"] if number % 3 == 0 else []
        rows[Contact].append(
            {
                "id": contact_id,
                "location_id": location,
                "first_name": first,
                "last_name": last,
                "name": f"{first} {last}",
                "email": email,
                "email_lower": email,
                "phone": f"+1202{number:07d}" if number % 4 == 0 else None,
                "type": "lead",
                "dnd": False,
                "dnd_settings": {},
                "custom_fields": [],
                "search_text": search_text(first, last, email, tags=labels),
                "date_added": now,
                "date_updated": now,
            }
        )
        rows[ContactTag] += [
            {"contact_id": contact_id, "tag": tag, "position": position}
            for position, tag in enumerate(labels)
        ]
        if number % 10 == 0:
            rows[MailContact].append(
                {
                    "id": new_id(),
                    "location_id": location,
                    "email": email.upper(),
                    "email_lower": email,
                    "first_name": "Mail",
                    "custom_fields": {},
                    "status": "subscribed",
                    "source": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if children:
            rows[Task] += [_task_row(location, contact_id, number, k, now) for k in range(2)]
            rows[Note] += [_note_row(location, contact_id, number, k, now) for k in range(2)]
    return rows


def _task_row(location: str, contact_id: str, number: int, k: int, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "location_id": location,
        "contact_id": contact_id,
        "title": f"Call person {number} ({k + 1})",
        "body": f"About their order {number}-{k}",
        "due_date": now + timedelta(days=k + 1),
        "completed": (2 * number + k) % 4 == 0,
        "date_added": now,
        "date_updated": now,
    }


def _note_row(location: str, contact_id: str, number: int, k: int, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "location_id": location,
        "contact_id": contact_id,
        "body": f"Spoke with person {number}: note {k + 1}",
        "pinned": False,
        "date_added": now,
        "date_updated": now,
    }


async def seed(database_url: str, contacts: int, children: bool) -> tuple[str, str]:
    """The location and its contacts sync's id, on a database with `contacts` contacts (and,
    with `children`, their tasks and notes)."""
    db = Database(database_url)
    try:
        location = (await make_tenant(db)).location_id
        for start in range(0, contacts, SEED_BATCH):
            stop = min(start + SEED_BATCH, contacts)
            async with db.unit_of_work() as uow:
                for table, rows in _contact_rows(location, start, stop, children).items():
                    if rows:
                        await uow.session.execute(insert(table), rows)
        async with db.unit_of_work() as uow:
            sync = await service.create_sync(uow, location, SyncSettings("Bench"))
            return location, sync.id
    finally:
        await db.dispose()
