"""API4:2023 Unrestricted Resource Consumption: page sizes and bodies are capped, and each app
has a burst and a daily budget per location, counted in memory or shared through Redis."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
from redis.asyncio import Redis

from contactflow.platform.db import Database
from contactflow.platform.ratelimit import RateLimiter
from contactflow.settings import Settings
from tests.conftest import TenantFactory
from tests.contacts.helpers import assert_error, count_contacts
from tests.receiver import Receiver
from tests.security.conftest import StartServer
from tests.security.helpers import bearer, has_no_rate_headers, issue_key, rate_headers
from tests.support import CLIENT_TIMEOUT_SECONDS, Tenant, api_client

MIB = 1024 * 1024


def test_the_defaults_are_the_specs_numbers() -> None:
    fields = Settings.model_fields
    assert fields["rate_limit_burst"].default == 100
    assert fields["rate_limit_burst_seconds"].default == 10
    assert fields["rate_limit_daily"].default == 200_000
    assert fields["redis_url"].default is None


async def test_page_sizes_over_the_maximum_are_refused(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    endpoint = (await client.post("/webhooks", json={"url": receiver.url()})).json()
    business = (await client.post("/businesses/", json={"name": "B"})).json()["business"]
    pages = [
        ("GET", "/contacts/", "limit", 100, None),
        ("GET", f"/contacts/business/{business['id']}", "limit", 100, None),
        ("GET", "/audit", "limit", 100, None),
        ("GET", f"/webhooks/{endpoint['endpoint']['id']}/deliveries", "limit", 100, None),
        ("GET", "/events", "limit", 1000, None),
        ("POST", "/contacts/search", "pageLimit", 100, "body"),
    ]
    for method, path, name, maximum, where in pages:
        for size, allowed in ((maximum, True), (maximum + 1, False), (10**9, False)):
            if where == "body":
                response = await client.request(method, path, json={name: size})
            else:
                response = await client.request(method, path, params={name: size})
            if allowed:
                assert response.status_code == 200, (path, size, response.text)
            else:
                assert_error(response, 422, name)


async def test_bodies_over_one_mib_are_refused(client: httpx.AsyncClient) -> None:
    # Declared by Content-Length: refused before a byte of the body is read.
    padding = "x" * MIB
    declared = await client.post("/contacts/", json={"firstName": "A", "notes": padding})
    assert_error(declared, 413, "body")
    # Streamed without Content-Length: refused once the running count passes the cap.

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"firstName":"'
        for _ in range(17):
            yield b"y" * 65536
        yield b'"}'

    streamed = await client.post(
        "/contacts/", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(streamed, 413, "body")
    # At the cap exactly, the body is read and judged on its content instead.
    exact = b'{"firstName":"' + b"z" * (MIB - len(b'{"firstName":""}')) + b'"}'
    assert len(exact) == MIB
    at_cap = await client.post(
        "/contacts/", content=exact, headers={"Content-Type": "application/json"}
    )
    assert_error(at_cap, 422, "firstName")
    assert await count_contacts(client) == 0


async def test_a_burst_counts_down_then_429_with_retry_after(
    start_server: StartServer, tenant: Tenant
) -> None:
    server = start_server(rate_limit_burst=5, rate_limit_daily=1000)
    async with api_client(server.base_url, tenant.headers) as http:
        for remaining in (4, 3, 2, 1, 0):
            response = await http.get("/contacts/")
            assert response.status_code == 200
            assert rate_headers(response) == {
                "x-ratelimit-limit-daily": 1000,
                "x-ratelimit-daily-remaining": 1000 - (5 - remaining),
                "x-ratelimit-interval-milliseconds": 10_000,
                "x-ratelimit-max": 5,
                "x-ratelimit-remaining": remaining,
            }
            assert "retry-after" not in response.headers
        # The sixth, a write, is refused before it runs.
        refused = await http.post("/contacts/", json={"firstName": "Over"})
        body = assert_error(refused, 429)
        assert set(body) == {"statusCode", "message", "error", "traceId"}
        assert body["error"] == "Too Many Requests"
        assert "5 requests per 10 seconds" in body["message"]
        assert 1 <= int(refused.headers["retry-after"]) <= 10
        counts = rate_headers(refused)
        assert counts["x-ratelimit-remaining"] == 0
        # A refused request spends nothing of the daily budget.
        assert counts["x-ratelimit-daily-remaining"] == 995
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url
    ) as anonymous:
        # Not authenticated, not counted: no headers, and the budget is not the caller's.
        missing = await anonymous.get("/contacts/")
        assert_error(missing, 401)
        assert has_no_rate_headers(missing)


async def test_the_window_reopens_when_retry_after_says(
    start_server: StartServer, tenant: Tenant
) -> None:
    server = start_server(rate_limit_burst=2, rate_limit_burst_seconds=1)
    async with api_client(server.base_url, tenant.headers) as http:
        assert [(await http.get("/health")).status_code] == [200]
        statuses = [(await http.get("/contacts/")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = await http.get("/contacts/")
        wait = int(refused.headers["retry-after"])
        assert wait == 1
        assert rate_headers(refused)["x-ratelimit-interval-milliseconds"] == 1000
        await asyncio.sleep(wait + 0.1)
        again = await http.get("/contacts/")
        assert again.status_code == 200
        assert rate_headers(again)["x-ratelimit-remaining"] == 1


async def test_the_daily_budget_is_enforced(start_server: StartServer, tenant: Tenant) -> None:
    server = start_server(rate_limit_burst=100, rate_limit_daily=3)
    async with api_client(server.base_url, tenant.headers) as http:
        for left in (2, 1, 0):
            response = await http.get("/contacts/")
            assert response.status_code == 200
            assert rate_headers(response)["x-ratelimit-daily-remaining"] == left
        refused = await http.get("/contacts/")
        body = assert_error(refused, 429)
        assert "daily budget of 3" in body["message"]
        # The day's window opened with the first request: about a day to wait.
        assert 86_000 < int(refused.headers["retry-after"]) <= 86_400
        counts = rate_headers(refused)
        assert counts["x-ratelimit-daily-remaining"] == 0
        assert counts["x-ratelimit-remaining"] == 96


async def test_limits_are_per_app_per_location(
    start_server: StartServer, tenant: Tenant, new_tenant: TenantFactory, db: Database
) -> None:
    server = start_server(rate_limit_burst=3)
    other_location = await new_tenant()
    _, second_key = await issue_key(db, tenant.location_id)
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url) as http:
        statuses = [
            (await http.get("/contacts/", headers=tenant.headers)).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        # Another key is another app, with a budget of its own in the same location ...
        same_location = await http.get("/contacts/", headers=bearer(second_key))
        assert same_location.status_code == 200
        assert rate_headers(same_location)["x-ratelimit-remaining"] == 2
        # ... and another location's key is not touched either.
        elsewhere = await http.get("/contacts/", headers=other_location.headers)
        assert elsewhere.status_code == 200
        assert rate_headers(elsewhere)["x-ratelimit-remaining"] == 2
        assert (await http.get("/contacts/", headers=tenant.headers)).status_code == 429


async def test_the_key_is_the_pair_of_app_and_location() -> None:
    # OAuth apps reach many locations with one client id: each location has its own budget.
    limiter = RateLimiter.from_settings(Settings(rate_limit_burst=2, rate_limit_daily=10))
    first = [await limiter.hit("app", "loc-1") for _ in range(3)]
    assert [quota.exceeded if quota else "uncounted" for quota in first] == [None, None, "burst"]
    other_location = await limiter.hit("app", "loc-2")
    other_app = await limiter.hit("app-2", "loc-1")
    assert other_location is not None
    assert other_app is not None
    assert (other_location.exceeded, other_location.burst_remaining) == (None, 1)
    assert (other_app.exceeded, other_app.daily_remaining) == (None, 9)


async def test_errors_after_authentication_carry_the_headers(
    start_server: StartServer, tenant: Tenant, new_tenant: TenantFactory
) -> None:
    server = start_server(rate_limit_burst=50)
    reader = await new_tenant(scopes=("contacts.readonly",))
    async with api_client(server.base_url, tenant.headers) as http:
        responses = [
            (await http.get("/contacts/doesNotExist0000000000000"), 404),
            (await http.post("/contacts/", json={"firstName": 5, "unknown": 1}), 422),
            (await http.get("/contacts/", params={"locationId": reader.location_id}), 403),
        ]
        for response, status in responses:
            assert_error(response, status)
        remaining = [rate_headers(response)["x-ratelimit-remaining"] for response, _ in responses]
        assert remaining == [49, 48, 47]
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=reader.headers
    ) as http:
        # The scope is checked after the request is counted: an under-scoped call counts.
        under_scoped = await http.post("/contacts/", json={"firstName": "X"})
        assert_error(under_scoped, 401, "contacts.write")
        assert rate_headers(under_scoped)["x-ratelimit-remaining"] == 49


async def test_redis_counts_one_budget_across_servers(
    start_server: StartServer, tenant: Tenant, redis_url: str, redis_prefix: str
) -> None:
    shared = {
        "redis_url": redis_url,
        "rate_limit_key_prefix": redis_prefix,
        "rate_limit_burst": 5,
    }
    first, second = start_server(**shared), start_server(**shared)
    remaining = []
    for server in (first, second, first, second, first):
        async with api_client(server.base_url, tenant.headers) as http:
            response = await http.get("/contacts/")
            assert response.status_code == 200
            remaining.append(rate_headers(response)["x-ratelimit-remaining"])
    assert remaining == [4, 3, 2, 1, 0]
    for server in (first, second):
        async with api_client(server.base_url, tenant.headers) as http:
            refused = await http.get("/contacts/")
            assert_error(refused, 429)
            assert 1 <= int(refused.headers["retry-after"]) <= 10
    # The counters are in Redis, under the installation's prefix ...
    client = Redis.from_url(redis_url)
    try:
        keys = [key.decode() async for key in client.scan_iter(match=f"{redis_prefix}:*")]
    finally:
        await client.aclose()
    assert any(key.startswith(f"{redis_prefix}:burst/") for key in keys), keys
    assert any(key.startswith(f"{redis_prefix}:daily/") for key in keys), keys
    assert all(tenant.location_id in key for key in keys), keys
    # ... so another installation sharing the Redis (another prefix) has its own.
    apart = start_server(
        redis_url=redis_url, rate_limit_key_prefix=f"{redis_prefix}-b", rate_limit_burst=5
    )
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=apart.base_url, headers=tenant.headers
    ) as http:
        response = await http.get("/contacts/")
        assert response.status_code == 200
        assert rate_headers(response)["x-ratelimit-remaining"] == 4
    client = Redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=f"{redis_prefix}-b:*"):
            await client.delete(key)
    finally:
        await client.aclose()


async def test_an_unreachable_redis_lets_requests_through_uncounted(
    start_server: StartServer, tenant: Tenant
) -> None:
    # Nothing listens on port 1: the counters are down, the API is not.
    server = start_server(redis_url="redis://127.0.0.1:1/0", rate_limit_burst=1)
    async with api_client(server.base_url, tenant.headers) as http:
        started = time.monotonic()
        for _ in range(3):
            response = await http.get("/contacts/")
            assert response.status_code == 200
            assert has_no_rate_headers(response)
        assert time.monotonic() - started < 5
