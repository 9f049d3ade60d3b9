"""Rate limits per app per location: a burst window and a daily budget, counted with `limits`.

Every authenticated request counts against the pair (app, location): an API key is its own
app, an OAuth client's tokens share their client's budget in each location. Counters live in
the process's memory, or in Redis when one is configured so that every API process shares
one budget.

Fixed windows: a window opens with its first request and its counter expires with it, so a
request costs one increment per window (one Redis round trip each), and the counts for the
headers are what the increments return. `limits`' FixedWindowRateLimiter answers only yes or
no and would need two more round trips per window for the counts, so the storage is driven
here with the library's own limit items and keys. The price of fixed windows: a client may
spend one window's burst at its end and the next window's right after.

The auth pipeline counts the request (`count_request`) and leaves its `Quota` in the request
state; `RateLimitHeaders` writes it on whatever response the request ends with, errors
included. When Redis cannot be reached the request goes through uncounted (and is logged): an
outage of the counters should not become an outage of the API.
"""

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI
from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactflow.platform.auth.principal import Principal
from contactflow.platform.errors import TooManyRequests
from contactflow.settings import Settings

log = logging.getLogger("contactflow")

# The request state attribute the pipeline fills and the middleware reads.
STATE_KEY = "rate_limit"
# A slow Redis delays every request: past this the request goes on uncounted.
REDIS_TIMEOUT_SECONDS = 0.5

# The headers, in the order Quota.headers writes them, and what OpenAPI says of each.
HEADER_DESCRIPTIONS = {
    "X-RateLimit-Limit-Daily": "Requests this app may send to this location per day",
    "X-RateLimit-Daily-Remaining": "Requests left in the current day's budget",
    "X-RateLimit-Interval-Milliseconds": "Length of the burst window",
    "X-RateLimit-Max": "Requests this app may send to this location per burst window",
    "X-RateLimit-Remaining": "Requests left in the current burst window",
}
HEADER_NAMES = tuple(HEADER_DESCRIPTIONS)
RETRY_AFTER_DESCRIPTION = "Seconds until the exhausted limit resets (on 429 only)"


@dataclass(frozen=True, slots=True)
class Quota:
    """One request's standing against its app's limits, once it has been counted."""

    burst_limit: int
    burst_remaining: int
    burst_window_ms: int
    daily_limit: int
    daily_remaining: int
    # Set when this request was refused: which limit, and whole seconds until it resets.
    exceeded: Literal["burst", "daily"] | None = None
    retry_after: int | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        values = (
            self.daily_limit,
            self.daily_remaining,
            self.burst_window_ms,
            self.burst_limit,
            self.burst_remaining,
        )
        pairs = [
            (name.lower().encode(), str(value).encode())
            for name, value in zip(HEADER_NAMES, values, strict=True)
        ]
        if self.retry_after is not None:
            pairs.append((b"retry-after", str(self.retry_after).encode()))
        return pairs


class RateLimiter:
    def __init__(
        self,
        storage: Storage,
        *,
        burst: int,
        burst_seconds: int,
        daily: int,
        pool: ConnectionPool | None = None,
    ) -> None:
        self.storage = storage
        self.burst: RateLimitItem = RateLimitItemPerSecond(burst, burst_seconds, namespace="burst")
        self.daily: RateLimitItem = RateLimitItemPerDay(daily, namespace="daily")
        self._pool = pool
        # Requests refused by this process, by the limit they were past (exported as metrics).
        self.refusals: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        storage, pool = _storage(settings)
        return cls(
            storage,
            burst=settings.rate_limit_burst,
            burst_seconds=settings.rate_limit_burst_seconds,
            daily=settings.rate_limit_daily,
            pool=pool,
        )

    async def hit(self, app_id: str, location_id: str) -> Quota | None:
        """Count one request; None when the counters cannot be reached."""
        try:
            return await self._count(app_id, location_id)
        except StorageError as error:
            log.warning("rate limits not counted, storage unavailable: %r", error.storage_error)
            return None

    async def _count(self, app_id: str, location_id: str) -> Quota:
        burst_key = self.burst.key_for(app_id, location_id)
        daily_key = self.daily.key_for(app_id, location_id)
        exceeded: Literal["burst", "daily"] | None = None
        burst_used = await self.storage.incr(burst_key, self.burst.get_expiry())
        if burst_used > self.burst.amount:
            # A request refused for its burst costs nothing of the daily budget.
            exceeded = "burst"
            daily_used = await self.storage.get(daily_key)
        else:
            daily_used = await self.storage.incr(daily_key, self.daily.get_expiry())
            if daily_used > self.daily.amount:
                exceeded = "daily"
        retry_after = None
        if exceeded is not None:
            self.refusals[exceeded] += 1
            resets_at = await self.storage.get_expiry(
                burst_key if exceeded == "burst" else daily_key
            )
            retry_after = max(1, math.ceil(resets_at - time.time()))
        return Quota(
            burst_limit=self.burst.amount,
            burst_remaining=max(0, self.burst.amount - burst_used),
            burst_window_ms=self.burst.get_expiry() * 1000,
            daily_limit=self.daily.amount,
            daily_remaining=max(0, self.daily.amount - daily_used),
            exceeded=exceeded,
            retry_after=retry_after,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


def _storage(settings: Settings) -> tuple[Storage, ConnectionPool | None]:
    if not settings.redis_url:
        return MemoryStorage(), None
    # Our own pool, so that shutdown can close its connections.
    pool = ConnectionPool.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )
    storage = RedisStorage(
        "async+" + settings.redis_url,
        implementation="redispy",
        key_prefix=settings.rate_limit_key_prefix,
        wrap_exceptions=True,
        # Handed on to redis-py's client; limits annotates its options as scalars only.
        connection_pool=pool,  # type: ignore[arg-type]
    )
    return storage, pool


async def count_request(request: Request, principal: Principal) -> None:
    """The auth pipeline's step: count the request for its app in its location; past a limit,
    a 429 whose Retry-After (written by RateLimitHeaders) says when to come back."""
    limiter: RateLimiter = request.app.state.rate_limiter
    quota = await limiter.hit(principal.app_id, principal.location_id)
    if quota is None:
        return
    setattr(request.state, STATE_KEY, quota)
    if quota.exceeded == "burst":
        raise TooManyRequests(
            f"Too many requests: this app may send {quota.burst_limit} requests per "
            f"{quota.burst_window_ms // 1000} seconds to this location; "
            f"retry after {quota.retry_after} seconds"
        )
    if quota.exceeded == "daily":
        raise TooManyRequests(
            f"Too many requests: this app's daily budget of {quota.daily_limit} requests to "
            f"this location is used up; retry after {quota.retry_after} seconds"
        )


class RateLimitHeaders:
    """Writes the quota the auth pipeline left in the request state on the response, so every
    response of an authenticated request carries it: successes, refusals and errors alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Request.state stores into this very dict, so what the pipeline sets is seen here.
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_quota(message: Message) -> None:
            if message["type"] == "http.response.start":
                quota = state.get(STATE_KEY)
                if isinstance(quota, Quota):
                    message["headers"] = [*message.get("headers", []), *quota.headers()]
            await send(message)

        await self.app(scope, receive, send_with_quota)


def _header_docs(descriptions: dict[str, str], minimum: int) -> dict[str, Any]:
    return {
        name: {"description": text, "schema": {"type": "integer", "minimum": minimum}}
        for name, text in descriptions.items()
    }


# The 429 response of ERROR_RESPONSES.
REFUSED_HEADERS_DOC = {
    **_header_docs({"Retry-After": RETRY_AFTER_DESCRIPTION}, 1),
    **_header_docs(HEADER_DESCRIPTIONS, 0),
}


def document_headers(app: FastAPI) -> None:
    """Make the app's OpenAPI name the rate-limit headers on every response of every operation
    that takes a token (optional: a request refused before authentication is not counted)."""
    docs = _header_docs(HEADER_DESCRIPTIONS, 0)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if isinstance(operation, dict) and operation.get("security"):
                    for response in operation.get("responses", {}).values():
                        response["headers"] = {**response.get("headers", {}), **docs}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way
