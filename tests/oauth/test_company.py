"""Company (agency) tokens: not a location caller; exchanged for Location tokens at
/oauth/locationToken; listing the app's installed locations; client_credentials."""

import warnings
from collections.abc import AsyncIterator

import httpx
import pytest
from authlib.integrations.httpx_client import OAuthError
from highlevel import HighLevel

from contactflow.platform.db import Database
from contactflow.platform.tenancy import Location
from tests.conftest import TenantFactory
from tests.oauth.support import App, add_user, bearer, dance, oauth_client, register_app
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant

COMPANY_APP_SCOPES = ("contacts.readonly", "oauth.readonly", "oauth.write")


@pytest.fixture
async def app(db: Database, tenant: Tenant) -> App:
    return await register_app(db, tenant.company_id, scopes=COMPANY_APP_SCOPES)


@pytest.fixture
async def second_location(db: Database, tenant: Tenant) -> str:
    async with db.unit_of_work() as uow:
        location = Location(company_id=tenant.company_id, name="Zz Second Location")
        uow.session.add(location)
        await uow.session.flush()
        return location.id


@pytest.fixture
async def company_token(server: LiveServer, db: Database, tenant: Tenant, app: App) -> str:
    email = await add_user(db, tenant.location_id, role="admin")
    async with oauth_client(app) as client:
        token = await dance(client, server, email, choice="company", user_type="Company")
    assert token["userType"] == "Company"
    assert "locationId" not in token
    return str(token["access_token"])


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url) as plain:
        yield plain


async def test_company_token_reaches_locations_only_through_an_exchange(
    http: httpx.AsyncClient,
    tenant: Tenant,
    app: App,
    company_token: str,
    second_location: str,
) -> None:
    on_location_route = await http.get("/contacts/", headers=bearer(company_token))
    assert on_location_route.status_code == 401
    assert "Location access token" in on_location_route.json()["message"]

    form = {"companyId": tenant.company_id, "locationId": tenant.location_id}
    exchanged = await http.post("/oauth/locationToken", headers=bearer(company_token), data=form)
    assert exchanged.status_code == 200, exchanged.text
    location_token = exchanged.json()
    assert location_token["userType"] == "Location"
    assert location_token["locationId"] == tenant.location_id
    assert location_token["scope"] == "contacts.readonly"
    assert exchanged.headers["cache-control"] == "no-store"
    listed = await http.get("/contacts/", headers=bearer(location_token["access_token"]))
    assert listed.status_code == 200, listed.text

    query = {"companyId": tenant.company_id, "appId": app.client_id}
    installed = await http.get(
        "/oauth/installedLocations", headers=bearer(company_token), params=query
    )
    assert installed.status_code == 200, installed.text
    body = installed.json()
    assert body["count"] == 2
    assert [(row["_id"], row["isInstalled"]) for row in body["locations"]] == [
        (tenant.location_id, True),
        (second_location, False),
    ]
    only = await http.get(
        "/oauth/installedLocations",
        headers=bearer(company_token),
        params={**query, "isInstalled": "false"},
    )
    assert [row["_id"] for row in only.json()["locations"]] == [second_location]

    # A Location token cannot act for its company.
    as_location = bearer(location_token["access_token"])
    refused = await http.post("/oauth/locationToken", headers=as_location, data=form)
    assert refused.status_code == 401
    assert "Company access token" in refused.json()["message"]
    refused = await http.get("/oauth/installedLocations", headers=as_location, params=query)
    assert refused.status_code == 401
    # Nor can an API key.
    with_key = await http.post("/oauth/locationToken", headers=tenant.headers, data=form)
    assert with_key.status_code == 401


async def test_company_token_stays_in_its_company(
    http: httpx.AsyncClient,
    tenant: Tenant,
    company_token: str,
    new_tenant: TenantFactory,
) -> None:
    other = await new_tenant()
    headers = bearer(company_token)
    for form, status in (
        ({"companyId": other.company_id, "locationId": other.location_id}, 403),
        ({"companyId": tenant.company_id, "locationId": other.location_id}, 404),
        ({"companyId": tenant.company_id}, 422),
    ):
        answer = await http.post("/oauth/locationToken", headers=headers, data=form)
        assert answer.status_code == status, answer.text
    wrong_app = await http.get(
        "/oauth/installedLocations",
        headers=headers,
        params={"companyId": tenant.company_id, "appId": "someOtherApp"},
    )
    assert wrong_app.status_code == 403


async def test_the_sdk_exchanges_a_company_token(
    server: LiveServer,
    tenant: Tenant,
    app: App,
    company_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HighLevel's SDK posts to /oauth/location-token; the server serves both spellings."""
    monkeypatch.setattr(HighLevel, "BASE_URL", server.base_url)
    ghl = HighLevel(
        client_id=app.client_id,
        client_secret=app.client_secret,
        agency_access_token=company_token,
        log_level="none",
    )
    try:
        with warnings.catch_warnings():
            # The SDK posts a pre-encoded string as `data`, which httpx deprecates (upstream).
            warnings.filterwarnings("ignore", "Use 'content=<...>'", DeprecationWarning)
            exchanged = await ghl.oauth.get_location_access_token(
                {"companyId": tenant.company_id, "locationId": tenant.location_id}
            )
        installed = await ghl.oauth.get_installed_location(tenant.company_id, app.client_id)
    finally:
        await ghl.close()
    assert exchanged["locationId"] == tenant.location_id
    assert installed["locations"][0]["isInstalled"] is True


async def test_company_scopes_are_required(
    server: LiveServer, db: Database, tenant: Tenant, http: httpx.AsyncClient
) -> None:
    app = await register_app(db, tenant.company_id, scopes=("contacts.readonly", "oauth.readonly"))
    email = await add_user(db, tenant.location_id)
    async with oauth_client(app) as client:
        token = await dance(client, server, email, choice="company", user_type="Company")
    form = {"companyId": tenant.company_id, "locationId": tenant.location_id}
    refused = await http.post(
        "/oauth/locationToken", headers=bearer(token["access_token"]), data=form
    )
    assert refused.status_code == 401
    assert refused.json()["message"] == "The token is not authorized for this scope: oauth.write"


async def test_client_credentials_gives_a_company_token(
    server: LiveServer, db: Database, tenant: Tenant, app: App, http: httpx.AsyncClient
) -> None:
    async with oauth_client(app) as client:
        token = await client.fetch_token(
            f"{server.base_url}/oauth/token", grant_type="client_credentials", scope="oauth.write"
        )
    assert (token["userType"], token["scope"]) == ("Company", "oauth.write")
    assert "refresh_token" not in token
    assert "userId" not in token
    form = {"companyId": tenant.company_id, "locationId": tenant.location_id}
    exchanged = await http.post(
        "/oauth/locationToken", headers=bearer(token["access_token"]), data=form
    )
    assert exchanged.status_code == 200, exchanged.text

    public = await register_app(db, tenant.company_id, public=True)
    async with oauth_client(public) as public_client:
        with pytest.raises(OAuthError) as refused:
            await public_client.fetch_token(
                f"{server.base_url}/oauth/token", grant_type="client_credentials"
            )
    assert refused.value.error == "invalid_client"
