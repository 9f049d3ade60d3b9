"""A broadcast wake-up: waiters sleep until something fires it or their timeout passes.

Workers and event streams wait on it instead of polling hard; a timeout still bounds every
wait, so a missed signal (another process wrote) costs at most one poll interval.
"""

import asyncio
import contextlib


class Signal:
    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def _current(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def fire(self) -> None:
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait(self, at_most: float) -> bool:
        """True when fired, False when the timeout passed first."""
        event = self._current()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most):
                await event.wait()
                return True
        return False
