"""Helpers of the security tests: keys with options, and the rate-limit headers."""

from collections.abc import Sequence
from typing import Any

import httpx

from contactflow.platform.auth import api_keys
from contactflow.platform.auth.scopes import DEFAULT_KEY_SCOPES
from contactflow.platform.db import Database

RATE_HEADERS = (
    "x-ratelimit-limit-daily",
    "x-ratelimit-daily-remaining",
    "x-ratelimit-interval-milliseconds",
    "x-ratelimit-max",
    "x-ratelimit-remaining",
)


async def issue_key(
    db: Database, location_id: str, scopes: Sequence[str] = DEFAULT_KEY_SCOPES, **options: Any
) -> tuple[str, str]:
    """A new key of the location: (its id, its plaintext)."""
    async with db.unit_of_work() as uow:
        key, plaintext = await api_keys.create_key(uow, location_id, list(scopes), **options)
        return key.id, plaintext


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Version": "2021-07-28"}


def rate_headers(response: httpx.Response) -> dict[str, int]:
    """The five rate-limit headers as numbers; each present exactly once."""
    values = {}
    for name in RATE_HEADERS:
        found = response.headers.get_list(name)
        assert len(found) == 1, (name, found, response.status_code)
        values[name] = int(found[0])
    return values


def has_no_rate_headers(response: httpx.Response) -> bool:
    return not any(name in response.headers for name in (*RATE_HEADERS, "retry-after"))


# Routes any caller may reach without a token; everything else must want one (API9).
PUBLIC_ROUTES = frozenset(
    {"/", "/health", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"}
    | {"/webhooks/public-key"}
    # The operator's endpoints, for probes and scrapers that carry no token: the process's
    # state and counts by route template, never a record (docs/operations.md).
    | {"/livez", "/readyz", "/metrics"}
    # The links in a sent email, followed by its recipient: the signed token in the path is
    # their credential.
    | {
        "/mailsuite/v1/track/open/{token}",
        "/mailsuite/v1/track/click/{token}",
        "/mailsuite/v1/unsubscribe/{token}",
    }
)
# The OAuth endpoints authenticate clients and users their own way (RFC 6749), and so does
# the connections' OAuth callback (its single-use state); Mailsuite's tracking and unsubscribe
# links carry a signed token instead of a credential; incoming hooks are signed or carry the
# flow's hook token in their path. The dashboard's pages are for people: they sign in with a
# password to a session of their own (tests/web), never with a token.
PUBLIC_PREFIXES = (
    "/app/",
    "/oauth/",
    "/connections/oauth/callback",
    "/mailsuite/v1/track/",
    "/mailsuite/v1/unsubscribe/",
    "/hooks/",
)
