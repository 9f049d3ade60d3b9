"""Wake-ups by topic: a waiter sleeps until one of its topics fires or its timeout passes.

A commit fires the topics its unit of work named (platform/topics.py), so it wakes only the
loops and streams whose work it may have made; a timeout still bounds every wait, so a
missed wake-up (another process wrote, on SQLite) costs at most one poll interval.
"""

import asyncio
import contextlib
from collections.abc import Collection, Iterable, Iterator


class Waiter:
    """One loop's wake-up. It stays set once fired until the loop clears it, which the loop
    does before it looks for work: a fire during the look then ends the next wait at once."""

    def __init__(self) -> None:
        self._fired = asyncio.Event()

    def clear(self) -> None:
        self._fired.clear()

    def wake(self) -> None:
        self._fired.set()

    async def wait(self, at_most: float) -> bool:
        """True when woken (since the last clear), False when the timeout passed first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, at_most)):
                await self._fired.wait()
                return True
        return False


class Wakeups:
    """The waiters of one database in this process, by the topics they wait on."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[Waiter]] = {}

    def fire(self, topics: Iterable[str]) -> None:
        for topic in topics:
            for waiter in self._waiters.get(topic, ()):
                waiter.wake()

    def fire_all(self) -> None:
        """Wake every waiter, as when commits may have gone unheard."""
        for waiters in list(self._waiters.values()):
            for waiter in waiters:
                waiter.wake()

    @contextlib.contextmanager
    def waiter(self, topics: Collection[str]) -> Iterator[Waiter]:
        """A waiter woken by any of `topics` while the block runs."""
        waiter = Waiter()
        for topic in topics:
            self._waiters.setdefault(topic, set()).add(waiter)
        try:
            yield waiter
        finally:
            for topic in topics:
                waiting = self._waiters[topic]
                waiting.discard(waiter)
                if not waiting:
                    del self._waiters[topic]
