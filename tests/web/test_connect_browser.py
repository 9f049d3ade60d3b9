"""The OAuth connection wizard in a real browser, against another contactflow as the remote
HighLevel-compatible account (the provider): save the connection, Connect, sign in on the
provider's own sign-in page, allow access for a location on its consent page, come back
connected, and test the connection, which calls the provider with the tokens it was given.

A browser keeps cookies per host name, whatever the port, and both servers name their
session cookie alike: the dashboard is addressed as localhost and the provider as
127.0.0.1, as two sites are, so signing in to one leaves the other's session alone.
"""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from contactflow.flows.connections.oauth_client import redirect_uri
from contactflow.platform.auth import credential_format
from contactflow.platform.auth.oauth.models import OAuthToken
from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.flows.connections.helpers import stored
from tests.oauth.support import APP_SCOPES, register_app
from tests.support import (
    LiveServer,
    Tenant,
    live_server,
    make_tenant,
    migrated_database,
    server_settings,
)
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import make_person


@pytest.fixture
def dashboard(web_settings: Settings) -> Iterator[LiveServer]:
    """The dashboard that connects, on the web tests' database, with its own address as its
    base URL (web_server keeps the default, where nothing listens): the redirect URI it gives
    the provider must lead the browser back to it. No workers: nothing here runs a flow."""
    settings = web_settings.model_copy(update={"embedded_workers": False})
    with live_server(settings, host_name="localhost") as running:
        yield running


@pytest.fixture
def provider_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    with migrated_database(database_url, tmp_path) as url:
        yield url


@pytest.fixture
def provider(provider_database_url: str) -> Iterator[LiveServer]:
    """The remote account: another server on a database of its own."""
    settings = server_settings(provider_database_url, embedded_workers=False)
    with live_server(settings) as running:
        yield running


@pytest.fixture
async def provider_db(provider_database_url: str) -> AsyncIterator[Database]:
    database = Database(provider_database_url)
    yield database
    await database.dispose()


async def _fill_the_wizard(page: Page, provider: LiveServer, client_id: str, secret: str) -> None:
    wizard = page.locator("#wizard-oauth")
    await wizard.get_by_label("Name").fill("Provider account")
    await wizard.get_by_label("Base URL").fill(provider.base_url)
    await wizard.get_by_label("Client id").fill(client_id)
    await wizard.get_by_label("Client secret").fill(secret)
    await wizard.get_by_label("Authorization URL").fill(f"{provider.base_url}/oauth/chooselocation")
    await wizard.get_by_label("Token URL").fill(f"{provider.base_url}/oauth/token")
    for scope in await wizard.locator('input[name="scopes"]').all():
        await scope.set_checked(await scope.get_attribute("value") in APP_SCOPES)
    await wizard.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved the connection.", timeout=WAIT_MS)


async def test_connect_by_oauth_to_another_contactflow(
    chromium: Browser,
    dashboard: LiveServer,
    web_db: Database,
    web_tenant: Tenant,
    provider: LiveServer,
    provider_db: Database,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(dashboard, tmp_path_factory)
    person = await make_person(web_db, web_tenant.location_id)
    remote = await make_tenant(provider_db)
    remote_person = await make_person(provider_db, remote.location_id)
    callback = redirect_uri(dashboard.settings.base_url)
    app = await register_app(provider_db, remote.company_id, redirect_uris=(callback,))
    assert app.client_secret is not None
    async with watched_page(chromium, dashboard) as (page, watched):
        await sign_in(page, person)
        await page.get_by_role("link", name="Connections").click()
        await _fill_the_wizard(page, provider, app.client_id, app.client_secret)
        row = page.locator("tr[data-connection-id]", has_text="Provider account")
        await expect(row).to_contain_text("not authorized yet")
        connection_id = await row.get_attribute("data-connection-id")
        assert connection_id is not None
        await checked(page, watched, shots, "connection-saved")

        await row.get_by_role("link", name="Connect").click()
        await expect(page.get_by_role("heading", name="Sign in to contactflow")).to_be_visible(
            timeout=WAIT_MS
        )
        sent_to = urlsplit(page.url)
        assert f"{sent_to.scheme}://{sent_to.netloc}{sent_to.path}" == (
            f"{provider.base_url}/app/login"
        )
        assert parse_qs(sent_to.query)["next"][0].startswith("/oauth/chooselocation?")
        await checked(page, watched, shots, "provider-sign-in")
        await sign_in(page, remote_person, lands_on="Test App wants access")
        assert page.url.startswith(f"{provider.base_url}/oauth/chooselocation?")
        await checked(page, watched, shots, "provider-consent")
        await page.get_by_label("Choose location").select_option(remote.location_id)
        await page.get_by_role("button", name="Allow").click()
        await expect(page.get_by_role("heading", name="Connected")).to_be_visible(timeout=WAIT_MS)
        assert page.url.startswith(f"{callback}?")
        await checked(page, watched, shots, "connected")

        # Back to the dashboard, still signed in: the provider's sign-in did not replace it.
        await page.get_by_role("link", name="Back to the connections").click()
        await expect(page.get_by_role("heading", name="Connections")).to_be_visible(timeout=WAIT_MS)
        row = page.locator(f"#connection-{connection_id}")
        await expect(row.locator(".state-succeeded")).to_have_text("connected", timeout=WAIT_MS)
        await expect(row.get_by_role("link", name="Connect again")).to_be_visible()
        await row.get_by_role("button", name="Test").click()
        tested = page.locator(f"#connection-{connection_id}").get_by_role("list", name="Test")
        await expect(tested.get_by_role("listitem")).to_have_text(
            ["contacts.readonly: ok", "contacts.write: ok"], timeout=WAIT_MS
        )
        await checked(page, watched, shots, "connection-tested")

    # The provider issued the tokens the connection holds to its person, for its location.
    connection = await stored(web_db, connection_id)
    assert connection.remote_location_id == remote.location_id
    assert connection.access_token is not None
    async with provider_db.reader() as session:
        issued = await session.scalar(
            select(OAuthToken).where(
                OAuthToken.access_token_hash == credential_format.digest(connection.access_token)
            )
        )
    assert issued is not None
    assert (issued.client_id, issued.location_id, issued.user_id) == (
        app.client_id,
        remote.location_id,
        remote_person.user_id,
    )
    assert sorted(issued.scopes) == sorted(APP_SCOPES)
    assert issued.revoked_at is None
