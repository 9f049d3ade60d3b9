"""The connections page over HTTP: the wizards (an API key tested per scope before it is
saved, OAuth, HTTP), test, rename, delete refused while a published flow uses the
connection, the start of an OAuth authorization, and tenancy and CSRF of each action."""

from urllib.parse import parse_qs, urlsplit

import httpx

from contactflow.platform.db import Database
from tests.flows.helpers import Hub, Json
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, make_tenant
from tests.web.helpers import browser, make_person, signed_in

HOSTILE = '"><img src=x onerror=alert(1)>'


async def _connections(hub: Hub) -> list[Json]:
    listed: list[Json] = (await hub.get("/connections"))["connections"]
    return [row for row in listed if not row["builtin"]]


async def test_an_api_key_is_tested_per_scope_before_it_is_saved(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    remote = await make_tenant(web_db, scopes=("contacts.readonly",))
    person = await make_person(web_db, web_tenant.location_id)
    wizard = f"/app/l/{web_tenant.location_id}/connections/new/apikey"
    form = {
        "name": "Their contacts",
        "baseUrl": web_server.base_url,
        "locationId": remote.location_id,
        "apiKey": remote.key,
        "scopes": ["contacts.readonly", "contacts.write"],
    }
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        refused = await http.post(wizard, data={**form, "csrf_token": token})
        assert refused.status_code == 422, refused.text
        assert "Not saved" in refused.text
        assert 'contacts.readonly: <span class="state state-succeeded">ok' in refused.text
        assert 'contacts.write: <span class="state state-failed">refused</span> (401)' in (
            refused.text
        )
        assert remote.key not in refused.text
        assert await _connections(web_hub) == []

        missing = await http.post(
            wizard,
            data={**form, "baseUrl": "", "scopes": ["contacts.readonly"], "csrf_token": token},
        )
        assert missing.status_code == 422
        assert 'id="apikey-baseUrl-error">required for a contacts connection<' in missing.text

        saved = await http.post(
            wizard, data={**form, "scopes": ["contacts.readonly"], "csrf_token": token}
        )
        assert saved.status_code == 303, saved.text
    [row] = await _connections(web_hub)
    assert (row["name"], row["kind"], row["auth"], row["scopes"]) == (
        "Their contacts",
        "contacts",
        "apiKey",
        ["contacts.readonly"],
    )
    assert saved.headers["location"].startswith(
        f"/app/l/{web_tenant.location_id}/connections?added={row['id']}"
    )


async def test_http_connection_is_tested_renamed_and_deleted_unless_a_flow_uses_it(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    page = f"/app/l/{web_tenant.location_id}/connections"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        bad = await http.post(
            f"{page}/new/http",
            data={"name": "Status", "baseUrl": "ftp://x", "auth": "bearer", "csrf_token": token},
        )
        assert bad.status_code == 422
        assert 'id="http-baseUrl-error"' in bad.text
        form = {
            "name": "Status",
            "baseUrl": f"{web_server.base_url}/contacts",
            "auth": "bearer",
            "token": web_tenant.key,
            "csrf_token": token,
        }
        assert (await http.post(f"{page}/new/http", data=form)).status_code == 303
        [row] = await _connections(web_hub)
        one = f"{page}/{row['id']}"

        tested = await http.post(f"{one}/test", data={"csrf_token": token})
        assert tested.status_code == 200
        assert 'request: <span class="state state-succeeded">ok' in tested.text

        empty = await http.post(f"{one}/rename", data={"name": " ", "csrf_token": token})
        assert empty.status_code == 422
        assert f'id="rename-{row["id"]}-error"' in empty.text
        renamed = await http.post(f"{one}/rename", data={"name": HOSTILE, "csrf_token": token})
        assert renamed.status_code == 303
        listed = (await http.get(page)).text
        assert "<img" not in listed
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in listed

        call = {"url": "/", "connectionId": row["id"]}
        definition: Json = {
            "trigger": {"key": "core.manual"},
            "steps": [
                {"type": "action", "id": "call", "action": "core.http.request", "input": call}
            ],
        }
        flow = await web_hub.flow(definition, name="Uses <status>")
        refused = await http.post(f"{one}/delete", data={"csrf_token": token})
        assert refused.status_code == 409
        assert "used by published flows: &#39;Uses &lt;status&gt;&#39;" in refused.text
        assert len(await _connections(web_hub)) == 1
        await web_hub.call("DELETE", f"/flows/{flow['id']}", 204)
        deleted = await http.post(f"{one}/delete", data={"csrf_token": token})
        assert deleted.status_code == 303
    assert await _connections(web_hub) == []


async def test_connect_starts_the_oauth_authorization(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    page = f"/app/l/{web_tenant.location_id}/connections"
    authorize = f"{web_server.base_url}/oauth/chooselocation"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        form = {
            "name": "By OAuth",
            "baseUrl": web_server.base_url,
            "clientId": "client-1",
            "clientSecret": "client-secret-1",
            "authorizeUrl": authorize,
            "tokenUrl": f"{web_server.base_url}/oauth/token",
            "scopes": ["contacts.readonly"],
            "csrf_token": token,
        }
        assert (await http.post(f"{page}/new/oauth", data=form)).status_code == 303
        [row] = await _connections(web_hub)
        listed = (await http.get(page)).text
        assert f'href="{page}/{row["id"]}/connect">Connect<' in listed
        started = await http.get(f"{page}/{row['id']}/connect")
    assert started.status_code == 303
    target = urlsplit(started.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == authorize
    query = parse_qs(target.query)
    assert query["client_id"] == ["client-1"]
    assert query["scope"] == ["contacts.readonly"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"][0].endswith("/connections/oauth/callback")


async def test_actions_on_another_locations_connection_are_404_and_need_csrf(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    other = await make_tenant(web_db)
    body = {"name": "Theirs", "kind": "http", "auth": "none", "baseUrl": "http://127.0.0.1:9/"}
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=web_server.base_url, headers=other.headers
    ) as api:
        theirs = (await api.post("/connections", json=body)).json()["connection"]["id"]
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}/connections"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        for action in ("test", "rename", "delete"):
            response = await http.post(
                f"{ours}/{theirs}/{action}", data={"name": "Mine", "csrf_token": token}
            )
            assert response.status_code == 404, action
        assert (await http.get(f"{ours}/{theirs}/connect")).status_code == 404
        assert (
            await http.post(f"{ours}/new/nothing", data={"csrf_token": token})
        ).status_code == 404
        for action in ("new/http", f"{theirs}/delete"):
            assert (await http.post(f"{ours}/{action}", data={"name": "x"})).status_code == 403
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=web_server.base_url, headers=other.headers
    ) as api:
        assert (await api.get(f"/connections/{theirs}")).json()["connection"]["name"] == "Theirs"
