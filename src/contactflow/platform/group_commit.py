"""Group commit: the short write transactions of concurrent tasks, committed together.

On SQLite a process writes one transaction at a time, and a transaction of a few statements
costs more in its BEGIN and COMMIT, the events' counter and the activity counts it writes
once, and the wake-ups its commit fires, than in its own statements. Tasks that would each
open one while another is open instead take turns in the open one, each in a savepoint of
its own, and it commits once no task waits for a turn (ADR 0057).

What each task sees is what it would see alone: its block's writes are rolled back alone
when the block raises, and the block returns only once they are committed (with the
others'), so a task never goes on from writes that are not stored. Only on SQLite: on
PostgreSQL transactions run side by side, and one holding its row locks while other tasks'
blocks run could wait on another process's group in a cycle.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from contactflow.platform.db import Database, UnitOfWork


class _Group:
    """One shared transaction: its unit of work, and its commit's outcome for those that
    wrote in it."""

    def __init__(self, stack: AsyncExitStack, uow: UnitOfWork) -> None:
        self.stack, self.uow = stack, uow
        self.committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Retrieved here too: a member whose own block failed never awaits the outcome.
        self.committed.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def commit(self) -> None:
        try:
            await self.stack.aclose()
        except asyncio.CancelledError:
            self.committed.cancel()
            raise
        except Exception as error:
            self.committed.set_exception(error)
        else:
            self.committed.set_result(None)


class GroupCommit:
    """Write transactions for the tasks of one loop, shared while they queue for them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._turn = asyncio.Lock()
        self._queued = 0
        self._open: _Group | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work for the block, shared with the tasks queued for one; the block's
        writes are committed when it returns."""
        if self.db.dialect != "sqlite":
            async with self.db.unit_of_work() as uow:
                yield uow
            return
        await self._take_turn()
        try:
            group = self._open or await self._begin()
            try:
                async with group.uow.savepoint():
                    yield group.uow
            finally:
                await self._commit_when_alone(group)
        finally:
            self._turn.release()
        await group.committed

    async def _take_turn(self) -> None:
        self._queued += 1
        try:
            await self._turn.acquire()
        except BaseException:
            self._queued -= 1
            if self._open is not None and not self._queued:
                # The group waited for this task, which has given up: nobody else will
                # end it.
                closing = asyncio.create_task(self._close_idle())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
            raise
        self._queued -= 1

    async def _begin(self) -> _Group:
        stack = AsyncExitStack()
        uow = await stack.enter_async_context(self.db.unit_of_work())
        self._open = _Group(stack, uow)
        return self._open

    async def _commit_when_alone(self, group: _Group) -> None:
        if not self._queued:
            self._open = None
            await group.commit()

    async def _close_idle(self) -> None:
        async with self._turn:
            if self._open is not None:
                await self._commit_when_alone(self._open)
