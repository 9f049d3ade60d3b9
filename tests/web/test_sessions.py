"""Signing in to the dashboard over HTTP: server-side sessions in HttpOnly cookies, a new
session id at each sign-in, expiry after inactivity, sign-out (here and everywhere), the
throttle on failed sign-ins, and CSRF: a request that changes something without the token,
or from another site, is refused with 403."""

import re
from datetime import timedelta

import httpx
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from contactflow.app import create_app
from contactflow.platform.auth.sessions import ACCOUNT_FAILURES, IDLE, WebSession
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, live_server
from tests.web.helpers import (
    browser,
    csrf_of,
    make_person,
    session_cookie,
    set_last_use,
    sign_in,
    signed_in,
)


async def test_sign_in_sets_a_session_cookie_and_sign_out_ends_it(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    async with browser(web_server.base_url) as http:
        assert (await http.get("/app/account")).headers["location"] == (
            "/app/login?next=%2Fapp%2Faccount"
        )
        response = await sign_in(http, person.email, person.password)
        assert response.status_code == 303
        cookie = session_cookie(response)
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        # Sent to the OAuth consent page too: one sign-in for both.
        assert "path=/;" in cookie or cookie.endswith("path=/")
        assert "secure" not in cookie  # plain http here; tests/security covers https
        home = await http.get("/app/")
        assert home.headers["location"] == f"/app/l/{web_tenant.location_id}/overview"
        flows = await http.get(f"/app/l/{web_tenant.location_id}/flows")
        assert flows.status_code == 200
        assert "No flows yet" in flows.text
        assert flows.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in flows.headers["content-security-policy"]
        token = csrf_of(flows.text)
        out = await http.post("/app/logout", data={"csrf_token": token})
        assert (out.status_code, out.headers["location"]) == (303, "/app/login")
        again = await http.get(f"/app/l/{web_tenant.location_id}/flows")
        assert again.status_code == 303
        assert again.headers["location"].startswith("/app/login")


async def test_sign_in_goes_on_to_local_paths_only(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    authorize = "/oauth/authorize?client_id=x&scope=contacts.readonly"
    for asked, landing in (
        ("/app/account", "/app/account"),
        (authorize, authorize),
        ("https://evil.example/app/", "/app/"),
        ("//evil.example/", "/app/"),
        ("/\\evil.example/", "/app/"),
        ("/\t/evil.example/", "/app/"),
        ("\n//evil.example/", "/app/"),
        ("javascript:alert(1)", "/app/"),
        ("evil.example", "/app/"),
    ):
        async with browser(web_server.base_url) as http:
            page = await http.get("/app/login", params={"next": asked})
            form = {
                "email": person.email,
                "password": person.password,
                "csrf_token": csrf_of(page.text),
                "next": asked,
            }
            response = await http.post("/app/login", data=form)
            assert response.headers["location"] == landing


async def test_a_wrong_password_is_refused_beside_the_form(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    async with browser(web_server.base_url) as http:
        response = await sign_in(http, person.email, "not the password")
        assert response.status_code == 400
        assert "Wrong email or password" in response.text
        assert session_cookie(response) == ""
        empty = await sign_in(http, "", "x")
        assert empty.status_code == 422
        assert "Enter the email address" in empty.text


async def test_a_planted_session_id_is_replaced_at_sign_in(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    attacker = await make_person(web_db, web_tenant.location_id)
    victim = await make_person(web_db, web_tenant.location_id)
    async with browser(web_server.base_url) as http:
        await signed_in(http, attacker)
        planted = http.cookies["cf_session"]
    async with browser(web_server.base_url) as http:
        http.cookies.set("cf_session", planted, domain="127.0.0.1", path="/")
        response = await sign_in(http, victim.email, victim.password)
        assert response.status_code == 303
        fresh = http.cookies["cf_session"]
        assert fresh != planted
        assert victim.email in (await http.get("/app/account")).text
    # The planted id opens nothing any more: not the victim's session, not the attacker's.
    async with browser(web_server.base_url) as http:
        http.cookies.set("cf_session", planted, domain="127.0.0.1", path="/")
        assert (await http.get("/app/account")).status_code == 303


async def test_a_session_expires_after_inactivity(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        await set_last_use(web_db, person.user_id, utcnow() - IDLE + timedelta(minutes=5))
        assert (await http.get("/app/account")).status_code == 200
        await set_last_use(web_db, person.user_id, utcnow() - IDLE - timedelta(minutes=1))
        assert (await http.get("/app/account")).status_code == 303
        # Signing in again leaves only the new session: the ended one is deleted.
        await signed_in(http, person)
    async with web_db.reader() as session:
        mine = select(WebSession.id).where(WebSession.user_id == person.user_id)
        assert len(list(await session.scalars(mine))) == 1


async def test_sessions_are_listed_and_signed_out_everywhere(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    async with (
        browser(web_server.base_url, **{"User-Agent": "laptop"}) as laptop,
        browser(web_server.base_url, **{"User-Agent": "phone"}) as phone,
    ):
        token = await signed_in(laptop, person)
        await signed_in(phone, person)
        listed = (await laptop.get("/app/account")).text
        assert "laptop" in listed
        assert "phone" in listed
        assert "127.0.0.1" in listed
        out = await laptop.post("/app/account/sign-out-everywhere", data={"csrf_token": token})
        assert out.status_code == 303
        assert (await phone.get("/app/account")).status_code == 303
        assert (await laptop.get("/app/account")).status_code == 303


async def test_requests_without_the_csrf_token_or_from_another_site_are_refused(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        missing = await http.post("/app/logout", data={})
        wrong = await http.post("/app/logout", data={"csrf_token": "0" * 64})
        cross = await http.post(
            "/app/logout", data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        del http.headers["Sec-Fetch-Site"]
        other_origin = await http.post(
            "/app/logout", data={"csrf_token": token}, headers={"Origin": "http://evil.example"}
        )
        for refused in (missing, wrong, cross, other_origin):
            assert refused.status_code == 403, refused.text
        # Still signed in: none of them did anything.
        assert (await http.get("/app/account")).status_code == 200
        # htmx sends the token as a header.
        out = await http.post("/app/logout", headers={"X-CSRF-Token": token})
        assert out.status_code == 303


async def test_the_sign_in_form_needs_its_own_token(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    async with browser(web_server.base_url) as http:
        form = {"email": person.email, "password": person.password, "csrf_token": "forged"}
        response = await http.post("/app/login", data=form)
        assert response.status_code == 403
        assert "cf_session" not in http.cookies


async def test_failed_sign_ins_are_throttled_per_account_and_per_address(
    web_settings: Settings, web_db: Database, web_tenant: Tenant
) -> None:
    """Behind a trusted proxy each test client has an address of its own."""
    proxied = web_settings.model_copy(update={"trust_proxy": True, "embedded_workers": False})
    person = await make_person(web_db, web_tenant.location_id)
    with live_server(proxied) as server:
        async with browser(server.base_url, **{"X-Forwarded-For": "198.51.100.7"}) as http:
            for _ in range(ACCOUNT_FAILURES):
                assert (await sign_in(http, person.email, "wrong password")).status_code == 400
            # Now even the right password waits: the account is throttled.
            throttled = await sign_in(http, person.email, person.password)
            assert throttled.status_code == 429
            assert "Too many failed sign-ins" in throttled.text
        async with browser(server.base_url, **{"X-Forwarded-For": "198.51.100.8"}) as http:
            # From another address, still the account's throttle ...
            assert (await sign_in(http, person.email, person.password)).status_code == 429
        other = await make_person(web_db, web_tenant.location_id)
        async with browser(server.base_url, **{"X-Forwarded-For": "203.0.113.9"}) as http:
            # ... and one address guessing many accounts is throttled too.
            for number in range(20):
                response = await sign_in(http, f"nobody{number}@x.example", "guess")
                assert response.status_code == 400
            assert (await sign_in(http, other.email, other.password)).status_code == 429
        async with browser(server.base_url, **{"X-Forwarded-For": "203.0.113.10"}) as http:
            assert (await sign_in(http, other.email, other.password)).status_code == 303
        # Over https (at the trusted proxy) the cookies are Secure.
        https = {"X-Forwarded-For": "203.0.113.11", "X-Forwarded-Proto": "https"}
        async with browser(server.base_url, **https) as http:
            page = await http.get("/app/login")
            assert "secure" in page.headers["set-cookie"].lower()
            token = csrf_of(page.text)
            form = {"email": other.email, "password": other.password, "csrf_token": token}
            signed = await http.post(
                "/app/login", data=form, headers={"Cookie": f"cf_login={token}"}
            )
            assert signed.status_code == 303
            assert "secure" in session_cookie(signed)


async def test_unknown_paths_under_app_and_static_files(web_server: LiveServer) -> None:
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=web_server.base_url
    ) as http:
        script = await http.get("/app/static/vendor/htmx-2.0.11.min.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        login = await http.get("/app/login")
        assert 'name="htmx-config"' in login.text
        assert "<script>" not in login.text
        assert "style=" not in login.text


async def test_every_dashboard_route_but_sign_in_and_invitations_wants_a_session(
    web_server: LiveServer,
) -> None:
    """Read from the app, so a page added later is covered too."""
    app = create_app(web_server.settings)
    served = [
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path is not None and route.path.startswith("/app/")
        for method in sorted((route.methods or set()) - {"HEAD"})
    ]
    assert len(served) >= 12
    assert not [path for path in app.openapi()["paths"] if path.startswith("/app")]
    async with browser(web_server.base_url) as http:
        for method, path in served:
            concrete = re.sub(r"\{[^}]+\}", "someId0000000000000000001", path)
            response = await http.request(method, concrete)
            if path == "/app/login":
                assert response.status_code in (200, 403), (method, path)
            elif path == "/app/invite/{secret}" and method == "GET":
                # Opened before there is a session: an unknown link is refused as such.
                assert response.status_code == 404, path
            elif method == "GET":
                assert response.status_code == 303, (method, path)
                assert response.headers["location"].startswith("/app/login?next="), path
            else:
                assert response.status_code == 403, (method, path)
