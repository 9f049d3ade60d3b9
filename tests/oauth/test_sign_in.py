"""One sign-in for the dashboard and the consent page: a person signed in to the dashboard
sees the consent form at once; one who is not goes through the dashboard's sign-in page and
comes back to the same authorization request (and to no other site); the consent form
takes only its own session's CSRF token, and signing out of the dashboard ends consent."""

import re
from urllib.parse import parse_qs, urlsplit

from authlib.common.security import generate_token

from contactflow.platform.db import Database
from tests.oauth.support import (
    App,
    add_user,
    oauth_client,
    redirect_params,
    register_app,
    sign_in,
)
from tests.support import LiveServer, Tenant

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _app(db: Database, tenant: Tenant) -> App:
    return await register_app(db, tenant.company_id)


async def test_a_dashboard_session_sees_the_consent_page_directly(
    server: LiveServer, db: Database, tenant: Tenant
) -> None:
    app, email = await _app(db, tenant), await add_user(db, tenant.location_id)
    async with oauth_client(app) as browser:
        signed_in = await sign_in(browser, server, email, "/app/login")
        assert signed_in.headers["location"] == "/app/"
        url, _ = browser.create_authorization_url(
            f"{server.base_url}/oauth/authorize", code_verifier=generate_token(48)
        )
        consent = await browser.request("GET", url, withhold_token=True)
        assert consent.status_code == 200, consent.text
        assert email in consent.text
        assert "Allow" in consent.text
        switch = re.search(r'href="(/app/login\?next=[^"]+)"', consent.text)
        assert switch is not None, "a way to sign in as someone else"
        assert "no-store" in consent.headers["cache-control"]


async def test_sign_in_first_then_back_to_the_request_and_nowhere_else(
    server: LiveServer, db: Database, tenant: Tenant
) -> None:
    app, email = await _app(db, tenant), await add_user(db, tenant.location_id)
    async with oauth_client(app) as browser:
        url, _ = browser.create_authorization_url(
            f"{server.base_url}/oauth/authorize", code_verifier=generate_token(48)
        )
        sent = await browser.request("GET", url, withhold_token=True)
        assert sent.status_code == 303
        sign_in_page = urlsplit(sent.headers["location"])
        assert sign_in_page.path == "/app/login"
        back_to = parse_qs(sign_in_page.query)["next"][0]
        requested = urlsplit(url)
        assert back_to == f"{requested.path}?{requested.query}"
        # A tampered `next` naming another site lands on the dashboard instead.
        tampered = f"/app/login?next=//evil.example{back_to}"
        signed_in = await sign_in(browser, server, email, tampered)
        assert signed_in.headers["location"] == "/app/"
        signed_in = await sign_in(browser, server, email, sent.headers["location"])
        assert signed_in.headers["location"] == back_to


async def test_consent_takes_only_its_sessions_token_and_ends_with_the_session(
    server: LiveServer, db: Database, tenant: Tenant
) -> None:
    app = await _app(db, tenant)
    first, second = await add_user(db, tenant.location_id), await add_user(db, tenant.location_id)
    async with oauth_client(app) as other:
        await sign_in(other, server, second, "/app/login")
        url, state = other.create_authorization_url(
            f"{server.base_url}/oauth/authorize", code_verifier=generate_token(48)
        )
        others_page = await other.request("GET", url, withhold_token=True)
        others_token = CSRF.search(others_page.text)
        assert others_token is not None
    async with oauth_client(app) as browser:
        await sign_in(browser, server, first, "/app/login")
        answer = {"decision": "allow", "location": tenant.location_id}
        forged = await browser.request(
            "POST", url, data={**answer, "csrf_token": others_token.group(1)}, withhold_token=True
        )
        assert forged.status_code == 400
        assert "the form is stale" in forged.text
        page = await browser.request("GET", url, withhold_token=True)
        token = CSRF.search(page.text)
        assert token is not None
        account = await browser.request(
            "GET", f"{server.base_url}/app/account", withhold_token=True
        )
        dashboard_token = CSRF.search(account.text)
        assert dashboard_token is not None
        out = await browser.request(
            "POST",
            f"{server.base_url}/app/logout",
            data={"csrf_token": dashboard_token.group(1)},
            withhold_token=True,
        )
        assert out.status_code == 303
        again = await browser.request("GET", url, withhold_token=True)
        assert again.status_code == 303
        assert again.headers["location"].startswith("/app/login?next=")
        stale = await browser.request(
            "POST", url, data={**answer, "csrf_token": token.group(1)}, withhold_token=True
        )
        assert stale.status_code == 400
        await sign_in(browser, server, first, "/app/login")
        page = await browser.request("GET", url, withhold_token=True)
        token = CSRF.search(page.text)
        assert token is not None
        allowed = await browser.request(
            "POST", url, data={**answer, "csrf_token": token.group(1)}, withhold_token=True
        )
        assert redirect_params(allowed)["state"] == state
