"""A copy of the database holds no usable secret: keys and tokens are hashes, other systems'
secrets are encrypted with a key kept outside the database."""

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from contactflow.flows.connections.models import Connection
from contactflow.mailsuite import senders
from contactflow.mailsuite.mail_schemas import SenderCreate
from contactflow.platform import crypto
from contactflow.platform.db import Database
from contactflow.platform.ids import new_id
from contactflow.platform.migrate import upgrade
from contactflow.platform.webhooks.models import WebhookEndpoint
from contactflow.settings import Settings, get_settings
from tests.oauth.support import add_user, dance, oauth_client, register_app
from tests.receiver import Receiver
from tests.support import LiveServer, Tenant, make_tenant
from tests.webhooks.helpers import LOOPBACK_POLICY


def _dump(database_url: str, db_file: Path | None) -> bytes:
    if db_file is not None:
        # Recent pages live in the write-ahead log until a checkpoint: read both. Another
        # process reads them: closing a descriptor of the file here would drop every POSIX
        # lock this process's SQLite connections hold on it, and a later connection closing
        # in another process would then take the log for unused and delete it under them.
        wal = db_file.with_name(db_file.name + "-wal")
        files = [db_file, wal] if wal.exists() else [db_file]
        command = ["/bin/cat", *map(str, files)]
    else:
        pg_dump = shutil.which("pg_dump")
        assert pg_dump, "pg_dump is needed to dump the PostgreSQL test database"
        name = database_url.rsplit("/", 1)[1]
        command = [pg_dump, "-h", "127.0.0.1", "-U", "postgres", "--data-only", name]
    return subprocess.run(command, check=True, capture_output=True).stdout  # noqa: S603 - fixed arguments


async def _other_systems_secrets(tenant: Tenant, server: LiveServer, db: Database) -> list[str]:
    """An SMTP password, an OAuth app's client secret and the tokens it was issued."""
    smtp_password = f"smtp-{new_id()}"
    body = SenderCreate.model_validate(
        {
            "name": "Dump",
            "fromEmail": "dump@example.com",
            "smtpHost": "127.0.0.1",
            "smtpPort": 2525,
            "smtpSecurity": "none",
            "smtpUsername": "dump",
            "smtpPassword": smtp_password,
        }
    )
    async with db.unit_of_work() as uow:
        await senders.create_sender(uow, tenant.location_id, body, LOOPBACK_POLICY)
    app = await register_app(db, tenant.company_id)
    assert app.client_secret is not None
    async with oauth_client(app) as oauth:
        token = await dance(
            oauth, server, await add_user(db, tenant.location_id), choice=tenant.location_id
        )
    return [
        smtp_password,
        app.client_secret,
        str(token["access_token"]),
        str(token["refresh_token"]),
    ]


async def _connection_secrets(client: httpx.AsyncClient, db: Database) -> list[str]:
    """Secrets of connections: an API key, a header's value, an OAuth app's client secret and
    the tokens it holds (set as a completed authorization would)."""
    api_key, header_value, client_secret = (f"{kind}-{new_id()}" for kind in ("key", "hv", "cs"))
    bodies: list[dict[str, object]] = [
        {"kind": "contacts", "auth": "apiKey", "apiKey": api_key},
        {"kind": "http", "auth": "header", "headerName": "X-Key", "headerValue": header_value},
        {
            "kind": "contacts",
            "auth": "oauth",
            "clientId": "remote-app",
            "clientSecret": client_secret,
            "authorizeUrl": "http://127.0.0.1:9/authorize",
            "tokenUrl": "http://127.0.0.1:9/token",
        },
    ]
    ids = []
    for body in bodies:
        created = await client.post(
            "/connections", json={"name": "Dump", "baseUrl": "http://127.0.0.1:9", **body}
        )
        assert created.status_code == 201, created.text
        for secret in (api_key, header_value, client_secret):
            assert secret not in created.text
        ids.append(created.json()["connection"]["id"])
    access, refresh = f"access-{new_id()}", f"refresh-{new_id()}"
    async with db.unit_of_work() as uow:
        connection = await uow.session.get(Connection, ids[-1])
        assert connection is not None
        connection.access_token, connection.refresh_token = access, refresh
    return [api_key, header_value, client_secret, access, refresh]


async def test_dump_holds_no_plaintext_secret(
    client: httpx.AsyncClient, tenant: Tenant, server: LiveServer, db: Database, receiver: Receiver
) -> None:
    others = await _other_systems_secrets(tenant, server, db)
    others += await _connection_secrets(client, db)
    created = await client.post("/webhooks", json={"url": receiver.url("/dump")})
    assert created.status_code == 201, created.text
    webhook_secret = created.json()["secret"]
    assert (await client.get("/webhooks/public-key")).status_code == 200
    async with db.reader() as session:
        stored = (
            await session.execute(
                text("SELECT secret FROM webhook_endpoints WHERE id = :id"),
                {"id": created.json()["endpoint"]["id"]},
            )
        ).scalar_one()
        private = (await session.execute(text("SELECT private_key FROM signing_keys"))).scalar()
    assert stored != webhook_secret
    assert stored.startswith("gAAAAA")
    assert private is not None
    assert "PRIVATE KEY" not in private
    url = server.settings.database_url
    db_file = Path(url.split("///", 1)[1]) if db.dialect == "sqlite" else None
    dump = _dump(url, db_file)
    for secret in (tenant.key, webhook_secret, webhook_secret.removeprefix("whsec_"), *others):
        assert secret.encode() not in dump
    assert b"PRIVATE KEY" not in dump


@pytest.fixture
def own_key_ring() -> Iterator[None]:
    """Rotation swaps the process's key ring; put the usual one back afterwards."""
    yield
    crypto.configure(get_settings())


async def test_rotate_key_reencrypts_everything(tmp_path: Path, own_key_ring: None) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite+aiosqlite:///{tmp_path / 'rotate.db'}"
    await asyncio.to_thread(upgrade, url)
    crypto.configure(Settings(database_url=url, secret_keys=[old]))
    db = Database(url)
    try:
        tenant = await make_tenant(db)
        async with db.unit_of_work() as uow:
            uow.session.add(
                WebhookEndpoint(
                    id="e" * 24,
                    location_id=tenant.location_id,
                    url="https://x.io",
                    secret="whsec_abc",
                )
            )
            uow.session.add(
                Connection(
                    id="c" * 24,
                    location_id=tenant.location_id,
                    name="Remote",
                    kind="contacts",
                    auth="oauth",
                    scopes=[],
                    secret="client-secret",
                    refresh_token="refresh-token",
                )
            )
        crypto.configure(Settings(database_url=url, secret_keys=[new, old]))
        assert await crypto.rotate_all(db) == 3
        crypto.configure(Settings(database_url=url, secret_keys=[new]))
        async with db.reader() as session:
            endpoint = await session.get(WebhookEndpoint, "e" * 24)
            assert endpoint is not None
            assert endpoint.secret == "whsec_abc"
            connection = await session.get(Connection, "c" * 24)
            assert connection is not None
            assert (connection.secret, connection.refresh_token) == (
                "client-secret",
                "refresh-token",
            )
        crypto.configure(Settings(database_url=url, secret_keys=[old]))
        async with db.reader() as session:
            with pytest.raises(RuntimeError, match="cannot be decrypted"):
                await session.get(WebhookEndpoint, "e" * 24)
    finally:
        await db.dispose()
