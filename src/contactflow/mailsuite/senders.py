"""Sender identities: a From address and where its mail goes (the SMTP server that sends for
it, password encrypted at rest and never shown again; or, on a sandbox location, the sandbox
outbox), with an optional per-minute throttle."""

import ipaddress
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite.contacts import ensure_workspace, normalize_email
from contactflow.mailsuite.mail_schemas import SenderCreate, SenderFields, SenderUpdate
from contactflow.mailsuite.models import SANDBOX_DELIVERY, SMTP_DELIVERY, Delivery, Sender
from contactflow.mailsuite.outgoing import ascii_domain
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.mailsuite.smtp import (
    SmtpAnswer,
    SmtpConnection,
    SmtpHostRefused,
    SmtpServer,
    check_host,
)
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound, invalid
from contactflow.platform.ids import new_id
from contactflow.platform.tenancy import find_location
from contactflow.platform.webhooks.ssrf import UrlPolicy

SENDER_NOT_FOUND = "Sender not found"


async def find_sender(session: AsyncSession, location_id: str, sender_id: str) -> Sender:
    row = await session.get(Sender, sender_id)
    if row is None or row.location_id != location_id:
        raise NotFound(SENDER_NOT_FOUND)
    return row


def smtp_server(sender: Sender, timeout: float) -> SmtpServer:
    if sender.smtp_host is None or sender.smtp_port is None or sender.smtp_security is None:
        raise SmtpHostRefused(f"the sender {sender.id} has no SMTP server")
    return SmtpServer(
        host=sender.smtp_host,
        port=sender.smtp_port,
        security=sender.smtp_security,
        username=sender.smtp_username,
        password=sender.smtp_password,
        timeout=timeout,
        local_hostname=ascii_domain(sender.from_email) or "localhost",
    )


_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def _host(value: str) -> str:
    """A host name or an IP address (IPv6 with or without brackets), lower-cased."""
    host = value.strip().lower().removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    host = host.removesuffix(".")
    if not _HOSTNAME.fullmatch(host):
        raise invalid("smtpHost", "a host name or an IP address, without scheme, port or path")
    return host


async def _checked_host(policy: UrlPolicy, value: str) -> str:
    host = _host(value)
    try:
        await check_host(policy, host)
    except SmtpHostRefused as error:
        raise invalid("smtpHost", str(error)) from error
    return host


async def _apply(row: Sender, body: SenderFields, policy: UrlPolicy, *, sandbox: bool) -> None:
    given = body.model_fields_set
    if body.from_name is not None:
        row.from_name = body.from_name
    if "reply_to" in given:
        row.reply_to = normalize_email(body.reply_to, "replyTo") if body.reply_to else None
    if body.delivery is not None:
        row.delivery = body.delivery
    if body.smtp_host is not None:
        row.smtp_host = await _checked_host(policy, body.smtp_host)
    if body.smtp_port is not None:
        row.smtp_port = body.smtp_port
    if body.smtp_security is not None:
        row.smtp_security = body.smtp_security
    if "smtp_username" in given:
        row.smtp_username = body.smtp_username or None
    if "smtp_password" in given:
        row.smtp_password = body.smtp_password or None
    if "max_per_minute" in given:
        row.max_per_minute = body.max_per_minute
    if row.delivery == SANDBOX_DELIVERY and not sandbox:
        raise invalid("delivery", "sandbox delivery is for sandbox locations only; use smtp")
    if row.delivery == SMTP_DELIVERY:
        for field, value in (
            ("smtpHost", row.smtp_host),
            ("smtpPort", row.smtp_port),
            ("smtpSecurity", row.smtp_security),
        ):
            if value is None:
                raise invalid(field, "required when delivery is smtp")


async def _is_sandbox(uow: UnitOfWork, location_id: str) -> bool:
    location = await find_location(uow.session, location_id)
    return location is not None and location.sandbox


async def create_sender(
    uow: UnitOfWork, location_id: str, body: SenderCreate, policy: UrlPolicy
) -> Sender:
    """A sandbox location's sender delivers to the sandbox outbox unless told `smtp`; a live
    location's always over SMTP."""
    sandbox = await _is_sandbox(uow, location_id)
    delivery: Delivery = SANDBOX_DELIVERY if sandbox else SMTP_DELIVERY
    row = Sender(
        id=new_id(), location_id=location_id, name=body.name, from_name="", delivery=delivery
    )
    await _apply(row, body, policy, sandbox=sandbox)
    row.from_email = normalize_email(body.from_email, "fromEmail")
    await ensure_workspace(uow, location_id)
    row.created_at = row.updated_at = utcnow()
    uow.session.add(row)
    return row


async def update_sender(
    uow: UnitOfWork, location_id: str, sender_id: str, body: SenderUpdate, policy: UrlPolicy
) -> Sender:
    row = await find_sender(uow.session, location_id, sender_id)
    await _apply(row, body, policy, sandbox=await _is_sandbox(uow, location_id))
    if body.name is not None:
        row.name = body.name
    if body.from_email is not None:
        row.from_email = normalize_email(body.from_email, "fromEmail")
    row.updated_at = utcnow()
    return row


async def list_senders(
    session: AsyncSession, location_id: str, *, before: Position | None, limit: int
) -> Page[Sender]:
    query = select(Sender).where(Sender.location_id == location_id)
    return await newest_first(
        session, query, Sender.created_at, Sender.id, before=before, limit=limit
    )


async def verify_sender(sender: Sender, policy: UrlPolicy, smtp_timeout: float) -> SmtpAnswer:
    """Connect, negotiate TLS and log in as a send would, without sending."""
    if sender.delivery == SANDBOX_DELIVERY:
        return SmtpAnswer(True, False, "sandbox delivery: mail is kept in the sandbox outbox")
    try:
        server = smtp_server(sender, smtp_timeout)
        await check_host(policy, server.host)
    except SmtpHostRefused as error:
        return SmtpAnswer(accepted=False, temporary=False, response=f"refused: {error}")
    connection = SmtpConnection(server)
    try:
        return await connection.verify()
    finally:
        await connection.close()
