"""The whole OAuth life of an app against a live server: authorize with PKCE, sign in,
consent, exchange the code, call the Contacts API through the official SDK, refresh with
rotation, catch a reused refresh token, revoke, introspect."""

import warnings
from collections.abc import AsyncIterator

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from highlevel import HighLevel

from contactflow.platform import audit
from contactflow.platform.db import Database
from tests.oauth.support import (
    App,
    add_user,
    bearer,
    dance,
    oauth_client,
    register_app,
)
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant


@pytest.fixture
async def app(db: Database, tenant: Tenant) -> App:
    # Loopback is allowed: the allowlist is checked and passes.
    return await register_app(db, tenant.company_id, allowed_ips=("127.0.0.0/8",))


@pytest.fixture
async def oauth(app: App) -> AsyncIterator[AsyncOAuth2Client]:
    async with oauth_client(app) as client:
        yield client


async def test_authorization_code_flow_end_to_end(
    server: LiveServer,
    db: Database,
    tenant: Tenant,
    app: App,
    oauth: AsyncOAuth2Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    email = await add_user(db, tenant.location_id, role="user")
    token = await dance(oauth, server, email, choice=tenant.location_id)
    assert str(token["access_token"]).startswith("cf_oat_")
    assert str(token["refresh_token"]).startswith("cf_ort_")
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 24 * 3600
    assert token["scope"] == "contacts.readonly contacts.write"
    assert (token["userType"], token["locationId"]) == ("Location", tenant.location_id)
    assert token["companyId"] == tenant.company_id
    assert isinstance(token["userId"], str)

    # The official SDK, with the access token as its location token.
    monkeypatch.setattr(HighLevel, "BASE_URL", server.base_url)
    ghl = HighLevel(
        client_id=app.client_id,
        client_secret=app.client_secret,
        location_access_token=str(token["access_token"]),
        log_level="none",
    )
    try:
        created = await ghl.contacts.create_contact(
            {"locationId": tenant.location_id, "firstName": "Ada", "email": "ada@example.com"}
        )
        contact_id = created["contact"]["id"]
        fetched = await ghl.contacts.get_contact(contact_id)
        assert fetched["contact"]["email"] == "ada@example.com"
    finally:
        await ghl.close()

    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url) as http:
        # Refresh: a new pair; the old refresh token is spent, the old access token ends.
        old = dict(token)
        refreshed = await oauth.refresh_token(
            f"{server.base_url}/oauth/token",
            refresh_token=str(old["refresh_token"]),
            user_type="Location",
        )
        assert refreshed["refresh_token"] != old["refresh_token"]
        assert refreshed["access_token"] != old["access_token"]
        new_access = str(refreshed["access_token"])
        assert (await http.get("/contacts/", headers=bearer(new_access))).status_code == 200
        assert (
            await http.get("/contacts/", headers=bearer(old["access_token"]))
        ).status_code == 401

        # The spent refresh token comes back: refused, and the whole family is revoked.
        with pytest.raises(OAuthError) as reused:
            await oauth.refresh_token(
                f"{server.base_url}/oauth/token", refresh_token=str(old["refresh_token"])
            )
        assert reused.value.error == "invalid_grant"
        gone = await http.get("/contacts/", headers=bearer(new_access))
        assert gone.status_code == 401
        assert gone.json()["message"] == "The token has been revoked"
        with pytest.raises(OAuthError):
            await oauth.refresh_token(
                f"{server.base_url}/oauth/token", refresh_token=str(refreshed["refresh_token"])
            )
    async with db.reader() as session:
        entries = await audit.entries(
            session, tenant.location_id, limit=10, action=audit.REFRESH_TOKEN_REUSED
        )
    assert len(entries) == 1
    assert entries[0].actor == f"oauth_client:{app.client_id}"
    assert entries[0].ip == "127.0.0.1"


async def test_revoke_and_introspect(
    server: LiveServer, db: Database, tenant: Tenant, oauth: AsyncOAuth2Client
) -> None:
    email = await add_user(db, tenant.location_id)
    token = await dance(oauth, server, email, choice=tenant.location_id)
    url = f"{server.base_url}/oauth/introspect"

    described = (await oauth.introspect_token(url, token=token["access_token"])).json()
    assert described["active"] is True
    assert described["client_id"] == oauth.client_id
    assert described["scope"] == "contacts.readonly contacts.write"
    assert described["locationId"] == tenant.location_id
    assert described["sub"] == token["userId"]
    assert described["exp"] > described["iat"]
    refresh = (await oauth.introspect_token(url, token=token["refresh_token"])).json()
    assert refresh["active"] is True
    unknown = await oauth.introspect_token(url, token="cf_oat_not-a-token")
    assert unknown.json() == {"active": False}

    revoked = await oauth.revoke_token(
        f"{server.base_url}/oauth/revoke", token=token["refresh_token"]
    )
    assert revoked.status_code == 200, revoked.text
    assert (await oauth.introspect_token(url, token=token["access_token"])).json() == {
        "active": False
    }
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url) as http:
        called = await http.get("/contacts/", headers=bearer(token["access_token"]))
    assert called.status_code == 401
    # Revoking again, or a token that never existed, is still a success (RFC 7009 2.2).
    again = await oauth.revoke_token(f"{server.base_url}/oauth/revoke", token="whatever")
    assert again.status_code == 200


async def test_public_client_uses_pkce_alone(
    server: LiveServer, db: Database, tenant: Tenant
) -> None:
    app = await register_app(db, tenant.company_id, public=True)
    assert app.client_secret is None
    email = await add_user(db, tenant.location_id)
    async with oauth_client(app) as oauth:
        token = await dance(oauth, server, email, choice=tenant.location_id)
        async with httpx.AsyncClient(
            timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url
        ) as http:
            listed = await http.get("/contacts/", headers=bearer(token["access_token"]))
        assert listed.status_code == 200, listed.text
        refreshed = await oauth.refresh_token(
            f"{server.base_url}/oauth/token", refresh_token=str(token["refresh_token"])
        )
        assert refreshed["access_token"] != token["access_token"]


async def test_sdk_refresh_helper_posts_camel_case(
    server: LiveServer,
    db: Database,
    tenant: Tenant,
    app: App,
    oauth: AsyncOAuth2Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HighLevel's SDK 3.x refreshes with clientId/refreshToken/...; the server accepts them."""
    email = await add_user(db, tenant.location_id)
    token = await dance(oauth, server, email, choice=tenant.location_id)
    monkeypatch.setattr(HighLevel, "BASE_URL", server.base_url)
    ghl = HighLevel(client_id=app.client_id, client_secret=app.client_secret, log_level="none")
    try:
        assert app.client_secret is not None
        with warnings.catch_warnings():
            # The SDK posts a pre-encoded string as `data`, which httpx deprecates (upstream).
            warnings.filterwarnings("ignore", "Use 'content=<...>'", DeprecationWarning)
            refreshed = await ghl.oauth.refresh_token(
                str(token["refresh_token"]),
                app.client_id,
                app.client_secret,
                "refresh_token",
                "Location",
            )
    finally:
        await ghl.close()
    assert str(refreshed["access_token"]).startswith("cf_oat_")
    assert refreshed["locationId"] == tenant.location_id
