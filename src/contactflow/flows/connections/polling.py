"""Polling a remote Contacts API where webhooks are not available: every `poll` seconds, a
connection's contacts changed since its cursor (a search sorted by dateUpdated, paged with
searchAfter) become ContactCreate (first sight) or ContactUpdate events in the location's
log, with the connection as their origin. Caught up, each poll reads the last seconds again,
for writes that commit late; a receipt per (contact, dateUpdated) makes each version count
once, however the pages overlap."""

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from contactflow.flows.connections.highlevel_hooks import first_receipt
from contactflow.flows.connections.models import Connection, remote_origin
from contactflow.flows.connections.outbound import Authorizer, request
from contactflow.platform import event_types as types
from contactflow.platform import issues, topics
from contactflow.platform.clock import to_epoch_ms, utcnow
from contactflow.platform.db import Database, UnitOfWork
from contactflow.platform.errors import DomainError
from contactflow.platform.events import append

PAGE = 100
# Pages per connection per round: a large backlog is read over several rounds.
PAGES_PER_ROUND = 10
DUE_PER_ROUND = 20
OVERLAP_MS = 10_000


async def _claim(db: Database, connection_id: str) -> tuple[str, list[Any] | None] | None:
    """Take the connection's turn: its next poll moves one interval on. Its location and
    cursor, or None when another worker took the turn."""
    async with db.unit_of_work() as uow:
        await uow.lock(f"connection-poll:{connection_id}")
        row = await uow.session.get(Connection, connection_id)
        now = utcnow()
        if row is None or row.poll_seconds is None or row.next_poll_at is None:
            return None
        await uow.session.refresh(row)
        if row.next_poll_at is None or row.next_poll_at > now or row.poll_seconds is None:
            return None
        row.next_poll_at = now + timedelta(seconds=row.poll_seconds)
        return row.location_id, row.poll_cursor


async def _page(
    db: Database,
    http: httpx.AsyncClient,
    location_id: str,
    connection_id: str,
    cursor: list[Any] | None,
) -> list[dict[str, Any]] | str:
    """One page of contacts after the cursor, or why it could not be read."""
    body: dict[str, Any] = {"pageLimit": PAGE, "sort": [{"field": "dateUpdated"}]}
    if cursor:
        body["searchAfter"] = cursor
    async with db.reader() as session:
        row = await session.get(Connection, connection_id)
        if row is not None and row.remote_location_id:
            body["locationId"] = row.remote_location_id
    authorize = Authorizer(db, location_id, connection_id, issues.POLL, connection_id)
    try:
        response = await request(http, authorize, "POST", "/contacts/search", json=body)
    except (httpx.HTTPError, DomainError) as error:
        return f"polling failed: {error}"
    if response.status_code != 200:
        return f"polling failed: {response.status_code} {response.text[:300]}"
    contacts: list[dict[str, Any]] = response.json().get("contacts", [])
    return contacts


async def _record(db: Database, connection_id: str, contacts: list[dict[str, Any]] | str) -> bool:
    """Append the page's new versions and move the cursor; True when a full page came."""
    async with db.unit_of_work() as uow:
        row = await uow.session.get(Connection, connection_id)
        if row is None:
            return False
        if isinstance(contacts, str):
            row.last_error = contacts
            return False
        uow.origin = remote_origin(row.id)
        for contact in contacts:
            version = f"contact:{contact.get('id')}:{contact.get('dateUpdated')}"
            if not await first_receipt(uow, row.id, version):
                continue
            new = await first_receipt(uow, row.id, f"seen:{contact.get('id')}")
            event_type = types.CONTACT_CREATE if new else types.CONTACT_UPDATE
            snapshot = {key: value for key, value in contact.items() if key != "searchAfter"}
            snapshot["contactType"] = snapshot.pop("type", None)
            await append(
                uow,
                row.location_id,
                event_type,
                {"type": event_type, **snapshot},
                subject_id=str(contact.get("id"))[:64],
            )
        full = len(contacts) == PAGE
        if contacts and contacts[-1].get("searchAfter"):
            last = list(contacts[-1]["searchAfter"])
            row.poll_cursor = last if full else _overlapped(last)
        row.last_error = None
        return full


def _overlapped(cursor: list[Any]) -> list[Any]:
    """Where the next poll starts once caught up: `OVERLAP_MS` before the last version read,
    any id. A remote write stamped earlier than that version can commit after this poll read
    past it (a slow transaction); the receipts keep each version read again once."""
    moment = cursor[0] if cursor else None
    if isinstance(moment, bool) or not isinstance(moment, int):
        return cursor
    return [moment - OVERLAP_MS, ""]


async def poll_connection(db: Database, http: httpx.AsyncClient, connection_id: str) -> None:
    claimed = await _claim(db, connection_id)
    if claimed is None:
        return
    location_id, cursor = claimed
    for _ in range(PAGES_PER_ROUND):
        page = await _page(db, http, location_id, connection_id, cursor)
        if not await _record(db, connection_id, page):
            return
        async with db.reader() as session:
            row = await session.get(Connection, connection_id)
            cursor = row.poll_cursor if row is not None else None


def poll_from_now(uow: UnitOfWork, row: Connection, seconds: int) -> None:
    """Poll the connection every `seconds` for the contacts changed from now on, unless it
    polls already (a sync's safety net under webhooks; its backfill reads what is there)."""
    if row.poll_seconds is not None:
        return
    now = utcnow()
    row.poll_seconds, row.next_poll_at = seconds, now
    row.poll_cursor = _overlapped([to_epoch_ms(now)])
    uow.wake(topics.CONNECTION_POLLS)


async def next_due(db: Database, after: datetime) -> datetime | None:
    """When the next poll of a connection falls due after `after`."""
    query = select(func.min(Connection.next_poll_at)).where(Connection.next_poll_at > after)
    return await db.read(lambda connection: connection.scalar(query))


async def poll_due(db: Database, http: httpx.AsyncClient) -> bool:
    """One round over the connections whose poll is due; True when any was."""
    query = (
        select(Connection.id)
        .where(Connection.poll_seconds.is_not(None), Connection.next_poll_at <= utcnow())
        .order_by(Connection.next_poll_at)
        .limit(DUE_PER_ROUND)
    )
    due = await db.read(lambda connection: list(connection.scalars(query)))
    for connection_id in due:
        await poll_connection(db, http, connection_id)
    return bool(due)
