"""Fixtures of the dashboard tests: a server of their own on a database of their own (its
workers run flows; Mailsuite senders may point at loopback)."""

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, async_playwright

from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.flows.helpers import Hub
from tests.support import (
    LiveServer,
    Tenant,
    api_client,
    checked_database,
    live_server,
    make_tenant,
    migrated_database,
    server_settings,
)
from tests.web.helpers import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="package")
def web_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(database_url, tmp_path_factory.mktemp("web")) as url:
        yield url


@pytest.fixture(scope="package")
def web_settings(web_database_url: str) -> Settings:
    # Mailsuite sends 20 emails a batch rather than 100, so that a campaign the browser follows
    # goes out in several batches to a few dozen contacts.
    return server_settings(
        web_database_url, smtp_allowed_networks=["127.0.0.1/32"], mailsuite_batch_size=20
    )


@pytest.fixture(scope="package")
def web_server(web_settings: Settings) -> Iterator[LiveServer]:
    with live_server(web_settings) as running:
        yield running


@pytest.fixture(scope="package")
async def web_db(web_database_url: str) -> AsyncIterator[Database]:
    async with checked_database(web_database_url) as database:
        yield database


@pytest.fixture
async def web_tenant(web_db: Database) -> Tenant:
    return await make_tenant(web_db)


@pytest.fixture
async def web_hub(web_server: LiveServer, web_tenant: Tenant) -> AsyncIterator[Hub]:
    """The tenant's API calls on the dashboard's server."""
    async with api_client(web_server.base_url, web_tenant.headers, timeout=30) as http:
        yield Hub(http, web_tenant)


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is missing (make test installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
