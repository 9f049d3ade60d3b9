"""The command line: register an app (secret shown once), list apps, set a password."""

import json

from contactflow.platform.auth import passwords
from contactflow.platform.auth.oauth.models import OAuthClient
from contactflow.platform.db import Database
from tests.oauth.support import add_user
from tests.support import Tenant, invoke_cli


async def test_apps_create_and_list(database_url: str, db: Database, tenant: Tenant) -> None:
    created = await invoke_cli(
        database_url,
        *("oauth", "apps", "create", "--company", tenant.company_id, "--name", "Zapier-ish"),
        *("--redirect-uri", "https://app.example.com/cb", "--scope", "contacts.readonly"),
        *("--allow-ip", "10.0.0.0/8", "--json"),
    )
    assert created.exit_code == 0, created.output
    shown = json.loads(created.stdout)
    assert shown["clientSecret"].startswith("cf_ocs_")
    async with db.reader() as session:
        stored = await session.get(OAuthClient, shown["clientId"])
    assert stored is not None
    assert stored.secret_hash is not None
    assert shown["clientSecret"] not in stored.secret_hash
    assert stored.check_client_secret(shown["clientSecret"])
    assert (stored.redirect_uris, stored.allowed_ips) == (
        ["https://app.example.com/cb"],
        ["10.0.0.0/8"],
    )

    listed = await invoke_cli(database_url, "oauth", "apps", "list", "--company", tenant.company_id)
    assert listed.exit_code == 0, listed.output
    assert shown["clientId"] in listed.stdout
    assert shown["clientSecret"] not in listed.stdout

    refused = await invoke_cli(
        database_url,
        *("oauth", "apps", "create", "--company", tenant.company_id, "--name", "Bad"),
        *("--redirect-uri", "http://example.com/cb", "--scope", "contacts.readonly"),
    )
    assert refused.exit_code == 1
    assert "must use https" in refused.stdout


async def test_set_password_reads_stdin(database_url: str, db: Database, tenant: Tenant) -> None:
    email = await add_user(db, tenant.location_id)
    result = await invoke_cli(
        database_url, "users", "set-password", "--email", email, stdin="a new passphrase\n"
    )
    assert result.exit_code == 0, result.output
    async with db.reader() as session:
        assert await passwords.sign_in(session, email, "a new passphrase") is not None
        assert await passwords.sign_in(session, email, "correct horse battery staple") is None
    too_short = await invoke_cli(
        database_url, "users", "set-password", "--email", email, stdin="short\n"
    )
    assert too_short.exit_code == 1
