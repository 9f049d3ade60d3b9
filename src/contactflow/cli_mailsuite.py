"""`contactflow mailsuite …`: a test message through a sender, a failed email sent again, a
contact's timeline, and the sandbox outbox."""

import asyncio
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from contactflow.cli_support import AsJson, console, echo_json, id_column, print_table, with_db
from contactflow.mailsuite import sandbox
from contactflow.mailsuite.emails import queue_test_message, resend_email
from contactflow.mailsuite.models import Email, MailContact, SandboxMessage, TimelineEntry
from contactflow.mailsuite.sending import Dispatcher
from contactflow.mailsuite.timeline import contact_timeline
from contactflow.mailsuite.tracking import Links, tracking_key
from contactflow.mailsuite.wire import sandbox_message_detail, sandbox_message_out, timeline_out
from contactflow.mailsuite.worker import send_settings
from contactflow.platform.clock import to_iso
from contactflow.platform.db import Database
from contactflow.platform.errors import NotFound
from contactflow.platform.jobs import worker_name
from contactflow.settings import Settings, get_settings

mailsuite_app = typer.Typer(help="The Mailsuite workspace.", no_args_is_help=True)


async def _send_now(db: Database, settings: Settings, email_id: str) -> Email:
    """Send the queued email now, through this process, and wait for its outcome (the email
    as it is then)."""
    dispatcher = Dispatcher(db, send_settings(settings), worker_name())
    deadline = asyncio.get_running_loop().time() + 4 * settings.smtp_timeout_seconds
    while True:
        # A running worker may take the email first: then its outcome is awaited.
        await dispatcher.run_once(only=email_id)
        async with db.reader() as session:
            email = await session.get(Email, email_id)
        assert email is not None
        attempted = email.status == "scheduled" and email.attempts > 0
        if email.status in ("sent", "failed") or attempted:
            return email
        if asyncio.get_running_loop().time() > deadline:
            return email
        await asyncio.sleep(0.2)


def _report(email: Email) -> None:
    """Print the email's outcome and the server's answer; exit 1 unless it was sent."""
    console.print(f"email {email.id} {email.message_id}: {email.status}")
    console.print(f"server answered: {email.last_response or email.error or '(nothing)'}")
    if email.status == "scheduled":
        console.print(f"temporary failure: the workers retry at {to_iso(email.next_attempt_at)}")
    if email.status != "sent":
        raise typer.Exit(1)


@mailsuite_app.command("send-test")
def send_test(
    to: Annotated[str, typer.Option(help="The address to send the test message to.")],
    sender: Annotated[
        str | None, typer.Option(help="The sender's id (needed when there are several).")
    ] = None,
) -> None:
    """Send a test message through a sender's SMTP server now, and show the server's answer."""
    settings = get_settings()

    async def run(db: Database) -> Email:
        links = Links(settings.base_url, await tracking_key(db))
        async with db.unit_of_work() as uow:
            queued = await queue_test_message(uow, sender, to, links)
        return await _send_now(db, settings, queued.id)

    _report(with_db(run))


@mailsuite_app.command("resend")
def resend(email_id: Annotated[str, typer.Argument(help="The failed email's id.")]) -> None:
    """Send a failed email again now (the same message, with the same Message-ID), and show
    the server's answer."""
    settings = get_settings()

    async def run(db: Database) -> Email:
        async with db.unit_of_work() as uow:
            found = await uow.session.get(Email, email_id)
            if found is None:
                raise NotFound(f"No email {email_id}")
            await resend_email(uow, found.location_id, email_id)
        return await _send_now(db, settings, email_id)

    _report(with_db(run))


@mailsuite_app.command("timeline")
def timeline(
    contact: Annotated[str, typer.Argument(help="The Mailsuite contact's id, or its email.")],
    location: Annotated[
        str | None, typer.Option(help="The location (needed to name the contact by email).")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Show a contact's activity timeline, newest first."""

    async def fetch(db: Database) -> tuple[MailContact, list[TimelineEntry]]:
        async with db.reader() as session:
            query = select(MailContact).where(MailContact.id == contact)
            if "@" in contact:
                if location is None:
                    raise NotFound("name the location with --location to find a contact by email")
                query = select(MailContact).where(
                    MailContact.location_id == location,
                    MailContact.email_lower == contact.lower(),
                )
            found = await session.scalar(query)
            if found is None:
                raise NotFound(f"no Mailsuite contact {contact}")
            page = await contact_timeline(
                session, found.location_id, found.id, before=None, limit=limit
            )
            return found, page.rows

    found, entries = with_db(fetch)
    if as_json:
        echo_json(timeline_out(entry) for entry in entries)
        return
    console.print(f"[bold]{found.email}[/bold]  contact {found.id}  ({found.status})")
    table = Table(id_column("when"), "what", "detail", "source")
    for entry in entries:
        table.add_row(to_iso(entry.occurred_at), entry.kind, entry.body, entry.source_system)
    print_table(table)


@mailsuite_app.command("outbox")
def outbox(
    message: Annotated[
        str | None, typer.Argument(help="A message's id: show that message whole.")
    ] = None,
    location: Annotated[str | None, typer.Option(help="Only this location's messages.")] = None,
    limit: Annotated[int, typer.Option(help="How many messages, newest first.")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the list, or the message, as JSON.")
    ] = False,
    raw: Annotated[bool, typer.Option(help="Print the message's raw MIME.")] = False,
) -> None:
    """The sandbox outbox: messages sandbox senders delivered, newest first, or one of them."""
    if message is None:
        if raw:
            raise typer.BadParameter("name the message to print its raw MIME", param_hint="--raw")
        _list_outbox(location, limit, as_json=as_json)
        return

    async def fetch(db: Database) -> SandboxMessage:
        async with db.reader() as session:
            return await sandbox.find_message(session, location, message)

    row = with_db(fetch)
    if raw:
        sys.stdout.buffer.write(row.raw)
        return
    detail = sandbox_message_detail(row)
    if as_json:
        typer.echo(detail.model_dump_json(by_alias=True, indent=2))
        return
    for header in detail.headers:
        console.print(
            f"[bold]{escape(header.name)}:[/bold] {escape(header.value)}", highlight=False
        )
    console.print()
    console.print(detail.text or detail.html or "", highlight=False, markup=False)


def _list_outbox(location: str | None, limit: int, *, as_json: bool) -> None:
    async def fetch(db: Database) -> list[SandboxMessage]:
        async with db.reader() as session:
            page = await sandbox.list_messages(session, location, before=None, limit=limit)
            return page.rows

    rows = [sandbox_message_out(row) for row in with_db(fetch)]
    if as_json:
        echo_json(rows)
        return
    table = Table(id_column("received"), id_column("id"), "to", "subject", id_column("email"))
    for row in rows:
        table.add_row(row.received_at, row.id, row.rcpt_to, row.subject, row.email_id)
    print_table(table)
