"""What a connection may still send to one remote location: HighLevel's limits (a burst per
window and a daily budget, per app per location), spent as requests go out and corrected by
the `X-RateLimit-*` headers and 429s the remote answers with.

The burst is a sliding window over the times requests went out, so no window of that length
ever holds more than the limit, whatever the remote's own windows are. The day is the UTC
day, as HighLevel counts it. A budget lives in the worker process's memory: the remote's
headers (its count of every process's requests) are what bring several processes together,
since a remote that says nothing is left makes every one of them wait.
"""

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class RateLimits:
    """The limits a connection keeps to in each remote location (HighLevel's by default)."""

    burst: int = 100
    burst_seconds: float = 10.0
    daily: int = 200_000


def _number(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


class RateBudget:
    """The budget of one (connection, remote location). `clock` is wall time in seconds
    (injected by tests); `wait` says how long until a request may go, `spend` records one
    that went."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self.clock = clock
        self._sent: deque[float] = deque()
        self._day = self._today()
        self._spent_today = 0
        # Set by the remote's answers: its smaller limits, and when it lets requests go again.
        self._burst = limits.burst
        self._window = limits.burst_seconds
        self._daily_left: float | None = None
        self._paused_until = 0.0
        self.lock = asyncio.Lock()

    def _today(self) -> int:
        return int(self.clock() // DAY_SECONDS)

    def _forget_old(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self._window:
            self._sent.popleft()
        if self._today() != self._day:
            self._day, self._spent_today, self._daily_left = self._today(), 0, None

    def wait(self) -> float:
        """Seconds until the next request may go out; 0 when it may go now."""
        now = self.clock()
        self._forget_old(now)
        waits = [self._paused_until - now]
        if len(self._sent) >= self._burst:
            # The window slides past its oldest request: one more may then go.
            waits.append(self._sent[len(self._sent) - self._burst] + self._window - now)
        daily_left = self.limits.daily - self._spent_today
        if self._daily_left is not None:
            daily_left = min(daily_left, int(self._daily_left))
        if daily_left <= 0:
            waits.append((self._day + 1) * DAY_SECONDS - now)
        return max(0.0, *waits)

    def spend(self) -> None:
        """A request goes out now."""
        now = self.clock()
        self._forget_old(now)
        self._sent.append(now)
        self._spent_today += 1
        if self._daily_left is not None:
            self._daily_left -= 1

    @property
    def in_window(self) -> int:
        """Requests sent within the current burst window."""
        self._forget_old(self.clock())
        return len(self._sent)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take in the remote's count: a smaller burst or window than ours, what is left of
        its day, and a burst it says is spent (nothing more until a window has passed)."""
        burst = _number(headers, "x-ratelimit-max")
        window_ms = _number(headers, "x-ratelimit-interval-milliseconds")
        if burst is not None and burst >= 1:
            self._burst = min(self.limits.burst, int(burst))
        if window_ms is not None and window_ms > 0:
            self._window = max(self.limits.burst_seconds, window_ms / 1000)
        daily_left = _number(headers, "x-ratelimit-daily-remaining")
        if daily_left is not None:
            self._daily_left = daily_left
        if _number(headers, "x-ratelimit-remaining") == 0:
            self.pause(self._window)

    def pause(self, seconds: float) -> None:
        """Nothing goes out for `seconds` (a 429's Retry-After)."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    async def acquire(self) -> None:
        """Wait for room, then spend it; concurrent callers take their turns."""
        async with self.lock:
            # Room comes with time alone, no event: sleep until the budget says it has come.
            while (delay := self.wait()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(delay)
            self.spend()


_budgets: dict[tuple[str, str], RateBudget] = {}


def budget_for(
    connection_id: str, remote_location_id: str | None, limits: RateLimits
) -> RateBudget:
    """The process's budget of a connection in a remote location; a change of the limits
    (the settings) starts a fresh one."""
    key = (connection_id, remote_location_id or "")
    found = _budgets.get(key)
    if found is None or found.limits != limits:
        found = _budgets[key] = RateBudget(limits)
    return found
