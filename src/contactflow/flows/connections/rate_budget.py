"""What a connection may still send to one remote location: HighLevel's limits (a burst per
window and a daily budget, per app per location), spent as requests go out and corrected by
the `X-RateLimit-*` headers and 429s the remote answers with.

The burst is a sliding window over the times requests went out, so no window of that length
ever holds more than the limit, whatever the remote's own windows are. The day is the UTC
day, as HighLevel counts it. A budget lives in the worker process's memory, or, when a Redis
is configured, in Redis, where every process of the installation spends from one budget (a
sliding window of a sorted set, a counter per day and a pause, all checked and spent in one
script). The remote's headers (its count of every client's requests) correct either.
"""

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contactflow.settings import Settings

log = logging.getLogger("contactflow")
DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class RateLimits:
    """The limits a connection keeps to in each remote location (HighLevel's by default)."""

    burst: int = 100
    burst_seconds: float = 10.0
    daily: int = 200_000
    # Where the budgets are kept: this process's memory, or this Redis, shared by every
    # process that names it (keys under `key_prefix`).
    redis_url: str | None = None
    key_prefix: str = "contactflow"


def remote_limits(settings: Settings) -> RateLimits:
    """The limits the settings give every connection in each remote location."""
    return RateLimits(
        burst=settings.remote_rate_burst,
        burst_seconds=settings.remote_rate_burst_seconds,
        daily=settings.remote_rate_daily,
        redis_url=settings.redis_url,
        key_prefix=settings.rate_limit_key_prefix,
    )


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
        waits = [self._held(now)]
        if len(self._sent) >= self._burst:
            # The window slides past its oldest request: one more may then go.
            waits.append(self._sent[len(self._sent) - self._burst] + self._window - now)
        return max(0.0, *waits)

    def _held(self, now: float) -> float:
        """Seconds a pause or a spent day holds requests back at `now`; 0 when neither does."""
        waits = [self._paused_until - now]
        daily_left = self.limits.daily - self._spent_today
        if self._daily_left is not None:
            daily_left = min(daily_left, int(self._daily_left))
        if daily_left <= 0:
            waits.append(self._day_end() - now)
        return max(0.0, *waits)

    def _day_end(self) -> float:
        return (self._day + 1) * DAY_SECONDS

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


# Checks the shared budget and, when there is room, spends it, atomically: the milliseconds
# to wait, or 0 when the request may go now. KEYS: the window's sorted set of send times, the
# day's counter, the pause. ARGV: now, window, burst, daily limit, the day's end (all ms), a
# pause this process learnt of (ms, or 0), and a member unique to this request.
_RESERVE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
local pause = tonumber(ARGV[6])
if pause > paused then
  redis.call('SET', KEYS[3], pause, 'PX', pause - now + 1000)
  paused = pause
end
if paused > now then return paused - now end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local burst = tonumber(ARGV[3])
if count >= burst then
  local oldest = redis.call('ZRANGE', KEYS[1], count - burst, count - burst, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
local day_end = tonumber(ARGV[5])
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[4]) then
  return math.max(1, day_end - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[7])
redis.call('PEXPIRE', KEYS[1], window)
redis.call('INCR', KEYS[2])
redis.call('PEXPIREAT', KEYS[2], day_end + 3600000)
return 0
"""


class SharedRateBudget(RateBudget):
    """A budget every process naming the same Redis spends from. The remote's headers and
    429s still correct it in this process; a pause is also handed on to the others. When
    Redis cannot be reached, this process counts alone until it can again."""

    def __init__(
        self, limits: RateLimits, key: str, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(limits, clock)
        assert limits.redis_url is not None
        self._keys = [
            f"{limits.key_prefix}:remote-budget:{key}:{name}" for name in ("sent", "day", "pause")
        ]
        self._redis: Redis | None = None
        self._redis_loop: asyncio.AbstractEventLoop | None = None
        self._unreachable = False
        self._sharing: asyncio.Future[None] | None = None

    def _client(self) -> Redis:
        # A client's connections belong to the event loop that opened them.
        loop = asyncio.get_running_loop()
        if self._redis is None or self._redis_loop is not loop:
            assert self.limits.redis_url is not None
            self._redis = Redis.from_url(self.limits.redis_url, socket_timeout=1.0)
            self._redis_loop = loop
        return self._redis

    def pause(self, seconds: float) -> None:
        super().pause(seconds)
        # Handed on at once, so that the other processes hold too (kept until it is done).
        self._sharing = asyncio.ensure_future(self._share_pause())

    async def _share_pause(self) -> None:
        now = self.clock()
        if self._paused_until <= now:
            return  # over already: an evaluation now would spend
        try:
            await self._eval(now)
        except RedisError as error:
            log.warning("remote rate budget: a pause not shared: %s", error)

    async def _eval(self, now: float) -> float:
        waited = await self._client().eval(
            _RESERVE,
            3,
            *self._keys,
            round(now * 1000),
            round(self._window * 1000),
            self._burst,
            self.limits.daily,
            round(self._day_end() * 1000),
            round(self._paused_until * 1000),
            secrets.token_hex(8),
        )
        return float(waited) / 1000

    async def _reserve(self) -> float:
        """Seconds to wait, or 0 when the shared budget was spent for a request going now."""
        now = self.clock()
        self._forget_old(now)
        # This process's own count of the day is part of the shared one: it holds no sooner.
        if (held := self._held(now)) > 0:
            return held
        return await self._eval(now)

    async def acquire(self) -> None:
        async with self.lock:
            while True:
                try:
                    delay = await self._reserve()
                    self._unreachable = False
                except RedisError as error:
                    if not self._unreachable:
                        log.warning(
                            "remote rate budget: Redis unreachable, counting alone: %s", error
                        )
                    self._unreachable = True
                    delay = self.wait()
                if delay <= 0:
                    self.spend()
                    return
                await asyncio.sleep(delay)


_budgets: dict[tuple[str, str], RateBudget] = {}


def budget_for(
    connection_id: str, remote_location_id: str | None, limits: RateLimits
) -> RateBudget:
    """The budget of a connection in a remote location (this process's, or the one shared
    through Redis); a change of the limits (the settings) starts a fresh one."""
    key = (connection_id, remote_location_id or "")
    found = _budgets.get(key)
    if found is None or found.limits != limits:
        found = _budgets[key] = (
            SharedRateBudget(limits, ":".join(key)) if limits.redis_url else RateBudget(limits)
        )
    return found
