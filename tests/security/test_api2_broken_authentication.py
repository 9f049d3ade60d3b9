"""API2:2023 Broken Authentication: a key that is expired, revoked, rotated out, bound to a
location of the other kind, malformed or of a foreign format is refused with the 401
envelope; an IP allowlist (IPv4 or IPv6 networks) refuses other addresses with a 403 that
is audited, and believes X-Forwarded-For only behind a trusted proxy. A key's creation,
rotation (a grace of at most seven days), revocation and each use from a new address are
audited, and its last use is recorded. (tests/contacts/test_tenancy.py has the bad-token
table for every Contacts route kind; this module follows a key's life.)"""

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from contactflow.platform.auth import api_keys
from contactflow.platform.auth.scopes import AUDIT_READ, DEFAULT_KEY_SCOPES
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.errors import BadRequest, Unprocessable
from contactflow.platform.tenancy import Location
from tests.contacts.helpers import assert_error
from tests.security.conftest import StartServer
from tests.security.helpers import bearer, has_no_rate_headers, issue_key
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant

UNAUTHORIZED_KEYS = {"statusCode", "message", "error", "traceId"}


async def refused(server: LiveServer, key: str, *fields: str) -> str:
    """The key gets the 401 envelope on a read and on a write, uncounted; its message."""
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(key)
    ) as http:
        messages = set()
        for response in (
            await http.get("/contacts/"),
            await http.post("/contacts/", json={"firstName": "X"}),
        ):
            body = assert_error(response, 401, *fields)
            assert set(body) == UNAUTHORIZED_KEYS
            assert body["error"] == "Unauthorized"
            assert has_no_rate_headers(response)
            messages.add(str(body["message"]))
    assert len(messages) == 1
    return messages.pop()


async def once_its_cache_entry_lapses(server: LiveServer, key: str) -> None:
    """A credential changed in the database directly, not through its revocation or rotation
    (which empty the process's credential cache), stops working once the server's cached
    entry lapses: within a second (ADR 0012). Polled with a generous deadline."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(key)
    ) as http:
        while (await http.get("/contacts/")).status_code != 401:
            assert time.monotonic() < deadline, "the change was never seen"
            await asyncio.sleep(0.05)


async def works(server: LiveServer, key: str) -> None:
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(key)
    ) as http:
        response = await http.get("/contacts/")
        assert response.status_code == 200, response.text


async def test_an_expired_key_is_refused(server: LiveServer, tenant: Tenant, db: Database) -> None:
    soon = utcnow() + timedelta(hours=1)
    key_id, key = await issue_key(db, tenant.location_id, expires_at=soon)
    await works(server, key)
    async with db.unit_of_work() as uow:
        row = await uow.session.get(api_keys.ApiKey, key_id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    await once_its_cache_entry_lapses(server, key)
    assert await refused(server, key, "expired") == "The token has expired"
    # A key cannot be made already expired either.
    with pytest.raises(BadRequest):
        await issue_key(db, tenant.location_id, expires_at=utcnow() - timedelta(seconds=1))


async def test_a_revoked_key_is_refused(server: LiveServer, tenant: Tenant, db: Database) -> None:
    key_id, key = await issue_key(db, tenant.location_id)
    await works(server, key)
    async with db.unit_of_work() as uow:
        await api_keys.revoke_key(uow, key_id)
    assert await refused(server, key, "revoked") == "The token has been revoked"


async def test_a_key_rotated_out_is_refused_and_its_successor_works(
    server: LiveServer, tenant: Tenant, db: Database
) -> None:
    kept_id, kept = await issue_key(db, tenant.location_id)
    gone_id, gone = await issue_key(db, tenant.location_id)
    async with db.unit_of_work() as uow:
        _, kept_successor = await api_keys.rotate_key(uow, kept_id, timedelta(hours=1))
        _, gone_successor = await api_keys.rotate_key(uow, gone_id, timedelta(0))
    # With a grace period both keys work; with none the old one stops at once.
    for key in (kept, kept_successor, gone_successor):
        await works(server, key)
    assert await refused(server, gone, "expired") == "The token has expired"


async def test_a_key_of_the_other_kind_of_location_is_refused(
    server: LiveServer, tenant: Tenant, db: Database
) -> None:
    """A live key works only on a live location: the location turned sandbox, its key fails."""
    _, key = await issue_key(db, tenant.location_id)
    await works(server, key)
    async with db.unit_of_work() as uow:
        location = await uow.session.get(Location, tenant.location_id)
        assert location is not None
        location.sandbox = True
    await once_its_cache_entry_lapses(server, key)
    assert await refused(server, key) == api_keys.INVALID_TOKEN


@pytest.mark.parametrize(
    "variant",
    ["foreign-prefix", "swapped-prefix", "truncated", "bad-checksum", "unknown", "not-a-key"],
)
async def test_malformed_and_foreign_tokens_are_refused(
    server: LiveServer, tenant: Tenant, variant: str
) -> None:
    key = tenant.key
    token = {
        "foreign-prefix": "sk_live_" + key[len(api_keys.LIVE_PREFIX) :],
        "swapped-prefix": api_keys.TEST_PREFIX + key[len(api_keys.LIVE_PREFIX) :],
        "truncated": key[:-1],
        "bad-checksum": key[:-1] + ("A" if key[-1] != "A" else "B"),
        "unknown": api_keys.generate_key(sandbox=False),
        "not-a-key": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
    }[variant]
    assert await refused(server, token) == api_keys.INVALID_TOKEN
    await works(server, key)


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer cf_live_", "Basic dXNlcjpwYXNz", "Token abc", "bearer"]
)
async def test_a_missing_or_foreign_scheme_is_refused(
    server: LiveServer, authorization: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=headers
    ) as http:
        response = await http.get("/contacts/")
    body = assert_error(response, 401)
    assert set(body) == UNAUTHORIZED_KEYS


async def audit_entries(server: LiveServer, db: Database, location_id: str) -> list[dict[str, str]]:
    _, auditor = await issue_key(db, location_id, [AUDIT_READ])
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(auditor)
    ) as http:
        response = await http.get("/audit", params={"action": "credential.refused_ip"})
    assert response.status_code == 200, response.text
    entries: list[dict[str, str]] = response.json()["entries"]
    return entries


async def test_an_ip_allowlist_refuses_other_addresses_and_audits_it(
    server: LiveServer, tenant: Tenant, db: Database
) -> None:
    fenced_id, fenced = await issue_key(db, tenant.location_id, allowed_ips=["203.0.113.0/24"])
    _, local = await issue_key(db, tenant.location_id, allowed_ips=["127.0.0.1"])
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(fenced)
    ) as http:
        response = await http.get("/contacts/")
        # A client on 127.0.0.1 cannot pass for an allowed address while there is no proxy.
        spoofed = await http.get("/contacts/", headers={"X-Forwarded-For": "203.0.113.9"})
    for answer in (response, spoofed):
        body = assert_error(answer, 403)
        assert body["message"] == "Requests from 127.0.0.1 are not allowed for this token"
        # Refused before it is counted: another address's calls spend nothing of the budget.
        assert has_no_rate_headers(answer)
    await works(server, local)

    entries = await audit_entries(server, db, tenant.location_id)
    mine = [entry for entry in entries if entry["actor"] == f"api_key:{fenced_id}"]
    assert len(mine) == 2
    assert {(entry["action"], entry["ip"]) for entry in mine} == {
        ("credential.refused_ip", "127.0.0.1")
    }


async def test_behind_a_trusted_proxy_the_address_it_appends_counts(
    start_server: StartServer, tenant: Tenant, db: Database
) -> None:
    server = start_server(trust_proxy=True)
    _, fenced = await issue_key(db, tenant.location_id, allowed_ips=["203.0.113.0/24"])
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(fenced)
    ) as http:
        # The proxy appends the address it saw; what the client sent before it is not believed.
        appended = await http.get(
            "/contacts/", headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.9"}
        )
        forged = await http.get("/contacts/", headers={"X-Forwarded-For": "203.0.113.9, 10.9.9.9"})
        direct = await http.get("/contacts/")
    assert appended.status_code == 200, appended.text
    assert assert_error(forged, 403)["message"].startswith("Requests from 10.9.9.9 ")
    assert assert_error(direct, 403)["message"].startswith("Requests from 127.0.0.1 ")


async def audit_log(server: LiveServer, db: Database, location_id: str) -> list[dict[str, Any]]:
    """The location's whole audit log through GET /audit, oldest first (read with a key of
    its own, which adds its own entries)."""
    _, auditor = await issue_key(db, location_id, [AUDIT_READ])
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(auditor)
    ) as http:
        response = await http.get("/audit", params={"limit": 100})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["nextCursor"] is None
    entries: list[dict[str, Any]] = body["entries"]
    return entries[::-1]


def about(entries: list[dict[str, Any]], key_id: str) -> list[dict[str, Any]]:
    """The entries naming the key, as the credential acted on or as the actor."""
    credential = f"api_key:{key_id}"
    return [
        entry
        for entry in entries
        if credential in (entry["actor"], entry["detail"].get("credential"))
    ]


def summary(entries: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(entry["action"], entry["actor"], entry["ip"]) for entry in entries]


async def test_a_keys_life_is_audited_and_its_last_use_recorded(
    server: LiveServer, start_server: StartServer, tenant: Tenant, db: Database
) -> None:
    proxied = start_server(trust_proxy=True)
    key_id, key = await issue_key(db, tenant.location_id)
    async with db.reader() as session:
        fresh = await session.get(api_keys.ApiKey, key_id)
    assert fresh is not None
    assert (fresh.last_used_at, fresh.last_used_ip) == (None, None)

    before = utcnow()
    await works(server, key)
    await works(server, key)  # the same address again: no second entry
    async with db.reader() as session:
        used = await session.get(api_keys.ApiKey, key_id)
    assert used is not None
    assert used.last_used_at is not None
    assert before <= used.last_used_at <= utcnow()
    assert used.last_used_ip == "127.0.0.1"

    # From another address (behind the trusted proxy): audited with the one before it.
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=proxied.base_url, headers=bearer(key)
    ) as http:
        for _ in range(2):
            response = await http.get("/contacts/", headers={"X-Forwarded-For": "198.51.100.7"})
            assert response.status_code == 200, response.text
    async with db.reader() as session:
        moved = await session.get(api_keys.ApiKey, key_id)
    assert moved is not None
    assert moved.last_used_ip == "198.51.100.7"
    assert moved.last_used_at is not None
    assert moved.last_used_at >= used.last_used_at

    async with db.unit_of_work() as uow:
        successor, _ = await api_keys.rotate_key(uow, key_id, timedelta(hours=2))
    async with db.unit_of_work() as uow:
        await api_keys.revoke_key(uow, key_id)
    async with db.unit_of_work() as uow:
        await api_keys.revoke_key(uow, key_id)  # already revoked: nothing more to record

    entries = await audit_log(server, db, tenant.location_id)
    actor = f"api_key:{key_id}"
    mine = about(entries, key_id)
    assert summary(mine) == [
        ("credential.created", "cli", None),
        ("credential.used_from_new_ip", actor, "127.0.0.1"),
        ("credential.used_from_new_ip", actor, "198.51.100.7"),
        ("credential.rotated", "cli", None),
        ("credential.revoked", "cli", None),
    ]
    created, first_use, moved_use, rotated, revoked = (entry["detail"] for entry in mine)
    assert created == {"credential": actor, "scopes": sorted(DEFAULT_KEY_SCOPES)}
    assert first_use == {"previousIp": None}
    assert moved_use == {"previousIp": "127.0.0.1"}
    assert rotated["credential"] == actor
    assert rotated["replacedBy"] == f"api_key:{successor.id}"
    ends = datetime.fromisoformat(rotated["oldKeyExpiresAt"])
    assert timedelta(hours=1, minutes=59) < ends - utcnow() <= timedelta(hours=2)
    assert revoked == {"credential": actor}
    # The successor's creation is audited too.
    assert summary(about(entries, successor.id))[:1] == [("credential.created", "cli", None)]


async def test_rotation_grace_is_capped_at_seven_days(
    server: LiveServer, tenant: Tenant, db: Database
) -> None:
    key_id, key = await issue_key(db, tenant.location_id)
    for grace in (timedelta(days=7, seconds=1), timedelta(days=30), timedelta(seconds=-1)):
        with pytest.raises(BadRequest, match=r"^grace: must be between 0 and 7 days$"):
            async with db.unit_of_work() as uow:
                await api_keys.rotate_key(uow, key_id, grace)
    async with db.reader() as session:
        keys = await api_keys.list_keys(session, tenant.location_id)
        untouched = await session.get(api_keys.ApiKey, key_id)
    assert untouched is not None
    assert (untouched.expires_at, untouched.replaced_by) == (None, None)
    assert len(keys) == 2  # the tenant's key and this one: no successor was made

    # Exactly seven days is allowed; both keys work meanwhile.
    async with db.unit_of_work() as uow:
        successor, successor_key = await api_keys.rotate_key(uow, key_id, timedelta(days=7))
    async with db.reader() as session:
        rotated = await session.get(api_keys.ApiKey, key_id)
    assert rotated is not None
    assert rotated.replaced_by == successor.id
    assert rotated.expires_at is not None
    assert timedelta(days=7) - timedelta(minutes=1) < rotated.expires_at - utcnow()
    assert rotated.expires_at - utcnow() <= timedelta(days=7)
    await works(server, key)
    await works(server, successor_key)

    # A key that expires sooner keeps its own end: rotation never extends a key's life.
    soon = utcnow() + timedelta(hours=1)
    short_id, _ = await issue_key(db, tenant.location_id, expires_at=soon)
    async with db.unit_of_work() as uow:
        await api_keys.rotate_key(uow, short_id, timedelta(days=7))
    async with db.reader() as session:
        short = await session.get(api_keys.ApiKey, short_id)
    assert short is not None
    assert short.expires_at == soon


async def test_a_rotated_key_lives_as_long_as_its_predecessor_and_expired_ones_stay_dead(
    tenant: Tenant, db: Database
) -> None:
    lasting_id, _ = await issue_key(db, tenant.location_id)
    ninety_id, _ = await issue_key(db, tenant.location_id, expires_at=utcnow() + timedelta(days=90))
    async with db.unit_of_work() as uow:
        forever, _ = await api_keys.rotate_key(uow, lasting_id, timedelta(hours=1))
        successor, _ = await api_keys.rotate_key(uow, ninety_id, timedelta(hours=1))
    assert forever.expires_at is None
    assert successor.expires_at is not None
    assert abs(successor.expires_at - (utcnow() + timedelta(days=90))) < timedelta(minutes=1)

    expired_id, _ = await issue_key(
        db, tenant.location_id, expires_at=utcnow() + timedelta(seconds=1)
    )
    async with db.unit_of_work() as uow:
        expired = await uow.session.get(api_keys.ApiKey, expired_id)
        assert expired is not None
        expired.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(BadRequest, match=r"^key: .* has expired; create a new key instead$"):
        async with db.unit_of_work() as uow:
            await api_keys.rotate_key(uow, expired_id, timedelta(hours=1))
    async with db.reader() as session:
        untouched = await session.get(api_keys.ApiKey, expired_id)
    assert untouched is not None
    assert untouched.replaced_by is None


async def test_keys_cannot_carry_company_scopes(tenant: Tenant, db: Database) -> None:
    for scope in ("oauth.readonly", "oauth.write"):
        with pytest.raises(
            BadRequest, match=rf"^scope: {scope} are for company OAuth tokens only$"
        ):
            await issue_key(db, tenant.location_id, scopes=["contacts.readonly", scope])


async def test_an_ipv6_allowlist_admits_its_network_only(
    start_server: StartServer, tenant: Tenant, db: Database
) -> None:
    proxied = start_server(trust_proxy=True)
    key_id, key = await issue_key(
        db, tenant.location_id, allowed_ips=["2001:DB8:0:0::/32", "2001:db8:ffff::1"]
    )
    async with db.reader() as session:
        row = await session.get(api_keys.ApiKey, key_id)
    assert row is not None
    assert row.allowed_ips == ["2001:db8::/32", "2001:db8:ffff::1/128"]
    with pytest.raises(Unprocessable) as bad:
        await issue_key(db, tenant.location_id, allowed_ips=["2001:db8::/32", "2001:db8::/129"])
    assert bad.value.message[0].startswith("allowedIps.1: not an IP address or CIDR")

    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=proxied.base_url, headers=bearer(key)
    ) as http:

        async def from_address(address: str) -> httpx.Response:
            return await http.get("/contacts/", headers={"X-Forwarded-For": address})

        for inside in ("2001:db8::1", "2001:db8:abcd:12::7", "2001:db8:ffff::1"):
            response = await from_address(inside)
            assert response.status_code == 200, (inside, response.text)
        for outside in ("2001:db9::1", "2001:db7:ffff::1", "::1", "203.0.113.9"):
            body = assert_error(await from_address(outside), 403)
            assert body["message"] == f"Requests from {outside} are not allowed for this token"
        direct = await http.get("/contacts/")
        assert assert_error(direct, 403)["message"].startswith("Requests from 127.0.0.1 ")
