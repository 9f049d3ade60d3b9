"""Alembic environment: runs migrations on the async engine of the configured URL."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

# Every table must be registered on Base.metadata before autogenerate compares it.
import contactflow.contacts.models
import contactflow.flows.bulk_retry
import contactflow.flows.connections.models
import contactflow.flows.keyvalue
import contactflow.flows.models
import contactflow.mailsuite.models
import contactflow.platform.activity
import contactflow.platform.audit
import contactflow.platform.auth.api_keys
import contactflow.platform.auth.invitations
import contactflow.platform.auth.oauth.models
import contactflow.platform.auth.sessions
import contactflow.platform.events
import contactflow.platform.idempotency
import contactflow.platform.issues
import contactflow.platform.tenancy
import contactflow.platform.webhooks.models
import contactflow.sync.models  # noqa: F401
from contactflow.platform.db import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    asyncio.run(_run_async(url))


run()
