"""Group commit (ADR 0057): on SQLite, the write transactions that tasks ask for while one is
open share it, each task's block in a savepoint of its own, committed once; a block that
raises loses only its own writes, and a block returns once its writes are committed. On
PostgreSQL each block has a transaction of its own."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text

from contactflow.platform.db import Database
from contactflow.platform.group_commit import GroupCommit

DEADLINE = 30.0


class Refused(Exception):
    pass


class Holder:
    """A task that writes `first` in a group and holds it open until released."""

    def __init__(self, commits: GroupCommit) -> None:
        self.commits = commits
        self.inside, self.release = asyncio.Event(), asyncio.Event()
        self.task = asyncio.create_task(self._write())

    async def _write(self) -> list[str]:
        async with self.commits.transaction() as uow:
            await uow.session.execute(text("INSERT INTO notes VALUES ('first')"))
            self.inside.set()
            await self.release.wait()
        return await _bodies(self.commits.db)

    async def entered(self) -> None:
        async with asyncio.timeout(DEADLINE):
            await self.inside.wait()


@pytest.fixture
def db(sqlite_notes: Database) -> Database:
    return sqlite_notes


@pytest.fixture
def commits_made(db: Database) -> list[int]:
    made: list[int] = []
    event.listen(db.engine.sync_engine, "commit", lambda _connection: made.append(1))
    return made


async def _bodies(db: Database) -> list[str]:
    async with db.reader() as session:
        return list((await session.scalars(text("SELECT body FROM notes ORDER BY body"))).all())


async def _write(commits: GroupCommit, body: str, *, refuse: bool = False) -> list[str]:
    """`body` written in a transaction of `commits`; what a reader sees once it returns."""
    async with commits.transaction() as uow:
        await uow.session.execute(text("INSERT INTO notes VALUES (:body)"), {"body": body})
        if refuse:
            raise Refused(body)
    return await _bodies(commits.db)


async def _queued_behind(holder: Holder, *writes: Any) -> list[asyncio.Task[list[str]]]:
    await holder.entered()
    tasks = [asyncio.create_task(write) for write in writes]
    # Each new task runs up to its wait for a turn, which the holder has.
    await asyncio.sleep(0)
    return tasks


async def test_transactions_asked_for_while_one_is_open_commit_with_it(
    db: Database, commits_made: list[int]
) -> None:
    commits = GroupCommit(db)
    holder = Holder(commits)
    queued = await _queued_behind(holder, _write(commits, "second"), _write(commits, "third"))

    holder.release.set()
    async with asyncio.timeout(DEADLINE):
        seen = await asyncio.gather(holder.task, *queued)

    assert commits_made == [1]
    # Each block returned with its writes committed, the others' with them.
    assert seen == [["first", "second", "third"]] * 3


async def test_a_block_that_raises_loses_only_its_own_writes(
    db: Database, commits_made: list[int]
) -> None:
    commits = GroupCommit(db)
    holder = Holder(commits)
    refused, kept = await _queued_behind(
        holder, _write(commits, "refused", refuse=True), _write(commits, "kept")
    )

    holder.release.set()
    async with asyncio.timeout(DEADLINE):
        await asyncio.gather(holder.task, kept)
        with pytest.raises(Refused):
            await refused

    assert await _bodies(db) == ["first", "kept"]
    assert commits_made == [1]


async def test_a_task_that_gives_up_its_turn_leaves_no_transaction_open(db: Database) -> None:
    commits = GroupCommit(db)
    holder = Holder(commits)
    (gone,) = await _queued_behind(holder, _write(commits, "gone"))

    gone.cancel()
    holder.release.set()
    async with asyncio.timeout(DEADLINE):
        assert await holder.task == ["first"]
        with pytest.raises(asyncio.CancelledError):
            await gone
        # The process's write lock is free again.
        async with db.unit_of_work() as uow:
            await uow.session.execute(text("INSERT INTO notes VALUES ('after')"))

    assert await _bodies(db) == ["after", "first"]


async def test_a_commit_that_fails_fails_every_block_of_its_group(db: Database) -> None:
    commits = GroupCommit(db)
    holder = Holder(commits)

    async def failing_commit() -> list[str]:
        async with commits.transaction() as uow:
            await uow.session.execute(text("INSERT INTO notes VALUES ('second')"))

            async def refuse() -> None:
                raise Refused("at commit")

            uow.before_commit(refuse)
        return await _bodies(db)

    (failing,) = await _queued_behind(holder, failing_commit())

    holder.release.set()
    async with asyncio.timeout(DEADLINE):
        outcomes = await asyncio.gather(holder.task, failing, return_exceptions=True)

    assert [type(outcome) for outcome in outcomes] == [Refused, Refused]
    assert await _bodies(db) == []


@pytest.fixture
async def postgres_db(database_url: str, postgres_only: None) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def test_on_postgresql_each_block_has_a_transaction_of_its_own(
    postgres_db: Database,
) -> None:
    commits = GroupCommit(postgres_db)
    made: list[int] = []
    event.listen(postgres_db.engine.sync_engine, "commit", lambda _connection: made.append(1))
    both_inside = asyncio.Barrier(2)

    async def meet() -> None:
        async with commits.transaction() as uow:
            assert await uow.session.scalar(text("SELECT 1")) == 1
            # Both blocks are open at once: neither waits for the other's turn.
            await both_inside.wait()

    async with asyncio.timeout(DEADLINE):
        await asyncio.gather(meet(), meet())

    assert made == [1, 1]
