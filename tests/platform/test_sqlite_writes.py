"""SQLite write transactions run their statements on the event loop's thread once they hold
the write lock; taking the lock and committing still go through aiosqlite's thread."""

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from contactflow.platform.db import Database
from contactflow.platform.sqlite_writes import LoopWriteConnection
from tests.platform.conftest import NOTES_FILE


class _NoThread:
    """Stands in for aiosqlite's queue to its thread: any hand-off fails the test."""

    def put_nowait(self, _item: object) -> None:
        raise AssertionError("a statement of the write transaction went to aiosqlite's thread")


@pytest.fixture
def db(sqlite_notes: Database) -> Database:
    return sqlite_notes


async def _driver(db_session: object) -> LoopWriteConnection:
    connection = await db_session.connection()  # type: ignore[attr-defined]
    driver = (await connection.get_raw_connection()).driver_connection
    assert isinstance(driver, LoopWriteConnection)
    return driver


async def _bodies(db: Database) -> list[str]:
    async with db.reader() as session:
        return list((await session.scalars(text("SELECT body FROM notes ORDER BY body"))).all())


async def test_a_write_transaction_runs_its_statements_without_the_thread(db: Database) -> None:
    async with db.unit_of_work() as uow:
        driver = await _driver(uow.session)
        assert driver.writing
        queue, driver._tx = driver._tx, _NoThread()  # type: ignore[assignment]
        try:
            await uow.session.execute(text("INSERT INTO notes VALUES ('first')"))
            count = await uow.session.scalar(text("SELECT count(*) FROM notes"))
            assert count == 1
        finally:
            driver._tx = queue
    assert not driver.writing
    assert await _bodies(db) == ["first"]


async def test_a_rolled_back_transaction_hands_its_connection_back_to_the_thread(
    db: Database,
) -> None:
    drivers: list[LoopWriteConnection] = []

    async def refused() -> None:
        async with db.unit_of_work() as uow:
            drivers.append(await _driver(uow.session))
            await uow.session.execute(text("INSERT INTO notes VALUES ('dropped')"))
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        await refused()
    assert drivers
    assert not drivers[0].writing
    assert await _bodies(db) == []
    async with db.reader() as session:
        assert not (await _driver(session)).writing


async def test_waiting_for_another_writer_leaves_the_event_loop_free(
    db: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / NOTES_FILE, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes VALUES ('other')")

    async def write() -> None:
        async with db.unit_of_work() as uow:
            await uow.session.execute(text("INSERT INTO notes VALUES ('ours')"))

    writing = asyncio.create_task(write())
    try:
        # The loop keeps turning while our transaction waits for the lock the other holds.
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert not writing.done()
    finally:
        other.execute("COMMIT")
        other.close()
    await asyncio.wait_for(writing, timeout=30)
    assert await _bodies(db) == ["other", "ours"]
