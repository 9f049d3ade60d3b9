"""The rate budget of a connection in a remote location: its arithmetic on an injected clock,
and calls to a loopback receiver that answers 429 with Retry-After, then 5xx: the backoff is
seen in the arrival times, and no window ever holds more requests than the budget allows."""

import asyncio
import itertools
import time
import uuid
from typing import cast

import httpx
import pytest
from redis.asyncio import Redis

from contactflow.flows.connections.oauth_client import ConnectionAuth
from contactflow.flows.connections.outbound import Authorizer
from contactflow.flows.connections.rate_budget import (
    DAY_SECONDS,
    RateBudget,
    RateLimits,
    SharedRateBudget,
)
from contactflow.flows.connections.remote_client import RemoteAccount, RemoteFailed, call
from contactflow.platform.db import Database
from contactflow.platform.webhooks.ssrf import UrlPolicy
from tests.receiver import Receiver
from tests.support import CLIENT_TIMEOUT_SECONDS


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# Noon of some UTC day: a day boundary is far on either side.
NOON = 20_000 * DAY_SECONDS + DAY_SECONDS / 2


def _budget(**limits: float) -> tuple[RateBudget, Clock]:
    clock = Clock(NOON)
    return RateBudget(RateLimits(**limits), clock), clock  # type: ignore[arg-type]


def test_the_burst_window_slides_past_its_oldest_request() -> None:
    budget, clock = _budget(burst=3, burst_seconds=10)
    for moment in (0, 1, 2):
        clock.now = NOON + moment
        assert budget.wait() == 0
        budget.spend()
    assert budget.wait() == pytest.approx(8)
    clock.now = NOON + 9.5
    assert budget.wait() == pytest.approx(0.5)
    clock.now = NOON + 10
    assert budget.wait() == 0
    budget.spend()
    assert budget.wait() == pytest.approx(1)
    assert budget.in_window == 3


def test_the_daily_budget_lasts_until_the_next_utc_day() -> None:
    budget, clock = _budget(burst=100, burst_seconds=10, daily=5)
    for _ in range(5):
        clock.now += 3
        budget.spend()
    assert budget.wait() == pytest.approx(DAY_SECONDS / 2 - 15)
    clock.now = NOON + DAY_SECONDS / 2
    assert budget.wait() == 0


def test_the_remote_headers_lower_the_budget() -> None:
    budget, clock = _budget(burst=100, burst_seconds=10, daily=200_000)
    budget.observe(
        {
            "x-ratelimit-max": "2",
            "x-ratelimit-interval-milliseconds": "20000",
            "x-ratelimit-remaining": "1",
            "x-ratelimit-daily-remaining": "4",
        }
    )
    budget.spend()
    budget.spend()
    # The remote's smaller burst over its longer window.
    assert budget.wait() == pytest.approx(20)
    clock.now += 20
    budget.spend()
    # One of the four the remote had left for the day is still there...
    clock.now += 20
    assert budget.wait() == 0
    budget.spend()
    # ...and then none until tomorrow.
    clock.now += 20
    assert budget.wait() == pytest.approx(DAY_SECONDS / 2 - 60)

    # A remote that says its burst is spent: nothing for one window. Headers it does not
    # send, or sends garbled, change nothing.
    fresh, clock = _budget(burst=100, burst_seconds=10)
    fresh.observe({"x-ratelimit-remaining": "0", "x-ratelimit-max": "many"})
    assert fresh.wait() == pytest.approx(10)
    assert fresh.limits.burst == 100


def test_a_pause_holds_every_request() -> None:
    budget, clock = _budget()
    budget.pause(30)
    assert budget.wait() == pytest.approx(30)
    budget.pause(5)
    assert budget.wait() == pytest.approx(30)
    clock.now += 30
    assert budget.wait() == 0


POLICY = UrlPolicy(allow_http=True, allowed=["127.0.0.1/32"])


def _account(http: httpx.AsyncClient, base_url: str, limits: RateLimits) -> RemoteAccount:
    auth = ConnectionAuth(
        connection_id=uuid.uuid4().hex,
        kind="contacts",
        base_url=base_url,
        headers={},
        remote_location_id="loc_remote",
    )

    # Never asked: an auth without an OAuth token is not refreshed, so no database is needed.
    authorize = Authorizer(
        cast(Database, None), "loc", auth.connection_id, record="run", record_id="run_1"
    )
    return RemoteAccount(http, POLICY, authorize, auth, limits, backoff_seconds=0.2)


def _sending_client(sent: list[float]) -> httpx.AsyncClient:
    """A client that notes when each request leaves it: the budget's pace is measured there,
    not where the requests arrive, which a loaded machine delays by different amounts."""

    async def note(_: httpx.Request) -> None:
        sent.append(time.monotonic())

    return httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, event_hooks={"request": [note]})


async def test_429_then_5xx_back_off_and_the_budget_is_never_exceeded(receiver: Receiver) -> None:
    path = f"/remote-{uuid.uuid4().hex}"
    limits = RateLimits(burst=2, burst_seconds=1, daily=1_000)
    receiver.fail_next(429, 500, 503)
    receiver.retry_after = "1"
    sent: list[float] = []
    try:
        async with _sending_client(sent) as http:
            answered = await call(_account(http, receiver.url(path), limits), "POST", "/x")
    finally:
        receiver.retry_after = None
    assert answered.status_code == 200
    arrived = [arrival for arrival in receiver.arrivals if arrival.path == f"{path}/x"]
    assert [arrival.status for arrival in arrived] == [429, 500, 503, 200]
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    # Retry-After: 1; then backoffs from 0.4 and 0.8 seconds (doubling, jitter on top).
    assert gaps[0] >= 1.0, gaps
    assert gaps[1] >= 0.4, gaps
    assert gaps[2] >= 0.8, gaps

    # Seven calls at once through one budget of two per second: never three in a second.
    path = f"/remote-{uuid.uuid4().hex}"
    sent = []
    async with _sending_client(sent) as http:
        account = _account(http, receiver.url(path), limits)
        answers = await asyncio.gather(*(call(account, "POST", "/x") for _ in range(7)))
    assert [answer.status_code for answer in answers] == [200] * 7
    assert len([arrival for arrival in receiver.arrivals if arrival.path == f"{path}/x"]) == 7
    times = sorted(sent)
    assert len(times) == 7
    # Two a second: any three span a second, less the event loop's own delays in noting them.
    spans = [times[index + 2] - times[index] for index in range(len(times) - 2)]
    assert min(spans) >= 0.9, spans


async def test_a_remote_that_keeps_failing_fails_the_call_with_its_answer(
    receiver: Receiver,
) -> None:
    path = f"/remote-{uuid.uuid4().hex}"
    receiver.fail_next(500, 502, 503, 504)
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS) as http:
        account = _account(http, receiver.url(path), RateLimits())
        with pytest.raises(RemoteFailed, match="remote answered 504: nope"):
            await call(account, "POST", "/x")
    assert len([arrival for arrival in receiver.arrivals if arrival.path == f"{path}/x"]) == 4


def _shared(redis_url: str, prefix: str) -> tuple[SharedRateBudget, SharedRateBudget]:
    """The budgets two worker processes keep of one connection in one remote location."""
    limits = RateLimits(
        burst=3, burst_seconds=1, daily=1_000, redis_url=redis_url, key_prefix=prefix
    )
    return SharedRateBudget(limits, "conn_1:loc_remote"), SharedRateBudget(
        limits, "conn_1:loc_remote"
    )


async def test_processes_sharing_a_redis_spend_one_budget(
    redis_url: str, redis_prefix: str
) -> None:
    first, second = _shared(redis_url, redis_prefix)
    started = time.monotonic()
    # Ten requests, five through each, against three a second: four windows of the one
    # budget (alone, each process would have needed two).
    await asyncio.gather(*(budget.acquire() for budget in (first, second) for _ in range(5)))
    # The script's clock is what keeps the window: the ninth request after the first cannot
    # have gone within three seconds of it, however late each process learnt it had gone.
    assert time.monotonic() - started >= 2.9


async def test_a_pause_one_process_learns_of_holds_the_others(
    redis_url: str, redis_prefix: str
) -> None:
    first, second = _shared(redis_url, redis_prefix)
    client = Redis.from_url(redis_url)
    try:
        paused_at = time.time()
        first.pause(1.5)  # a 429 with Retry-After: 1.5, answered to the first
        deadline = time.monotonic() + 10
        while not await client.exists(f"{redis_prefix}:remote-budget:conn_1:loc_remote:pause"):
            assert time.monotonic() < deadline, "the pause never reached Redis"
            await asyncio.sleep(0.02)
        await second.acquire()
        # Budgets count in wall time (milliseconds), as every process's clock agrees on it.
        assert time.time() >= paused_at + 1.5 - 0.01
    finally:
        await client.aclose()
