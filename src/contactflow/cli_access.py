"""API keys (shown once, rotated with grace, revoked), the audit log, and the rotation of the
key that encrypts secrets at rest."""

import json
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from contactflow.cli_support import AsJson, console, echo_json, id_column, print_table, with_db
from contactflow.platform import audit, crypto
from contactflow.platform.audit_api import entry_out
from contactflow.platform.auth import api_keys
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import Database
from contactflow.settings import get_settings

keys_app = typer.Typer(help="Location-bound API keys.", no_args_is_help=True)
secrets_app = typer.Typer(help="Secrets at rest.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    location: Annotated[str, typer.Option(help="Location the key is bound to.")],
    scope: Annotated[list[str], typer.Option(help="A scope; repeat for more.")],
    name: Annotated[str, typer.Option(help="A label to tell keys apart.")] = "",
    expires_in_days: Annotated[
        float | None, typer.Option(help="The key stops working after this many days.")
    ] = None,
    allow_ip: Annotated[
        list[str] | None, typer.Option(help="An address or CIDR the key may be used from.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an API key; it is shown once."""
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None

    async def create(db: Database) -> tuple[str, str]:
        async with db.unit_of_work() as uow:
            key, plaintext = await api_keys.create_key(
                uow, location, scope, name, expires_at=expires, allowed_ips=allow_ip or []
            )
            return key.id, plaintext

    _print_key(*with_db(create), as_json=as_json)


def _print_key(key_id: str, plaintext: str, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"id": key_id, "key": plaintext}))
    else:
        console.print(f"key id {key_id}\n{plaintext}\n(shown once: store it now)")


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="The key to replace.")],
    grace_hours: Annotated[
        float, typer.Option(help="How long the old key keeps working (at most 168).")
    ] = 24,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Replace a key with a new one of the same grants; the old one works for the grace period."""

    async def rotate(db: Database) -> tuple[str, str]:
        async with db.unit_of_work() as uow:
            key, plaintext = await api_keys.rotate_key(uow, key_id, timedelta(hours=grace_hours))
            return key.id, plaintext

    _print_key(*with_db(rotate), as_json=as_json)


def _key_out(key: api_keys.ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "locationId": key.location_id,
        "name": key.name,
        "startsWith": key.hint,
        "scopes": key.scopes,
        "allowedIps": key.allowed_ips,
        "createdAt": to_iso(key.created_at),
        "expiresAt": to_iso(key.expires_at),
        "revokedAt": to_iso(key.revoked_at),
        "replacedBy": key.replaced_by,
        "lastUsedAt": to_iso(key.last_used_at),
        "lastUsedIp": key.last_used_ip,
    }


@keys_app.command("list")
def keys_list(
    location: Annotated[str | None, typer.Option(help="Only this location's keys.")] = None,
    as_json: AsJson = False,
) -> None:
    """List keys (never their secrets)."""

    async def fetch(db: Database) -> list[api_keys.ApiKey]:
        async with db.reader() as session:
            return await api_keys.list_keys(session, location)

    keys = with_db(fetch)
    if as_json:
        echo_json(_key_out(key) for key in keys)
        return
    table = Table(
        id_column("id"),
        id_column("location"),
        "name",
        "starts with",
        "scopes",
        "expires",
        "revoked",
        "last used",
    )
    for key in keys:
        table.add_row(
            key.id,
            key.location_id,
            key.name,
            key.hint + "…",
            " ".join(key.scopes),
            to_iso(key.expires_at) or "",
            to_iso(key.revoked_at) or "",
            f"{to_iso(key.last_used_at) or ''} {key.last_used_ip or ''}".strip(),
        )
    print_table(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a key at once."""

    async def revoke(db: Database) -> None:
        async with db.unit_of_work() as uow:
            await api_keys.revoke_key(uow, key_id)

    with_db(revoke)
    console.print(f"key {key_id} revoked")


def audit_log(
    location: Annotated[str, typer.Option(help="The location.")],
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Show a location's audit log."""

    async def fetch(db: Database) -> list[audit.AuditEntry]:
        async with db.reader() as session:
            return await audit.entries(session, location, limit=limit)

    entries = with_db(fetch)
    if as_json:
        echo_json(entry_out(entry) for entry in entries)
        return
    table = Table(id_column("when"), "action", id_column("actor"), "ip", "detail")
    for entry in entries:
        table.add_row(
            to_iso(entry.created_at),
            entry.action,
            entry.actor,
            entry.ip or "",
            json.dumps(entry.detail),
        )
    print_table(table)


@secrets_app.command("rotate-key")
def secrets_rotate_key() -> None:
    """Re-encrypt every stored secret with a new key.

    With CONTACTFLOW_SECRET_KEYS, put the new key first in the list (keep the old one after
    it) and run this; then the old key can be removed. With a key file, a new key is made,
    everything is re-encrypted, and the old key is dropped from the file.
    """
    settings = get_settings()

    async def rotate(db: Database) -> int:
        # In here, the key file is touched only where there is a database to re-encrypt.
        from_file = crypto.new_key_in_file(settings)
        count = await crypto.rotate_all(db)
        if from_file:
            crypto.drop_old_keys_from_file(settings)
        return count

    console.print(f"re-encrypted {with_db(rotate)} secrets with the newest key")
