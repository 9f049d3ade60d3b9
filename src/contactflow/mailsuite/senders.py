"""Sender identities: a From address and the SMTP server that sends for it (password
encrypted at rest, never shown again), with an optional per-minute throttle."""

import ipaddress
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite.contacts import ensure_workspace, normalize_email
from contactflow.mailsuite.mail_schemas import SenderCreate, SenderFields, SenderUpdate
from contactflow.mailsuite.models import Sender
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
from contactflow.platform.webhooks.ssrf import UrlPolicy

SENDER_NOT_FOUND = "Sender not found"


async def find_sender(session: AsyncSession, location_id: str, sender_id: str) -> Sender:
    row = await session.get(Sender, sender_id)
    if row is None or row.location_id != location_id:
        raise NotFound(SENDER_NOT_FOUND)
    return row


def smtp_server(sender: Sender, timeout: float) -> SmtpServer:
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


def _apply(row: Sender, body: SenderFields) -> None:
    given = body.model_fields_set
    if body.from_name is not None:
        row.from_name = body.from_name
    if "reply_to" in given:
        row.reply_to = normalize_email(body.reply_to, "replyTo") if body.reply_to else None
    if "smtp_username" in given:
        row.smtp_username = body.smtp_username or None
    if "smtp_password" in given:
        row.smtp_password = body.smtp_password or None
    if "max_per_minute" in given:
        row.max_per_minute = body.max_per_minute


async def create_sender(
    uow: UnitOfWork, location_id: str, body: SenderCreate, policy: UrlPolicy
) -> Sender:
    host = await _checked_host(policy, body.smtp_host)
    await ensure_workspace(uow, location_id)
    now = utcnow()
    row = Sender(
        id=new_id(),
        location_id=location_id,
        name=body.name,
        from_email=normalize_email(body.from_email, "fromEmail"),
        from_name="",
        smtp_host=host,
        smtp_port=body.smtp_port,
        smtp_security=body.smtp_security,
        created_at=now,
        updated_at=now,
    )
    _apply(row, body)
    uow.session.add(row)
    return row


async def update_sender(
    uow: UnitOfWork, location_id: str, sender_id: str, body: SenderUpdate, policy: UrlPolicy
) -> Sender:
    row = await find_sender(uow.session, location_id, sender_id)
    if body.smtp_host is not None:
        row.smtp_host = await _checked_host(policy, body.smtp_host)
    if body.name is not None:
        row.name = body.name
    if body.from_email is not None:
        row.from_email = normalize_email(body.from_email, "fromEmail")
    if body.smtp_port is not None:
        row.smtp_port = body.smtp_port
    if body.smtp_security is not None:
        row.smtp_security = body.smtp_security
    _apply(row, body)
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
    try:
        await check_host(policy, sender.smtp_host)
    except SmtpHostRefused as error:
        return SmtpAnswer(accepted=False, temporary=False, response=f"refused: {error}")
    connection = SmtpConnection(smtp_server(sender, smtp_timeout))
    try:
        return await connection.verify()
    finally:
        await connection.close()
