"""What the authorization server refuses, and how: PKCE rules, redirect URIs, scopes,
malformed token requests, code reuse, the app's IP allowlist, expired tokens."""

import asyncio
import re
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from contactflow.platform import audit
from contactflow.platform.db import Database
from tests.conftest import TenantFactory
from tests.oauth.support import (
    REDIRECT_URI,
    App,
    add_user,
    bearer,
    dance,
    oauth_client,
    redirect_params,
    register_app,
    sign_in,
    sign_in_and_consent,
)
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, live_server, server_settings


@pytest.fixture
async def app(db: Database, tenant: Tenant) -> App:
    return await register_app(db, tenant.company_id)


@pytest.fixture
async def oauth(app: App) -> AsyncIterator[AsyncOAuth2Client]:
    async with oauth_client(app) as client:
        yield client


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url) as plain:
        yield plain


def _authorize_url(server: LiveServer, app: App, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": " ".join(app.scopes),
        "state": "xyz",
        **params,
    }
    return f"{server.base_url}/oauth/authorize?{urlencode(query)}"


async def test_pkce_is_required_and_only_s256(
    server: LiveServer, app: App, http: httpx.AsyncClient
) -> None:
    verifier = generate_token(48)
    for params, reason in (
        ({}, "PKCE is required"),
        ({"code_challenge": verifier, "code_challenge_method": "plain"}, "must be S256"),
        ({"code_challenge": verifier}, "must be S256"),
    ):
        refused = await http.get(_authorize_url(server, app, **params))
        # The redirect URI is verified, so the error goes back to the app (RFC 6749 4.1.2.1).
        sent = redirect_params(refused)
        assert sent["error"] == "invalid_request"
        assert reason in sent["error_description"]
        assert sent["state"] == "xyz"


async def test_unregistered_redirect_uri_is_never_followed(
    server: LiveServer, app: App, http: httpx.AsyncClient
) -> None:
    url = _authorize_url(
        server,
        app,
        redirect_uri="http://127.0.0.1:9/elsewhere?<b>x</b>",
        code_challenge=generate_token(48),
        code_challenge_method="S256",
    )
    # An HTML page, as the sign-in and consent pages, whatever the client accepts; the
    # refused URI it names is escaped.
    for accept in ({}, {"Accept": "text/html"}, {"Accept": "application/json"}):
        refused = await http.get(url, headers=accept)
        assert refused.status_code == 400
        assert "location" not in refused.headers
        assert refused.headers["content-type"] == "text/html; charset=utf-8"
        assert refused.headers["x-frame-options"] == "DENY"
        assert "invalid_request" in refused.text
        assert "Redirect URI http://127.0.0.1:9/elsewhere?&lt;b&gt;x&lt;/b&gt; is not" in (
            refused.text
        )
        assert "<b>x</b>" not in refused.text
    unknown = await http.get(_authorize_url(server, App("nope", None, ())))
    assert unknown.status_code == 400
    assert unknown.headers["content-type"] == "text/html; charset=utf-8"
    assert "invalid_client" in unknown.text


async def test_scopes_beyond_the_app_are_refused(
    server: LiveServer, app: App, http: httpx.AsyncClient
) -> None:
    url = _authorize_url(
        server,
        app,
        scope="contacts.readonly webhooks.write",
        code_challenge=generate_token(48),
        code_challenge_method="S256",
    )
    assert redirect_params(await http.get(url))["error"] == "invalid_scope"


async def test_token_exchange_must_repeat_the_redirect_uri(
    server: LiveServer, db: Database, tenant: Tenant
) -> None:
    other = "http://127.0.0.1:9/other"
    app = await register_app(db, tenant.company_id, redirect_uris=(REDIRECT_URI, other))
    email = await add_user(db, tenant.location_id)
    async with oauth_client(app) as oauth:
        verifier = generate_token(48)
        url, _ = oauth.create_authorization_url(
            f"{server.base_url}/oauth/authorize", code_verifier=verifier
        )
        answer = await sign_in_and_consent(oauth, server, email, url, choice=tenant.location_id)
        with pytest.raises(OAuthError) as refused:
            await oauth.fetch_token(
                f"{server.base_url}/oauth/token",
                code=redirect_params(answer)["code"],
                code_verifier=verifier,
                redirect_uri=other,
            )
    assert refused.value.error == "invalid_grant"


async def test_scopes_can_only_shrink_on_refresh(
    server: LiveServer, db: Database, tenant: Tenant, oauth: AsyncOAuth2Client
) -> None:
    email = await add_user(db, tenant.location_id)
    token = await dance(oauth, server, email, choice=tenant.location_id)
    url = f"{server.base_url}/oauth/token"
    with pytest.raises(OAuthError) as grown:
        await oauth.refresh_token(
            url,
            refresh_token=str(token["refresh_token"]),
            scope="contacts.readonly contacts.write businesses.readonly",
        )
    assert grown.value.error == "invalid_scope"
    narrower = await oauth.refresh_token(
        url, refresh_token=str(token["refresh_token"]), scope="contacts.readonly"
    )
    assert narrower["scope"] == "contacts.readonly"
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url) as http:
        headers = bearer(narrower["access_token"])
        assert (await http.get("/contacts/", headers=headers)).status_code == 200
        write = await http.post("/contacts/", headers=headers, json={"firstName": "No"})
    assert write.status_code == 401
    assert "contacts.write" in write.json()["message"]
    with pytest.raises(OAuthError) as regrown:
        await oauth.refresh_token(
            url,
            refresh_token=str(narrower["refresh_token"]),
            scope="contacts.readonly contacts.write",
        )
    assert regrown.value.error == "invalid_scope"


async def test_malformed_token_requests_get_oauth_errors(
    server: LiveServer, app: App, http: httpx.AsyncClient
) -> None:
    credentials = {"client_id": app.client_id, "client_secret": app.client_secret or ""}
    code_grant = {**credentials, "grant_type": "authorization_code"}
    client_grant = {**credentials, "grant_type": "client_credentials"}
    cases: list[tuple[dict[str, str], int, str]] = [
        ({}, 400, "invalid_request"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({**credentials, "grant_type": "password"}, 400, "unsupported_grant_type"),
        (code_grant, 400, "invalid_request"),
        ({**code_grant, "code": "nope"}, 400, "invalid_grant"),
        # RFC 6749 5.2: 401 only when the client tried HTTP authentication.
        (
            {"grant_type": "authorization_code", "code": "x", "client_id": "no"},
            400,
            "invalid_client",
        ),
        ({**client_grant, "client_secret": "wrong"}, 401, "invalid_client"),
        (
            {**credentials, "grant_type": "refresh_token", "refresh_token": "x"},
            400,
            "invalid_grant",
        ),
        ({**client_grant, "user_type": "Nobody"}, 400, "invalid_request"),
        ({**credentials, "grant_type": "refresh_token\x00"}, 400, "invalid_request"),
        ({**code_grant, "code": "caf\u00e9"}, 400, "invalid_request"),
    ]
    for body, status, error in cases:
        answer = await http.post("/oauth/token", data=body)
        assert (answer.status_code, answer.json()["error"]) == (status, error), (body, answer.text)
        assert answer.headers["cache-control"] == "no-store"
    as_json = await http.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    for path in ("/oauth/revoke", "/oauth/introspect"):
        anonymous = await http.post(path, data={"token": "x"})
        assert (anonymous.status_code, anonymous.json()["error"]) == (401, "invalid_client")
        missing = await http.post(path, data=credentials)
        assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")


async def test_a_code_works_once_and_its_reuse_revokes_what_it_issued(
    server: LiveServer, db: Database, tenant: Tenant, oauth: AsyncOAuth2Client
) -> None:
    email = await add_user(db, tenant.location_id)
    verifier = generate_token(48)
    url, _ = oauth.create_authorization_url(
        f"{server.base_url}/oauth/authorize", code_verifier=verifier
    )
    answer = await sign_in_and_consent(oauth, server, email, url, choice=tenant.location_id)
    exchange = {"code": redirect_params(answer)["code"], "code_verifier": verifier}
    token_url = f"{server.base_url}/oauth/token"
    token = await oauth.fetch_token(token_url, **exchange)
    with pytest.raises(OAuthError) as again:
        await oauth.fetch_token(token_url, **exchange)
    assert again.value.error == "invalid_grant"
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url) as http:
        called = await http.get("/contacts/", headers=bearer(token["access_token"]))
    assert called.status_code == 401
    async with db.reader() as session:
        action = audit.AUTHORIZATION_CODE_REUSED
        assert await audit.entries(session, tenant.location_id, limit=5, action=action)


async def test_wrong_verifier_wrong_user_type_and_denial(
    server: LiveServer, db: Database, tenant: Tenant, oauth: AsyncOAuth2Client
) -> None:
    email = await add_user(db, tenant.location_id)
    token_url = f"{server.base_url}/oauth/token"
    verifier = generate_token(48)
    url, _ = oauth.create_authorization_url(
        f"{server.base_url}/oauth/authorize", code_verifier=verifier
    )
    answer = await sign_in_and_consent(oauth, server, email, url, choice=tenant.location_id)
    code = redirect_params(answer)["code"]
    with pytest.raises(OAuthError) as mismatched:
        await oauth.fetch_token(token_url, code=code, code_verifier=generate_token(48))
    assert mismatched.value.error == "invalid_grant"
    with pytest.raises(OAuthError) as wrong_type:
        await oauth.fetch_token(token_url, code=code, code_verifier=verifier, user_type="Company")
    assert wrong_type.value.error == "invalid_request"

    url, state = oauth.create_authorization_url(
        f"{server.base_url}/oauth/authorize", code_verifier=verifier
    )
    denied = await sign_in_and_consent(
        oauth, server, email, url, choice=tenant.location_id, decision="deny"
    )
    assert redirect_params(denied) == {
        "error": "access_denied",
        "error_description": "The resource owner or authorization server denied the request",
        "state": state,
    }


async def test_wrong_password_and_stale_consent_form(
    server: LiveServer, db: Database, tenant: Tenant, app: App, http: httpx.AsyncClient
) -> None:
    email = await add_user(db, tenant.location_id)
    url = _authorize_url(
        server, app, code_challenge=generate_token(48), code_challenge_method="S256"
    )
    sign_in_first = await http.get(url)
    assert sign_in_first.status_code == 303
    form = await http.get(sign_in_first.headers["location"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    wrong = await http.post(
        "/app/login",
        data={"email": email, "password": "not it", "csrf_token": token.group(1), "next": url},
    )
    assert wrong.status_code == 400
    assert "Wrong email or password" in wrong.text
    assert "cf_session" not in wrong.headers.get("set-cookie", "")
    forged = await http.post(url, data={"decision": "allow", "location": tenant.location_id})
    assert forged.status_code == 400
    assert forged.headers["content-type"] == "text/html; charset=utf-8"
    assert "invalid_request" in forged.text
    assert "the form is stale" in forged.text


async def test_the_apps_ip_allowlist_applies_to_its_tokens(
    server: LiveServer, db: Database, tenant: Tenant
) -> None:
    app = await register_app(db, tenant.company_id, allowed_ips=("10.1.0.0/16",))
    email = await add_user(db, tenant.location_id)
    async with oauth_client(app) as oauth:
        token = await dance(oauth, server, email, choice=tenant.location_id)
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url) as http:
        refused = await http.get("/contacts/", headers=bearer(token["access_token"]))
    assert refused.status_code == 403
    assert refused.json()["message"] == "Requests from 127.0.0.1 are not allowed for this token"
    async with db.reader() as session:
        entries = await audit.entries(session, tenant.location_id, limit=5, action=audit.REFUSED_IP)
    assert entries[0].actor.startswith("oauth_token:")


async def test_an_expired_access_token_is_refused(
    database_url: str, db: Database, tenant: Tenant, app: App
) -> None:
    # Long enough for the first use to land in time on a loaded machine.
    lifetime = 5
    settings = server_settings(database_url, oauth_access_token_seconds=lifetime)
    email = await add_user(db, tenant.location_id)
    with live_server(settings) as short_lived:
        async with oauth_client(app) as oauth:
            token = await dance(oauth, short_lived, email, choice=tenant.location_id)
        assert token["expires_in"] == lifetime
        async with httpx.AsyncClient(
            timeout=CLIENT_TIMEOUT_SECONDS, base_url=short_lived.base_url
        ) as http:
            assert (await http.get("/contacts/", headers=bearer(token["access_token"]))).is_success
            deadline = time.monotonic() + lifetime + 30
            while True:
                expired = await http.get("/contacts/", headers=bearer(token["access_token"]))
                if expired.is_error or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
    assert expired.status_code == 401
    assert expired.json()["message"] == "The token has expired"


async def test_only_the_apps_company_is_offered(
    server: LiveServer, db: Database, tenant: Tenant, app: App, new_tenant: TenantFactory
) -> None:
    """A non-admin is offered their own location only; a user of another company, nothing."""
    outsider = await new_tenant()
    plain_user = await add_user(db, tenant.location_id, role="user")
    stranger = await add_user(db, outsider.location_id)
    for email, offered in ((plain_user, True), (stranger, False)):
        async with oauth_client(app) as oauth:
            url, _ = oauth.create_authorization_url(
                f"{server.base_url}/oauth/authorize", code_verifier=generate_token(48)
            )
            sign_in_first = await oauth.request("GET", url, withhold_token=True)
            await sign_in(oauth, server, email, sign_in_first.headers["location"])
            page = await oauth.request("GET", url, withhold_token=True)
        assert (f'value="{tenant.location_id}"' in page.text) is offered
        assert 'value="company"' not in page.text
        assert ("registered for another company" in page.text) is not offered


async def test_plain_http_is_refused_off_loopback(
    database_url: str, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """Authlib refuses OAuth over plain http except on loopback; behind a trusted TLS proxy,
    the proxy's X-Forwarded-Proto says the client's leg was https."""
    form = {"grant_type": "client_credentials"}
    public_host = {"Host": "api.example.com", "X-Forwarded-Proto": "https"}
    refused = await http.post("/oauth/token", data=form, headers=public_host)
    assert (refused.status_code, refused.json()["error"]) == (400, "insecure_transport")
    with live_server(server_settings(database_url, trust_proxy=True)) as proxied:
        async with httpx.AsyncClient(
            timeout=CLIENT_TIMEOUT_SECONDS, base_url=proxied.base_url
        ) as behind_proxy:
            answered = await behind_proxy.post("/oauth/token", data=form, headers=public_host)
    assert (answered.status_code, answered.json()["error"]) == (401, "invalid_client")
