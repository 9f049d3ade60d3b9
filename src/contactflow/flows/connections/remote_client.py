"""Calls to a remote HighLevel-compatible account through a connection, within its rate
budget: each attempt waits for room in the budget of the connection's remote location, goes
out with the connection's auth (an OAuth token refreshed ahead of expiry, and once after a
401), and the answer's `X-RateLimit-*` headers correct the budget. A 429 pauses the budget
for its `Retry-After`; a 429, a 5xx or an unreachable remote is tried again after a backoff
that doubles, with jitter, a few times before the call fails."""

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from contactflow.flows.connections.oauth_client import TIMEOUT_SECONDS, ConnectionAuth
from contactflow.flows.connections.outbound import Authorizer, with_auth
from contactflow.flows.connections.rate_budget import RateBudget, RateLimits, budget_for
from contactflow.platform.errors import DomainError
from contactflow.platform.webhooks.ssrf import UnsafeUrl, UrlPolicy

# Attempts of one call, and the first backoff (doubled each time, with up to as much jitter).
ATTEMPTS = 4
BACKOFF_SECONDS = 0.5
# A Retry-After longer than this is not waited for within a step: the step fails, and its
# error policy retries it later.
LONGEST_WAIT_SECONDS = 60.0


class RemoteFailed(DomainError):
    """The remote account refused the call (`status`, its answer's), or could not be
    reached (no status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RemoteAccount:
    """What calls a connection's remote account: the process's client, the URL policy every
    outbound address goes through, and the connection's auth."""

    http: httpx.AsyncClient
    policy: UrlPolicy
    authorize: Authorizer
    auth: ConnectionAuth
    limits: RateLimits = field(default_factory=RateLimits)
    backoff_seconds: float = BACKOFF_SECONDS

    @property
    def budget(self) -> RateBudget:
        return budget_for(self.auth.connection_id, self.auth.remote_location_id, self.limits)

    def url(self, path: str) -> str:
        assert self.auth.base_url is not None
        return f"{self.auth.base_url.rstrip('/')}/{path.lstrip('/')}"


def retry_after(response: httpx.Response) -> float | None:
    """A 429's Retry-After in seconds (HTTP dates are not used by HighLevel)."""
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def _refusal(response: httpx.Response) -> RemoteFailed:
    message: Any = response.text[:500]
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        message = body["message"]
    if isinstance(message, list):
        message = "; ".join(map(str, message))
    return RemoteFailed(f"remote answered {response.status_code}: {message}", response.status_code)


async def call(account: RemoteAccount, method: str, path: str, **options: Any) -> httpx.Response:
    """`method path` on the remote account; its 2xx answer, else RemoteFailed."""
    url = account.url(path)
    try:
        await account.policy.check(url)
    except UnsafeUrl as error:
        raise RemoteFailed(f"refused: {str(error).removeprefix('url: ')}") from None
    budget = account.budget
    # The auth of the latest attempt: a token refreshed after a 401 serves the next ones.
    latest = account.auth

    async def send(auth: ConnectionAuth) -> httpx.Response:
        nonlocal latest
        latest = auth
        await budget.acquire()
        response = await account.http.request(
            method, url, headers=auth.headers, timeout=TIMEOUT_SECONDS, **options
        )
        budget.observe(response.headers)
        return response

    failure: RemoteFailed | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            base = account.backoff_seconds * 2 ** (attempt - 1)
            await asyncio.sleep(base + random.uniform(0, base))  # noqa: S311 - jitter
        try:
            response = await with_auth(account.authorize, latest, send)
        except httpx.HTTPError as error:
            failure = RemoteFailed(f"remote unreachable: {type(error).__name__}: {error}")
            continue
        if response.status_code == 429:
            wait = retry_after(response)
            if wait is not None and wait > LONGEST_WAIT_SECONDS:
                raise _refusal(response)
            budget.pause(wait if wait is not None else budget.limits.burst_seconds)
            failure = _refusal(response)
            continue
        if response.status_code >= 500:
            failure = _refusal(response)
            continue
        if response.status_code >= 300:
            raise _refusal(response)
        return response
    assert failure is not None
    raise failure
