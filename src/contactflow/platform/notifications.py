"""The LISTEN connection of a process on PostgreSQL, through which other processes' commits
wake this one's worker loops and live streams (ADR 0013); the notifications of its own
commits, whose topics fired here as they committed, are passed over (ADR 0058).

It outlives the database: when the connection is lost (the server stopped, restarted or
crashed, or the session was ended) the listener says so (readiness reports it), renews the
engine's pool, whose idle connections died with the same server, and connects again with a
growing pause. Once listening again it wakes every waiter, as commits made while it was away
woke nobody here."""

import asyncio
import logging
from contextlib import suppress
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from contactflow.platform.signals import Wakeups

log = logging.getLogger("contactflow.notifications")
FIRST_RETRY_SECONDS = 0.2
MAX_RETRY_SECONDS = 2.0
# How often a quiet connection is looked at, in case its loss was not signalled.
CHECK_SECONDS = 1.0


class OwnBackends:
    """The server processes of an engine's connections: a commit of this process has fired
    its topics here as it committed, and its notification, which comes back through the
    listener too, would wake every loop a second time for nothing."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._pids: set[int] = set()
        pool = engine.sync_engine
        event.listen(pool, "connect", self._opened)
        event.listen(pool, "close", self._closed)
        event.listen(pool, "close_detached", self._closed)

    def __contains__(self, pid: int) -> bool:
        return pid in self._pids

    def _opened(self, connection: Any, _record: object = None) -> None:
        self._pids.add(connection.driver_connection.get_server_pid())

    def _closed(self, connection: Any, _record: object = None) -> None:
        self._pids.discard(connection.driver_connection.get_server_pid())


class Listener:
    def __init__(
        self, engine: AsyncEngine, channel: str, wakeups: Wakeups, own: OwnBackends
    ) -> None:
        self.engine = engine
        self.channel = channel
        self.wakeups = wakeups
        self.own = own
        # True while the connection is up and listening.
        self.listening = False
        # Set once the first connection listens.
        self.up = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled. The first connection's failure is raised (a process that
        cannot reach its database at start should not start); later ones are retried."""
        retry = FIRST_RETRY_SECONDS
        while True:
            try:
                await self._listen_until_lost()
                retry = FIRST_RETRY_SECONDS
            except Exception as error:
                if not self.up.is_set():
                    raise
                log.warning(
                    "database notifications: cannot listen (%s); trying again in %g s",
                    type(error).__name__,
                    retry,
                )
                await asyncio.sleep(retry)
                retry = min(retry * 2, MAX_RETRY_SECONDS)

    async def _listen_until_lost(self) -> None:
        async with self.engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            assert raw is not None
            lost = asyncio.Event()
            raw.add_termination_listener(lambda _connection: lost.set())
            try:
                await raw.add_listener(self.channel, self._on_notify)
                self.listening = True
                if self.up.is_set():
                    log.warning("database notifications: listening again")
                    self.wakeups.fire_all()
                self.up.set()
                while not lost.is_set() and not raw.is_closed():
                    with suppress(TimeoutError):
                        async with asyncio.timeout(CHECK_SECONDS):
                            await lost.wait()
            finally:
                self.listening = False
                # Never back to the pool with a listener on it.
                await connection.invalidate()
        log.warning("database notifications: connection lost; reconnecting")
        await self.engine.dispose()

    def _on_notify(self, _connection: object, pid: int, _channel: str, topic: str) -> None:
        if pid not in self.own:
            self.wakeups.fire((topic,))
