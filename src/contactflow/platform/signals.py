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

    def arm(self) -> asyncio.Event:
        """The event the next fire() sets. Take it before looking for work and pass it to
        `wait`: a fire() between the look and the wait then wakes the waiter at once."""
        return self._current()

    async def wait(self, at_most: float, armed: asyncio.Event | None = None) -> bool:
        """True when fired (since `armed` was taken), False when the timeout passed first."""
        event = armed if armed is not None else self._current()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most):
                await event.wait()
                return True
        return False
