"""Fixtures of the Mailsuite tests: a server of their own on a database of their own (its
workers send to loopback SMTP on a compressed retry schedule, which the session's server
must not do), tenants on it, and an SMTP server per test."""

from collections.abc import AsyncIterator, Iterator

import pytest

from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.mailsuite.helpers import MACHINE_SECONDS, PUBLIC_BASE, RETRY_DELAYS, Mail
from tests.mailsuite.smtpd import Mailbox, running_mailbox
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


@pytest.fixture(scope="package")
def mail_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(
        database_url, tmp_path_factory.mktemp("mailsuite"), "mailsuite.db"
    ) as url:
        yield url


@pytest.fixture(scope="package")
def mail_settings(mail_database_url: str) -> Settings:
    return server_settings(
        mail_database_url,
        base_url=PUBLIC_BASE,
        smtp_allowed_networks=["127.0.0.1/32"],
        smtp_timeout_seconds=5,
        mailsuite_retry_delays=list(RETRY_DELAYS),
        mailsuite_machine_seconds=MACHINE_SECONDS,
    )


@pytest.fixture(scope="package")
def mail_server(mail_settings: Settings) -> Iterator[LiveServer]:
    with live_server(mail_settings) as running:
        yield running


@pytest.fixture(scope="package")
async def mail_db(mail_database_url: str) -> AsyncIterator[Database]:
    async with checked_database(mail_database_url) as database:
        yield database


@pytest.fixture
async def mail_tenant(mail_db: Database) -> Tenant:
    return await make_tenant(mail_db)


@pytest.fixture
async def mail(mail_server: LiveServer, mail_tenant: Tenant) -> AsyncIterator[Mail]:
    async with api_client(mail_server.base_url, mail_tenant.headers) as http:
        yield Mail(http, mail_tenant)


@pytest.fixture
async def sandbox_mail(mail_server: LiveServer, mail_db: Database) -> AsyncIterator[Mail]:
    """The API through a sandbox location's (`cf_test_`) key."""
    tenant = await make_tenant(mail_db, sandbox=True)
    async with api_client(mail_server.base_url, tenant.headers) as http:
        yield Mail(http, tenant)


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    with running_mailbox() as mailbox:
        yield mailbox
