"""The operator's commands: `demo --json` prints a key per location that works against the
server; `keys create | list | rotate | revoke` manage a key's life (its secret shown once,
never listed; the grace of a rotation at most seven days) and `audit` prints what GET /audit
shows; `migrate` builds a new database and `secrets rotate-key` re-encrypts it with a new key.

Commands run in this process (`invoke_cli`), except `secrets rotate-key`, which swaps the
process's key ring and so runs as a process of its own."""

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import inspect, text
from typer.testing import Result

from contactflow.platform.auth import api_keys, passwords
from contactflow.platform.auth.principal import LOCATION_DENIED
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, Database
from contactflow.platform.migrate import alembic_config
from contactflow.settings import Settings, get_settings
from tests.security.helpers import bearer
from tests.support import (
    CLIENT_TIMEOUT_SECONDS,
    LiveServer,
    Tenant,
    invoke_cli,
    make_tenant,
    run_cli,
)
from tests.webhooks.helpers import Json, add_endpoint_row, json_of


async def status_of(server: LiveServer, key: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(key)
    ) as http:
        body = {"firstName": "Cli"} if method == "POST" else None
        return await http.request(method, "/contacts/", json=body)


def rows_with(output: str, *needles: str) -> list[str]:
    return [line for line in output.splitlines() if all(needle in line for needle in needles)]


def audit_actions(output: str, key_id: str) -> list[str]:
    """The actions of the audit table's rows naming the key, oldest first."""
    actions = []
    for line in rows_with(output, key_id):
        [action] = re.findall(r"\b(credential\.[a-z_]+)\b", line)
        actions.append(action)
    return actions[::-1]


async def test_keys_from_create_to_revoke_and_the_audit_command(
    server: LiveServer, tenant: Tenant, database_url: str
) -> None:
    location = tenant.location_id
    days_ahead = {(utcnow() + timedelta(days=30)).date().isoformat()}
    created = await invoke_cli(
        database_url,
        *("keys", "create", "--location", location, "--name", "reporting"),
        *("--scope", "contacts.readonly", "--scope", "audit.readonly"),
        *("--expires-in-days", "30", "--allow-ip", "127.0.0.1", "--json"),
    )
    assert created.exit_code == 0, created.output
    days_ahead.add((utcnow() + timedelta(days=30)).date().isoformat())
    shown = json.loads(created.stdout)
    assert set(shown) == {"id", "key"}
    key_id, key = shown["id"], shown["key"]
    assert api_keys.is_well_formed(key)
    assert key.startswith(api_keys.LIVE_PREFIX)
    assert (await status_of(server, key)).status_code == 200
    refused = await status_of(server, key, "POST")
    assert refused.status_code == 401, refused.text
    assert "contacts.write" in json_of(refused)["message"]

    listed = await invoke_cli(database_url, "keys", "list", "--location", location)
    assert listed.exit_code == 0, listed.output
    assert len(rows_with(listed.stdout, location)) == 2  # the tenant's key and this one
    [row] = rows_with(listed.stdout, key_id)
    assert "reporting" in row
    assert f"{key[:12]}…" in row
    assert "audit.readonly contacts.readonly" in row
    assert any(f" {day}T" in row for day in days_ahead)
    assert "127.0.0.1" in row  # where it was last used
    # Secrets are shown once: never listed, not even in part.
    for secret in (key, tenant.key):
        assert secret[12:] not in listed.stdout

    rotated = await invoke_cli(
        database_url, "keys", "rotate", key_id, "--grace-hours", "1", "--json"
    )
    assert rotated.exit_code == 0, rotated.output
    successor = json.loads(rotated.stdout)
    assert set(successor) == {"id", "key"}
    assert successor["id"] != key_id
    # During the grace both work; the successor has the same grants.
    assert (await status_of(server, key)).status_code == 200
    assert (await status_of(server, successor["key"])).status_code == 200
    assert (await status_of(server, successor["key"], "POST")).status_code == 401

    too_long = await invoke_cli(database_url, "keys", "rotate", key_id, "--grace-hours", "168.5")
    assert too_long.exit_code == 1
    assert "grace: must be between 0 and 7 days" in too_long.stdout
    revoked = await invoke_cli(database_url, "keys", "revoke", key_id)
    assert revoked.exit_code == 0, revoked.output
    assert f"key {key_id} revoked" in revoked.stdout
    gone = await status_of(server, key)
    assert gone.status_code == 401
    assert json_of(gone)["message"] == "The token has been revoked"
    assert (await status_of(server, successor["key"])).status_code == 200
    unknown = await invoke_cli(database_url, "keys", "revoke", "noSuchKey")
    assert unknown.exit_code == 1
    assert "key: noSuchKey not found" in unknown.stdout

    relisted = await invoke_cli(database_url, "keys", "list", "--location", location)
    assert relisted.exit_code == 0, relisted.output
    assert len(rows_with(relisted.stdout, location)) == 3  # the refused rotation made none
    [old_row] = rows_with(relisted.stdout, key_id)
    assert len(re.findall(r"\d{4}-\d\d-\d\dT[\d:.]+Z", old_row)) == 3  # expires, revoked, used
    [new_row] = rows_with(relisted.stdout, successor["id"])
    assert "reporting" in new_row
    assert "audit.readonly contacts.readonly" in new_row

    # `audit` prints the entries GET /audit returns, and the key's whole life.
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(successor["key"])
    ) as http:
        response = await http.get("/audit", params={"limit": 100})
    assert response.status_code == 200, response.text
    entries: list[Json] = json_of(response)["entries"]
    printed = await invoke_cli(database_url, "audit", "--location", location, "--limit", "100")
    assert printed.exit_code == 0, printed.output
    for entry in entries:
        assert rows_with(printed.stdout, entry["createdAt"], entry["action"], entry["actor"]), entry
    assert audit_actions(printed.stdout, key_id) == [
        "credential.created",
        "credential.used_from_new_ip",
        "credential.refused_scope",
        "credential.rotated",
        "credential.revoked",
    ]
    [refusal] = rows_with(printed.stdout, "credential.refused_scope", key_id)
    assert '{"scope": "contacts.write"}' in refusal
    assert " 127.0.0.1 " in refusal
    [rotation] = rows_with(printed.stdout, "credential.rotated", key_id)
    assert f"api_key:{successor['id']}" in rotation


def file_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


async def test_migrate_and_rotate_key_on_a_new_database_and_demo_keys_that_work(
    server: LiveServer, database_url: str, db: Database, empty_url: str, tmp_path: Path
) -> None:
    """`secrets rotate-key` is a process of its own, whose start costs seconds: `demo` runs
    meanwhile. The demo runs on SQLite only, the database it is made for (the default of an
    installation tried on a laptop): its ~200 contacts are made by the services every other
    test drives on both backends, and making them again on PostgreSQL costs ~20 s."""
    for _ in range(2):  # the second run finds nothing to do
        migrated = await invoke_cli(empty_url, "migrate")
        assert migrated.exit_code == 0, migrated.output
        assert "database is up to date" in migrated.stdout
    new_db = Database(empty_url)
    try:
        async with new_db.reader() as session:
            version = await session.scalar(text("SELECT version_num FROM alembic_version"))
            connection = await session.connection()
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert version == ScriptDirectory.from_config(alembic_config(empty_url)).get_current_head()
        assert set(Base.metadata.tables) <= set(tables)

        # Two secrets encrypted with the key of a key file, as an installation keeps it.
        old = Fernet.generate_key()
        key_file = tmp_path / "secret.key"
        key_file.write_text(old.decode() + "\n")
        tenant = await make_tenant(new_db)
        endpoint = await add_endpoint_row(new_db, tenant.location_id, "http://127.0.0.1:9/hook")
        async with new_db.unit_of_work() as uow:
            await uow.session.execute(
                text(
                    "UPDATE webhook_endpoints SET secret = :secret, previous_secret = :previous"
                    " WHERE id = :id"
                ),
                {
                    "secret": Fernet(old).encrypt(b"whsec_current").decode(),
                    "previous": Fernet(old).encrypt(b"whsec_previous").decode(),
                    "id": endpoint.id,
                },
            )
            # And a connection's client secret and OAuth tokens.
            await uow.session.execute(
                text(
                    "INSERT INTO connections (id, location_id, name, kind, auth, scopes, builtin,"
                    " secret, access_token, refresh_token, created_at, updated_at) VALUES"
                    " (:id, :location, 'Remote', 'contacts', 'oauth', '[]', false, :secret,"
                    " :access, :refresh, :now, :now)"
                ),
                {
                    "id": "c" * 24,
                    "location": tenant.location_id,
                    "secret": Fernet(old).encrypt(b"client-secret").decode(),
                    "access": Fernet(old).encrypt(b"access-token").decode(),
                    "refresh": Fernet(old).encrypt(b"refresh-token").decode(),
                    "now": utcnow(),
                },
            )
        installation_key = Path(get_settings().secret_key_file)
        before = await asyncio.to_thread(file_bytes, installation_key)

        rotation = run_cli(
            empty_url, "secrets", "rotate-key", settings={"secret_key_file": str(key_file)}
        )
        if db.dialect == "sqlite":
            demo, rekeyed = await asyncio.gather(
                invoke_cli(database_url, "demo", "--json"), rotation
            )
        else:
            demo, rekeyed = None, await rotation

        assert "re-encrypted 5 secrets with the newest key" in rekeyed
        # The file holds only the new key, which alone opens the secrets now.
        [new] = key_file.read_text().split()
        assert new.encode() != old
        async with new_db.reader() as session:
            stored = (
                await session.execute(
                    text("SELECT secret, previous_secret FROM webhook_endpoints WHERE id = :id"),
                    {"id": endpoint.id},
                )
            ).one()
        assert [Fernet(new.encode()).decrypt(value.encode()) for value in stored] == [
            b"whsec_current",
            b"whsec_previous",
        ]
        for value in stored:
            with pytest.raises(InvalidToken):
                Fernet(old).decrypt(value.encode())
        async with new_db.reader() as session:
            connection_secrets = (
                await session.execute(
                    text("SELECT secret, access_token, refresh_token FROM connections")
                )
            ).one()
        assert [Fernet(new.encode()).decrypt(value.encode()) for value in connection_secrets] == [
            b"client-secret",
            b"access-token",
            b"refresh-token",
        ]
        # The installation's own key file was left alone.
        assert await asyncio.to_thread(file_bytes, installation_key) == before
    finally:
        await new_db.dispose()

    if demo is not None:
        await check_demo(demo, server, db)


async def check_demo(result: Result, server: LiveServer, db: Database) -> None:
    """`demo --json` printed a key per location that works against the server."""
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert set(shown) == {"locations", "baseUrl", "campaignId", "workflowId", "admin"}
    assert shown["baseUrl"] == Settings().base_url
    assert all(
        isinstance(shown[name], str) and shown[name] for name in ("campaignId", "workflowId")
    )
    locations = shown["locations"]
    assert [location["name"] for location in locations] == ["Northwind Austin", "Northwind Denver"]
    ids = [location["id"] for location in locations]
    for location, other in zip(locations, ids[::-1], strict=True):
        assert set(location) == {"id", "name", "apiKey"}
        # Demo locations are sandboxes: their keys are test keys.
        assert location["apiKey"].startswith(api_keys.TEST_PREFIX)
        async with httpx.AsyncClient(
            timeout=CLIENT_TIMEOUT_SECONDS,
            base_url=server.base_url,
            headers=bearer(location["apiKey"]),
        ) as http:
            listed = await http.get("/contacts/", params={"locationId": location["id"]})
            assert listed.status_code == 200, listed.text
            page = json_of(listed)
            assert page["meta"]["total"] == 100
            assert page["contacts"]
            assert {contact["locationId"] for contact in page["contacts"]} == {location["id"]}
            theirs = await http.get("/contacts/", params={"locationId": other})
            assert theirs.status_code == 403, theirs.text
            assert json_of(theirs)["message"] == LOCATION_DENIED
    # The first location's contacts join the printed campaign and workflow for real.
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS,
        base_url=server.base_url,
        headers=bearer(locations[0]["apiKey"]),
    ) as http:
        listed = await http.get("/contacts/", params={"locationId": ids[0], "limit": 1})
        contact_id = json_of(listed)["contacts"][0]["id"]
        joined = await http.post(f"/contacts/{contact_id}/campaigns/{shown['campaignId']}")
        assert joined.status_code == 201, joined.text
        enrolled = await http.post(f"/contacts/{contact_id}/workflow/{shown['workflowId']}")
        assert enrolled.status_code == 200, enrolled.text
        # New contacts of the first location are welcomed by the installed template.
        flows = {flow["name"]: flow for flow in json_of(await http.get("/flows"))["flows"]}
        assert flows["Welcome new contacts"]["enabled"] is True
        assert flows["Welcome new contacts"]["published"]["number"] == 1
    # The admin's password, shown once, signs in.
    admin = shown["admin"]
    assert re.fullmatch(r"[A-Za-z0-9]{16}", admin["password"])
    async with db.reader() as session:
        user = await passwords.sign_in(session, admin["email"], admin["password"])
    assert user is not None
    assert user.location_id == ids[0]
