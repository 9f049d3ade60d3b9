"""On PostgreSQL the pool keeps every connection it opens, up to PG_POOL_CONNECTIONS: a load
of more concurrent requests than it used to keep opens no new connection once it has them
(ADR 0054)."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from sqlalchemy import event, text

from contactflow.platform.db import Database
from contactflow.platform.engines import PG_POOL_CONNECTIONS

CONCURRENT = 15  # more than the ten connections the pool kept before


@pytest.fixture
async def db(database_url: str, postgres_only: None) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _all_at_once(db: Database, connections: int) -> None:
    async with AsyncExitStack() as held:
        for _ in range(connections):
            connection = await held.enter_async_context(db.engine.connect())
            assert await connection.scalar(text("SELECT 1")) == 1


async def test_connections_beyond_ten_are_kept_for_the_next_burst(db: Database) -> None:
    opened: list[Any] = []
    event.listen(db.engine.sync_engine, "connect", lambda connection, _record: opened.append(1))

    await _all_at_once(db, CONCURRENT)
    first = len(opened)
    await _all_at_once(db, CONCURRENT)

    assert CONCURRENT <= PG_POOL_CONNECTIONS
    assert first == CONCURRENT
    assert len(opened) == first
