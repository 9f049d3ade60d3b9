"""Fixtures of the flows tests: a server of their own on a database of their own (its workers
run flows and send Mailsuite mail to loopback SMTP), tenants on it, an SMTP server per test,
and a second database without any server, where a test drives the engine by hand."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.flows.helpers import Hub
from tests.mailsuite.smtpd import Mailbox, running_mailbox
from tests.support import (
    CLIENT_TIMEOUT_SECONDS,
    LiveServer,
    Tenant,
    api_client,
    checked_database,
    live_server,
    make_tenant,
    migrated_database,
    server_settings,
)


@pytest.fixture(scope="package")
def flows_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with migrated_database(database_url, tmp_path_factory.mktemp("flows")) as url:
        yield url


@pytest.fixture(scope="package")
def flows_settings(flows_database_url: str) -> Settings:
    return server_settings(
        flows_database_url,
        smtp_allowed_networks=["127.0.0.1/32"],
        smtp_timeout_seconds=5,
        mailsuite_retry_delays=[0.1, 0.2, 0.4],
        # An open or click right after sending is a person's: the catalog tests open at once.
        mailsuite_machine_seconds=0,
    )


@pytest.fixture(scope="package")
def flows_server(flows_settings: Settings) -> Iterator[LiveServer]:
    with live_server(flows_settings) as running:
        yield running


@pytest.fixture(scope="package")
async def flows_db(flows_database_url: str) -> AsyncIterator[Database]:
    async with checked_database(flows_database_url) as database:
        yield database


@pytest.fixture(scope="package")
def remote_server(database_url: str) -> Iterator[LiveServer]:
    """Another server, on the session's database: the remote account flows connect to (its
    Mailsuite may send to loopback SMTP, for the campaigns a remote contact joins)."""
    settings = server_settings(database_url, smtp_allowed_networks=["127.0.0.1/32"])
    with live_server(settings) as running:
        yield running


@pytest.fixture
async def hub(flows_server: LiveServer, flows_db: Database) -> AsyncIterator[Hub]:
    tenant = await make_tenant(flows_db)
    # A generous timeout: the machine is shared, and a slow answer is not what is tested.
    async with api_client(flows_server.base_url, tenant.headers, timeout=30) as http:
        yield Hub(http, tenant)


@pytest.fixture(scope="package")
def quiet_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with migrated_database(database_url, tmp_path_factory.mktemp("flows-quiet")) as url:
        yield url


@pytest.fixture(scope="package")
async def quiet_db(quiet_database_url: str) -> AsyncIterator[Database]:
    """A database no worker reads: the test is the only one moving its runs."""
    async with checked_database(quiet_database_url) as database:
        yield database


@pytest.fixture
async def quiet_tenant(quiet_db: Database) -> Tenant:
    return await make_tenant(quiet_db)


@pytest.fixture(scope="package")
async def outbound_http() -> AsyncIterator[httpx.AsyncClient]:
    """The outbound client of run executors a test drives by hand."""
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, follow_redirects=False) as http:
        yield http


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    with running_mailbox() as mailbox:
        yield mailbox
