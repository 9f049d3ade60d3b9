"""The LISTEN connection of a process on PostgreSQL, through which other processes' commits
wake this one's worker loops and live streams (ADR 0013). It outlives the database: when the
connection is lost (the server stopped, restarted or crashed, or the session was ended) the
listener says so (readiness reports it), renews the engine's pool, whose idle connections died
with the same server, and connects again with a growing pause. Once listening again it wakes
every waiter, as commits made while it was away woke nobody here."""

import asyncio
import logging
from contextlib import suppress

from sqlalchemy.ext.asyncio import AsyncEngine

from contactflow.platform.signals import Wakeups

log = logging.getLogger("contactflow.notifications")
FIRST_RETRY_SECONDS = 0.2
MAX_RETRY_SECONDS = 2.0
# How often a quiet connection is looked at, in case its loss was not signalled.
CHECK_SECONDS = 1.0


class Listener:
    def __init__(self, engine: AsyncEngine, channel: str, wakeups: Wakeups) -> None:
        self.engine = engine
        self.channel = channel
        self.wakeups = wakeups
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

    def _on_notify(self, _connection: object, _pid: int, _channel: str, topic: str) -> None:
        self.wakeups.fire((topic,))
