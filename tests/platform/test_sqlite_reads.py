"""On a SQLite file, `Database.read` runs on the event loop's thread (ADR 0053), and so does
`Database.scan` until SQLite has walked for longer than its budget: then it is run again on a
read thread, leaving the loop to serve while SQLite walks the rows (ADR 0056)."""

import asyncio
import threading

import pytest
from sqlalchemy import Connection, text

from contactflow.platform.db import Database

SCAN_SECONDS = 30.0
# Counting to this takes SQLite far longer than a scan's budget on the loop (about 0.2 s).
LONG_WALK = text(
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000000)"
    " SELECT count(*) FROM n"
)


@pytest.fixture
async def db(sqlite_notes: Database) -> Database:
    async with sqlite_notes.unit_of_work() as uow:
        await uow.session.execute(text("INSERT INTO notes VALUES ('first')"))
    return sqlite_notes


def _bodies(connection: Connection) -> tuple[list[str], int]:
    bodies = list(connection.scalars(text("SELECT body FROM notes ORDER BY rowid")))
    return bodies, threading.get_ident()


async def test_a_read_runs_on_the_event_loops_thread(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.session.execute(text("INSERT INTO notes VALUES ('second')"))

    bodies, thread = await db.read(_bodies)

    assert bodies == ["first", "second"]
    assert thread == threading.get_ident()


async def test_a_short_scan_runs_on_the_event_loops_thread(db: Database) -> None:
    bodies, thread = await db.scan(_bodies)

    assert bodies == ["first"]
    assert thread == threading.get_ident()


async def test_a_long_scan_goes_to_a_read_thread_while_the_loop_serves(db: Database) -> None:
    started, loop_served = threading.Event(), threading.Event()
    attempts: list[int] = []

    def waiting_scan(connection: Connection) -> tuple[list[str], int, bool]:
        attempts.append(threading.get_ident())
        assert connection.scalar(LONG_WALK) == 2_000_000
        bodies, thread = _bodies(connection)
        started.set()
        # The loop sets the event from a coroutine: it can only while this scan does not
        # hold it.
        return bodies, thread, loop_served.wait(SCAN_SECONDS)

    scanning = asyncio.create_task(db.scan(waiting_scan))
    assert await asyncio.to_thread(started.wait, SCAN_SECONDS)
    read_meanwhile, _ = await db.read(_bodies)
    loop_served.set()
    bodies, thread, served = await scanning

    assert served
    assert read_meanwhile == bodies == ["first"]
    assert thread != threading.get_ident()
    # Stopped on the loop's thread once over its budget, then run whole on a read thread.
    assert attempts == [threading.get_ident(), thread]
