"""SQLite connections whose write transactions run on the event loop's thread.

aiosqlite hands every call (execute, fetch, close of each cursor) to a thread of its own and
waits for the answer: about thirty hand-offs for one contact created, each costing more than
SQLite spends on the statement (the thread must be woken and the GIL passed back and forth).
Once a write transaction holds SQLite's write lock, none of its statements waits on a lock
(WAL readers never block the writer), so they run where they are awaited. Taking the lock
(BEGIN IMMEDIATE, which may wait on another process for busy_timeout) and committing (which
may checkpoint the WAL to disk) still go through the thread, as every read does.
"""

import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.engine import Connection

CHUNK_SIZE = 64  # aiosqlite's default rows per fetch when iterating a cursor


class LoopWriteConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs calls inline while `writing` is set."""

    writing = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self.writing:
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def connector(path: str) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """An `async_creator` for the async engine on the SQLite file at `path`."""

    async def connect() -> aiosqlite.Connection:
        # The sqlite3 connection is used by aiosqlite's thread and, while writing, by the
        # event loop's; never by both at once (each call is awaited before the next).
        connection = LoopWriteConnection(
            partial(sqlite3.connect, path, check_same_thread=False), CHUNK_SIZE
        )
        connection._thread.daemon = True  # as SQLAlchemy's own aiosqlite connect does
        return await connection

    return connect


def _driver(connection: Connection) -> object:
    return connection.connection.driver_connection


def start_writing(connection: Connection) -> None:
    """Called once the transaction holds the write lock."""
    driver = _driver(connection)
    if isinstance(driver, LoopWriteConnection):
        driver.writing = True


def stop_writing(connection: Connection) -> None:
    """Called as the transaction ends, before its COMMIT or ROLLBACK is sent."""
    driver = _driver(connection)
    if isinstance(driver, LoopWriteConnection):
        driver.writing = False
