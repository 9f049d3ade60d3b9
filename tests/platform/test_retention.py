"""Retention by policy: each kind of row goes only once past its policy, and an event goes
only once every consumer of its location has read it and no delivery refers to it; removed
events are archived as JSON lines, a file per day."""

import json
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from contactflow.background import retention_rules
from contactflow.flows.connections.models import Connection, ConnectionReceipt
from contactflow.platform.auth.sessions import WebSession
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.events import ConsumerCursor, Event, EventStream
from contactflow.platform.idempotency import IdempotencyRecord
from contactflow.platform.retention import Removed, purge
from contactflow.platform.webhooks.models import (
    PENDING,
    SUCCEEDED,
    WebhookAttempt,
    WebhookDelivery,
)
from contactflow.settings import Settings
from tests.support import Tenant, invoke_cli, make_tenant
from tests.webhooks.helpers import add_endpoint_row

NOW = utcnow()
DAY = timedelta(days=1)


async def _log(db: Database, location: str, ages: list[timedelta]) -> list[str]:
    """Events created `ages` before NOW, seq 1, 2, ...; their ids."""
    async with db.unit_of_work() as uow:
        events = [
            Event(
                location_id=location,
                seq=seq,
                type="ContactCreate",
                subject_id=f"c{seq}",
                payload={"n": seq},
                created_at=NOW - age,
            )
            for seq, age in enumerate(ages, start=1)
        ]
        uow.session.add_all(events)
        uow.session.add(EventStream(location_id=location, last_seq=len(ages)))
        await uow.session.flush()
        return [event.id for event in events]


async def _cursors(db: Database, location: str, **positions: int) -> None:
    async with db.unit_of_work() as uow:
        for consumer, position in positions.items():
            name = consumer.replace("_", "-")
            found = await uow.session.get(ConsumerCursor, (name, location))
            if found is None:
                uow.session.add(
                    ConsumerCursor(consumer=name, location_id=location, position=position)
                )
            else:
                found.position = position


async def _left(db: Database, location: str) -> list[int]:
    async with db.reader() as session:
        return list(
            await session.scalars(
                select(Event.seq).where(Event.location_id == location).order_by(Event.seq)
            )
        )


async def _count(db: Database, model: type) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _others(db: Database, tenant: Tenant, endpoint: str, held: str, freed: str) -> None:
    """One row each side of each policy: idempotency keys, sessions, receipts, deliveries."""
    async with db.unit_of_work() as uow:
        for age in (25, 23):
            uow.session.add(
                IdempotencyRecord(
                    scope_hash=f"s{age}",
                    key="k",
                    request_hash="r",
                    created_at=NOW - timedelta(hours=age),
                )
            )
        user = tenant.user_ids[0]
        for idle in (13, 1):
            at = NOW - timedelta(hours=idle)
            uow.session.add(
                WebSession(token_hash=f"t{idle}", user_id=user, created_at=at, last_used_at=at)
            )
        connection = Connection(
            location_id=tenant.location_id, name="remote", kind="http", auth="none"
        )
        uow.session.add(connection)
        await uow.session.flush()
        for days in (31, 29):
            uow.session.add(
                ConnectionReceipt(
                    connection_id=connection.id, key=f"r{days}", created_at=NOW - days * DAY
                )
            )
        for event_id, state, days in ((held, PENDING, 40), (freed, SUCCEEDED, 31)):
            delivery = WebhookDelivery(
                endpoint_id=endpoint,
                event_id=event_id,
                location_id=tenant.location_id,
                event_type="ContactCreate",
                ordering_key=event_id,
                seq=0,
                state=state,
                next_attempt_at=NOW - days * DAY,
            )
            uow.session.add(delivery)
            await uow.session.flush()
            uow.session.add(WebhookAttempt(delivery_id=delivery.id, attempted_at=NOW - days * DAY))


async def test_each_kind_goes_only_past_its_policy(
    isolated_url: str, isolated_db: Database, tmp_path: Path
) -> None:
    tenant = await make_tenant(isolated_db)
    location = tenant.location_id
    endpoint = await add_endpoint_row(isolated_db, location, "http://127.0.0.1:9/hook")
    # Seqs 1-5 are 40 days old, 6 a day old. A flow's cursor lags at 2.
    ids = await _log(isolated_db, location, [40 * DAY] * 5 + [DAY])
    await _cursors(isolated_db, location, webhooks=6, mailsuite_campaigns=6, **{"flow:v1": 2})
    # seq 4 has a pending delivery; seq 1's delivery succeeded 31 days ago.
    await _others(isolated_db, tenant, endpoint.id, held=ids[3], freed=ids[0])
    # A location that a consumer of every location has not read yet keeps its log.
    unread = await make_tenant(isolated_db)
    await _log(isolated_db, unread.location_id, [40 * DAY] * 3)
    await _cursors(isolated_db, unread.location_id, webhooks=3)
    archive = tmp_path / "archive"
    rules = retention_rules(Settings(event_archive_dir=archive))

    planned = await purge(isolated_db, rules, NOW, dry_run=True)
    assert await _left(isolated_db, location) == [1, 2, 3, 4, 5, 6]
    removed = await purge(isolated_db, rules, NOW)
    expected = {
        "idempotency keys": 1,
        "dashboard sessions": 1,
        "webhook deliveries": 1,
        "flow runs": 0,
        "flow seen keys": 0,
        "connection receipts": 1,
        "events": 2,
    }
    assert removed == [Removed(kind, count) for kind, count in expected.items()]
    assert planned[:-1] == removed[:-1]
    # Counted before the delivery of seq 1 was deleted: only what is free already.
    assert planned[-1] == Removed("events", 0)
    assert await _left(isolated_db, location) == [3, 4, 5, 6]
    assert await _left(isolated_db, unread.location_id) == [1, 2, 3]
    assert await _count(isolated_db, IdempotencyRecord) == 1
    assert await _count(isolated_db, WebSession) == 1
    assert await _count(isolated_db, ConnectionReceipt) == 1
    assert await _count(isolated_db, WebhookAttempt) == 1

    # The flow catches up: the cut stops at seq 4, which a pending delivery still sends.
    await _cursors(isolated_db, location, **{"flow:v1": 6})
    assert (await purge(isolated_db, rules, NOW, dry_run=True))[-1] == Removed("events", 1)
    assert (await purge(isolated_db, rules, NOW))[-1] == Removed("events", 1)
    assert await _left(isolated_db, location) == [4, 5, 6]
    # Delivered (31 days ago): the delivery goes, then its event and the next; seq 6 is young.
    async with isolated_db.unit_of_work() as uow:
        await uow.session.execute(
            update(WebhookDelivery).values(state=SUCCEEDED, next_attempt_at=NOW - 31 * DAY)
        )
    assert (await purge(isolated_db, rules, NOW, dry_run=True))[-1] == Removed("events", 0)
    assert (await purge(isolated_db, rules, NOW))[-1] == Removed("events", 2)
    assert await _left(isolated_db, location) == [6]

    lines = [
        json.loads(line)
        for path in sorted(archive.iterdir())
        for line in path.read_text().splitlines()
    ]
    assert [line["id"] for line in lines] == ids[:5]
    assert [path.name for path in archive.iterdir()] == [
        f"events-{(NOW - 40 * DAY):%Y-%m-%d}.jsonl"
    ]
    assert lines[0]["payload"] == {"n": 1}
    assert lines[0]["locationId"] == location

    # The command says what it would remove, and who keeps the other location's old events.
    shown = await invoke_cli(isolated_url, "purge", "--dry-run")
    assert shown.exit_code == 0, shown.output
    rows = [re.split(r"\s*\u2502\s*", line.strip("\u2502 ")) for line in shown.stdout.splitlines()]
    assert ["events", "0"] in rows, shown.stdout
    assert [unread.location_id, "(not started there)", "0", "3"] in rows, shown.stdout
