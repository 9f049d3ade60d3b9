"""The OAuth apps pages over HTTP: an app registered with its redirect URIs checked (each bad
one named beside the field), its client secret shown once and not on reload and accepted by
/oauth/token, a public app without one, an app changed, and the pages for company admins only:
404 for anyone else and across companies, 403 without CSRF."""

import re

from contactflow.platform.db import Database
from tests.support import LiveServer, Tenant, api_client, make_tenant
from tests.web.helpers import browser, make_person, second_location, signed_in

HOSTILE = '"><img src=x onerror=alert(1)>'
SECRET = re.compile(r'<code id="client-secret">([^<]+)</code>')


def app_form(token: str, **fields: str | list[str]) -> dict[str, str | list[str]]:
    base: dict[str, str | list[str]] = {
        "name": "Reports",
        "redirectUris": "https://reports.example.org/callback",
        "scope": ["oauth.readonly", "contacts.readonly"],
        "csrf_token": token,
    }
    return {**base, **fields}


async def token_status(server: LiveServer, client_id: str, secret: str) -> int:
    async with api_client(server.base_url, {}) as http:
        answer = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "oauth.readonly"},
            auth=(client_id, secret),
        )
    return answer.status_code


async def test_an_app_is_registered_with_its_secret_shown_once_and_changed(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    admin = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}/apps"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, admin)
        empty = await http.get(ours)
        assert "No apps yet" in empty.text
        assert f'<a href="{ours}">OAuth apps</a>' in empty.text
        form = await http.get(f"{ours}/new")
        assert "<legend>Company OAuth tokens</legend>" in form.text

        for fields, field, reason in (
            ({"name": " "}, "name", "must not be empty"),
            ({"redirectUris": ""}, "redirectUris", "at least one is required"),
            (
                {"redirectUris": "https://ok.example/cb\nhttp://evil.example/cb"},
                "redirectUris",
                "&#39;http://evil.example/cb&#39;: must use https",
            ),
            ({"redirectUris": "https://ok.example/cb#x"}, "redirectUris", "&#39;https://ok"),
            ({"scope": []}, "scope", "at least one scope is required"),
            ({"allowedIps": "10.0.0.1\nnope"}, "allowedIps", "entry 2: not an IP address"),
        ):
            refused = await http.post(f"{ours}/new", data=app_form(token, **fields))
            assert refused.status_code == 422, (fields, refused.text)
            assert f'id="app-{field}-error">{reason}' in refused.text, (fields, refused.text)
        assert "No apps yet" in (await http.get(ours)).text

        added = await http.post(
            f"{ours}/new",
            data=app_form(
                token,
                name=HOSTILE,
                redirectUris="https://reports.example.org/callback\nhttp://127.0.0.1:8765/cb",
            ),
        )
        assert added.status_code == 200, added.text
        app_id = added.headers["hx-push-url"].rsplit("/", 1)[1]
        assert added.headers["hx-push-url"] == f"{ours}/{app_id}"
        found = SECRET.search(added.text)
        assert found is not None
        secret = found.group(1)
        assert "<img" not in added.text
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in added.text
        assert await token_status(web_server, app_id, secret) == 200
        assert await token_status(web_server, app_id, secret + "x") == 401

        page = await http.get(f"{ours}/{app_id}")
        assert secret not in page.text
        assert 'id="client-secret"' not in page.text
        assert "http://127.0.0.1:8765/cb" in page.text
        listed = await http.get(ours)
        assert f'data-app-id="{app_id}"' in listed.text
        assert "<img" not in listed.text

        edit = f"{ours}/{app_id}/edit"
        assert (
            "https://reports.example.org/callback\nhttp://127.0.0.1" in (await http.get(edit)).text
        )
        refused = await http.post(edit, data=app_form(token, redirectUris="ftp://x.example/"))
        assert refused.status_code == 422
        assert 'id="app-redirectUris-error">&#39;ftp://x.example/&#39;: must use https' in (
            refused.text
        )
        saved = await http.post(
            edit, data=app_form(token, name="Reports v2", redirectUris="https://v2.example.org/cb")
        )
        assert saved.headers["location"] == f"{ours}/{app_id}?done=saved"
        page = await http.get(saved.headers["location"])
        assert "Saved the app." in page.text
        assert "<h1>Reports v2</h1>" in page.text
        assert "https://v2.example.org/cb" in page.text
        assert "reports.example.org" not in page.text
        assert secret not in page.text
        assert await token_status(web_server, app_id, secret) == 200

        public = await http.post(f"{ours}/new", data=app_form(token, public="on"))
        assert public.status_code == 200
        assert 'id="client-secret"' not in public.text
        assert "public: no secret" in public.text


async def test_app_pages_are_for_company_admins_and_404_across_companies(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    other = await make_tenant(web_db)
    theirs_admin = await make_person(web_db, other.location_id)
    admin = await make_person(web_db, web_tenant.location_id)
    sibling = await second_location(web_db, web_tenant)
    user = await make_person(web_db, web_tenant.location_id, role="user")
    ours = f"/app/l/{web_tenant.location_id}/apps"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, theirs_admin)
        added = await http.post(
            f"/app/l/{other.location_id}/apps/new", data=app_form(token, name="Theirs")
        )
        theirs = added.headers["hx-push-url"].rsplit("/", 1)[1]
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, admin)
        added = await http.post(f"{ours}/new", data=app_form(token))
        mine = added.headers["hx-push-url"].rsplit("/", 1)[1]
        # The company's apps, from any of its locations.
        assert (await http.get(f"/app/l/{sibling}/apps/{mine}")).status_code == 200
        for path in (
            f"{ours}/{theirs}",
            f"{ours}/{theirs}/edit",
            f"/app/l/{other.location_id}/apps",
        ):
            assert (await http.get(path)).status_code == 404, path
        moved = await http.post(f"{ours}/{theirs}/edit", data=app_form(token, name="Mine now"))
        assert moved.status_code == 404
        assert (await http.post(f"{ours}/{mine}/edit", data={"name": "x"})).status_code == 403
        assert (await http.post(f"{ours}/new", data={"name": "x"})).status_code == 403
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, user)
        flows = await http.get(f"/app/l/{web_tenant.location_id}/flows")
        assert "OAuth apps" not in flows.text
        for path in (ours, f"{ours}/new", f"{ours}/{mine}", f"{ours}/{mine}/edit"):
            assert (await http.get(path)).status_code == 404, path
        refused = await http.post(f"{ours}/new", data=app_form(token))
        assert refused.status_code == 404
    async with browser(web_server.base_url) as http:
        await signed_in(http, theirs_admin)
        assert (
            "<h1>Theirs</h1>" in (await http.get(f"/app/l/{other.location_id}/apps/{theirs}")).text
        )
