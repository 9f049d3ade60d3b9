"""`contactflow oauth apps …` (app registration) and `contactflow users set-password`."""

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from contactflow.cli_support import AsJson, console, echo_json, id_column, print_table, with_db
from contactflow.platform.auth import passwords
from contactflow.platform.auth.oauth import clients
from contactflow.platform.auth.oauth.models import OAuthClient
from contactflow.platform.clock import to_iso
from contactflow.platform.db import Database

oauth_app = typer.Typer(help="The OAuth authorization server.", no_args_is_help=True)
apps_app = typer.Typer(help="Registered OAuth apps (clients).", no_args_is_help=True)
oauth_app.add_typer(apps_app, name="apps")
users_app = typer.Typer(help="Users who sign in at the authorization page.", no_args_is_help=True)


@apps_app.command("create")
def apps_create(
    company: Annotated[str, typer.Option(help="The company the app is registered for.")],
    name: Annotated[str, typer.Option(help="Shown to users on the consent page.")],
    redirect_uri: Annotated[
        list[str], typer.Option(help="An exact redirect URI (https, or http on loopback); repeat.")
    ],
    scope: Annotated[list[str], typer.Option(help="A scope the app may ask for; repeat.")],
    public: Annotated[
        bool, typer.Option("--public", help="A public app (no secret; PKCE alone).")
    ] = False,
    allow_ip: Annotated[
        list[str] | None, typer.Option(help="An address or CIDR its tokens may be used from.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Register an app; its client secret is shown once."""

    async def create(db: Database) -> tuple[OAuthClient, str | None]:
        async with db.unit_of_work() as uow:
            return await clients.create_client(
                uow,
                company_id=company,
                name=name,
                redirect_uris=redirect_uri,
                scopes=scope,
                public=public,
                allowed_ips=allow_ip or [],
            )

    client, secret = with_db(create)
    if as_json:
        typer.echo(json.dumps({"clientId": client.id, "clientSecret": secret}))
        return
    console.print(f"client id     {client.id}")
    if secret is None:
        console.print("public app: no client secret (PKCE protects its codes)")
    else:
        console.print(f"client secret {secret}\n(shown once: store it now)")


@apps_app.command("list")
def apps_list(
    company: Annotated[str | None, typer.Option(help="Only this company's apps.")] = None,
    as_json: AsJson = False,
) -> None:
    """List apps (never their secrets)."""

    async def fetch(db: Database) -> list[OAuthClient]:
        async with db.reader() as session:
            return await clients.list_clients(session, company)

    apps = with_db(fetch)
    if as_json:
        echo_json(
            {
                "clientId": client.id,
                "companyId": client.company_id,
                "name": client.name,
                "public": client.public,
                "redirectUris": client.redirect_uris,
                "scopes": client.scopes,
                "allowedIps": client.allowed_ips,
                "createdAt": to_iso(client.created_at),
            }
            for client in apps
        )
        return
    table = Table(
        id_column("client id"),
        id_column("company"),
        "name",
        "type",
        id_column("redirect URIs"),
        "scopes",
        "allowed IPs",
        "created",
    )
    for client in apps:
        table.add_row(
            client.id,
            client.company_id,
            client.name,
            "public" if client.public else "confidential",
            "\n".join(client.redirect_uris),
            " ".join(client.scopes),
            " ".join(client.allowed_ips) or "any",
            to_iso(client.created_at),
        )
    print_table(table)


@users_app.command("set-password")
def users_set_password(
    email: Annotated[str, typer.Option(help="The user's email.")],
    location: Annotated[
        str | None, typer.Option(help="The user's location, when several users share the email.")
    ] = None,
) -> None:
    """Set a user's password, read from standard input (one line) or asked for twice."""
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")

    async def store(db: Database) -> str:
        async with db.unit_of_work() as uow:
            user = await passwords.set_password(uow, email, password, location_id=location)
            return user.id

    user_id = with_db(store)
    console.print(f"password set for user {user_id}")
