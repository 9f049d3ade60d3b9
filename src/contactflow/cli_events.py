"""`contactflow events tail` (the event log) and `contactflow webhooks …` (endpoints and their
deliveries)."""

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from contactflow.cli_support import AsJson, console, echo_json, id_column, print_table, with_db
from contactflow.platform import events, topics
from contactflow.platform.clock import as_utc, to_iso
from contactflow.platform.db import Database
from contactflow.platform.events_api import event_out
from contactflow.platform.webhooks import service as webhooks
from contactflow.platform.webhooks.api import delivery_out, endpoint_out
from contactflow.platform.webhooks.models import WebhookDelivery, WebhookEndpoint

events_app = typer.Typer(help="The event log.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook endpoints and deliveries.", no_args_is_help=True)
# How often `events tail` looks when nothing woke it: on SQLite, other processes' commits
# reach it only so (on PostgreSQL it listens for them).
TAIL_POLL_SECONDS = 0.5


@events_app.command("tail")
def events_tail(
    location: Annotated[str, typer.Option(help="The location whose log to follow.")],
    after: Annotated[int, typer.Option(help="Start after this sequence number.")] = 0,
    follow: Annotated[bool, typer.Option(help="Keep waiting for new events.")] = True,
) -> None:
    """Print a location's events as JSON lines, following new ones."""

    async def tail(db: Database) -> None:
        cursor = after
        async with db.listening():
            with db.wakeups.waiter([topics.EVENTS]) as waiter:
                while True:
                    waiter.clear()  # before reading: a commit during the read must wake us
                    async with db.reader() as session:
                        rows = await events.read_events(session, location, after=cursor, limit=500)
                    for row in rows:
                        typer.echo(event_out(row).model_dump_json(by_alias=True))
                        cursor = row.seq
                    if not rows and not follow:
                        return
                    if not rows:
                        await waiter.wait(TAIL_POLL_SECONDS)

    with_db(tail)


@webhooks_app.command("list")
def webhooks_list(
    location: Annotated[str, typer.Option(help="The location.")], as_json: AsJson = False
) -> None:
    """List a location's webhook endpoints."""

    async def fetch(db: Database) -> list[WebhookEndpoint]:
        async with db.reader() as session:
            return await webhooks.list_endpoints(session, location)

    endpoints = with_db(fetch)
    if as_json:
        echo_json(endpoint_out(row) for row in endpoints)
        return
    table = Table(
        id_column("id"),
        id_column("url"),
        "event types",
        "enabled",
        "failing since",
        "disabled because",
    )
    for row in endpoints:
        table.add_row(
            row.id,
            row.url,
            " ".join(row.event_types) or "all",
            "yes" if row.enabled else "no",
            to_iso(row.failing_since) or "",
            row.disabled_reason or "",
        )
    print_table(table)


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    location: Annotated[str, typer.Option(help="The location.")],
    endpoint: Annotated[str, typer.Option(help="The endpoint id.")],
    state: Annotated[str | None, typer.Option(help="pending, succeeded or failed.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Show an endpoint's newest deliveries."""

    async def fetch(db: Database) -> list[WebhookDelivery]:
        async with db.reader() as session:
            return await webhooks.list_deliveries(
                session, location, endpoint, limit=limit, state=state, before=None
            )

    deliveries = with_db(fetch)
    if as_json:
        echo_json(delivery_out(row) for row in deliveries)
        return
    table = Table(
        id_column("id"), id_column("event"), "type", "state", "attempts", "last status", "created"
    )
    for row in deliveries:
        table.add_row(
            row.id,
            row.event_id,
            row.event_type,
            row.state,
            str(row.attempts),
            str(row.last_status or row.last_error or ""),
            to_iso(row.created_at),
        )
    print_table(table)


@webhooks_app.command("resend")
def webhooks_resend(
    location: Annotated[str, typer.Option(help="The location.")],
    endpoint: Annotated[str, typer.Option(help="The endpoint id.")],
    delivery: Annotated[str, typer.Argument(help="The delivery id.")],
) -> None:
    """Send one delivery again now."""

    async def resend(db: Database) -> None:
        async with db.unit_of_work() as uow:
            await webhooks.resend(uow, location, endpoint, delivery)

    with_db(resend)
    console.print(f"delivery {delivery} queued")


@webhooks_app.command("recover")
def webhooks_recover(
    location: Annotated[str, typer.Option(help="The location.")],
    endpoint: Annotated[str, typer.Option(help="The endpoint id.")],
    since: Annotated[datetime, typer.Option(help="Requeue failures since this time (UTC).")],
) -> None:
    """Send again every delivery to the endpoint that failed since a time."""

    async def recover(db: Database) -> int:
        async with db.unit_of_work() as uow:
            return await webhooks.recover(uow, location, endpoint, as_utc(since))

    console.print(f"{with_db(recover)} deliveries queued")
