"""An OAuth connection to a live server: the real consent dance (sign-in and consent forms),
then calls that keep working past the access token's lifetime, refreshing ahead of expiry and
after a 401, with each rotated refresh token stored encrypted."""

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import text, update

from contactflow.flows.connections.models import Connection
from contactflow.flows.connections.oauth_client import redirect_uri
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.flows.connections.conftest import ACCESS_TOKEN_SECONDS
from tests.flows.connections.helpers import stored
from tests.flows.helpers import Hub, Json
from tests.oauth.support import add_user, oauth_client, register_app, sign_in_and_consent
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant


async def _connected(
    hub: Hub, remote: LiveServer, db: Database, tenant: Tenant, callback: str
) -> str:
    """A connection authorized through the remote's sign-in and consent pages. `callback` is
    the connecting server's redirect URI (from its base URL setting, not where the test
    server listens: the test carries the redirect back itself)."""
    app = await register_app(db, tenant.company_id, redirect_uris=(callback,))
    assert app.client_secret is not None
    created = await hub.post(
        "/connections",
        {
            "name": "Remote account",
            "kind": "contacts",
            "auth": "oauth",
            "baseUrl": remote.base_url,
            "clientId": app.client_id,
            "clientSecret": app.client_secret,
            "authorizeUrl": f"{remote.base_url}/oauth/authorize",
            "tokenUrl": f"{remote.base_url}/oauth/token",
            "scopes": ["contacts.readonly", "contacts.write"],
        },
    )
    connection = created["connection"]
    assert app.client_secret not in str(created)
    assert connection["connected"] is False
    started = await hub.http.get(f"/connections/{connection['id']}/oauth/start")
    assert started.status_code == 302, started.text
    authorize = started.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [callback]
    email = await add_user(db, tenant.location_id)
    async with oauth_client(app) as browser:
        answer = await sign_in_and_consent(
            browser, remote, email, authorize, choice=tenant.location_id
        )
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    assert back.startswith(callback + "?"), back
    assert parse_qs(urlsplit(back).query)["state"] == query["state"]
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=str(hub.http.base_url)
    ) as browser_back:
        page = await browser_back.get(f"/connections/oauth/callback?{urlsplit(back).query}")
        assert page.status_code == 200, page.text
        assert "Connected" in page.text
        assert f'href="/app/l/{hub.tenant.location_id}/connections"' in page.text
        # The state is single-use.
        again = await browser_back.get(f"/connections/oauth/callback?{urlsplit(back).query}")
        assert again.status_code == 400, again.text
    return str(connection["id"])


async def _through(hub: Hub, action: str, values: Json) -> Json:
    """The output of a flow's one action, which succeeded."""
    step = {"type": "action", "id": "remote", "action": action, "input": values}
    flow = await hub.flow({"trigger": {"key": "core.manual"}, "steps": [step]}, name="Remote")
    await hub.post(f"/flows/{flow['id']}/run", {})
    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert run["state"] == "succeeded", detail
    output: Json = detail["steps"][0]["output"]
    return output


async def _stale_but_believed_good(flows_db: Database, connection_id: str) -> None:
    """The connection believes its token good for an hour; the remote no longer does."""
    async with flows_db.unit_of_work() as uow:
        await uow.session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(token_issued_at=utcnow(), token_expires_at=utcnow() + timedelta(hours=1))
        )
    await asyncio.sleep(ACCESS_TOKEN_SECONDS + 0.5)


async def test_oauth_connection_outlives_its_access_tokens(
    hub: Hub,
    remote: LiveServer,
    db: Database,
    tenant: Tenant,
    flows_db: Database,
    flows_settings: Settings,
) -> None:
    callback = redirect_uri(flows_settings.base_url)
    connection_id = await _connected(hub, remote, db, tenant, callback)
    shown = (await hub.get(f"/connections/{connection_id}"))["connection"]
    assert shown["connected"] is True
    assert shown["locationId"] == tenant.location_id
    first = await stored(flows_db, connection_id)
    assert first.access_token is not None
    assert first.refresh_token is not None
    assert first.access_token not in str(shown)
    assert first.refresh_token not in str(shown)

    report = await hub.post(f"/connections/{connection_id}/test", status=200)
    assert report == {
        "ok": True,
        "scopes": [
            {"scope": "contacts.readonly", "ok": True, "status": 200, "message": None},
            {"scope": "contacts.write", "ok": True, "status": 422, "message": None},
        ],
    }

    # Past the lifetime: the token is refused by the remote, and the connection refreshes
    # ahead of calling.
    await asyncio.sleep(ACCESS_TOKEN_SECONDS + 0.5)
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=remote.base_url) as http:
        expired = await http.get(
            "/contacts/", headers={"Authorization": f"Bearer {first.access_token}"}
        )
    assert expired.status_code == 401
    report = await hub.post(f"/connections/{connection_id}/test", status=200)
    assert report["ok"] is True, report
    second = await stored(flows_db, connection_id)
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token

    # The connection believes its token is still good, but the remote says 401: a flow's
    # HTTP request through the connection refreshes once and the call succeeds.
    await _stale_but_believed_good(flows_db, connection_id)
    call = {"url": "/contacts/?limit=1", "connectionId": connection_id}
    listed = await _through(hub, "core.http.request", call)
    assert listed["status"] == 200, listed
    assert isinstance(listed["body"]["contacts"], list)
    third = await stored(flows_db, connection_id)
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)

    # The same for a Contacts API action through the connection: refreshed once after the
    # 401, and the search answers from the remote account.
    await _stale_but_believed_good(flows_db, connection_id)
    search = {"pageLimit": 1, "connectionId": connection_id}
    found = await _through(hub, "contacts.contact.search", search)
    assert isinstance(found["contacts"], list)
    latest = await stored(flows_db, connection_id)
    assert latest.refresh_token != third.refresh_token

    async with flows_db.reader() as session:
        raw = (
            await session.execute(
                text("SELECT secret, access_token, refresh_token FROM connections WHERE id = :id"),
                {"id": connection_id},
            )
        ).one()
    assert all(value.startswith("gAAAAA") for value in raw)
    assert latest.access_token not in raw
    assert latest.refresh_token not in raw
