"""The sandbox outbox: where a sandbox location's mail is delivered instead of an SMTP server.

A sender whose delivery is `sandbox` hands its messages to `SandboxOutbox` exactly as other
senders hand theirs to an SMTP connection: the envelope and bytes `outgoing.wire_message`
wrote, kept as they are and answered like a server. Its "250" means the message is committed
here; the dispatcher then records the email sent (EmailSent event, timeline entry) as after
any send, and the tracking links in the kept HTML are the real ones. Like a server, the
outbox knows a message by what it carries: its `X-Contactflow-Email-Id` header names the
email. Only sandbox locations have such senders, and the outbox checks the location again
before it keeps anything, so a live location's mail never lands here.
"""

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite.models import SandboxMessage
from contactflow.mailsuite.outgoing import WireMessage
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.mailsuite.smtp import ANSWER_LIMIT, SmtpAnswer
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.errors import NotFound
from contactflow.platform.ids import new_id
from contactflow.platform.tenancy import find_location

MESSAGE_NOT_FOUND = "Sandbox message not found"
EMAIL_ID_HEADER = "X-Contactflow-Email-Id"


class SandboxOutbox:
    """The sandbox delivery of one location's sender, in the shape of an SMTP connection."""

    def __init__(self, db: Database, location_id: str) -> None:
        self.db = db
        self.location_id = location_id

    async def send(self, wire: WireMessage) -> SmtpAnswer:
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(wire.data)
        email_id = headers[EMAIL_ID_HEADER]
        if not email_id:
            return SmtpAnswer(False, False, f"554 the message has no {EMAIL_ID_HEADER} header")
        row = SandboxMessage(
            id=new_id(),
            location_id=self.location_id,
            email_id=str(email_id),
            mail_from=wire.mail_from,
            rcpt_to=wire.rcpt_to,
            message_id=str(headers["Message-ID"] or ""),
            subject=str(headers["Subject"] or "")[:1000],
            raw=wire.data,
            received_at=utcnow(),
        )
        async with self.db.unit_of_work() as uow:
            location = await find_location(uow.session, self.location_id)
            if location is None or not location.sandbox:
                return SmtpAnswer(
                    False, False, "554 a live location's mail never goes to the sandbox outbox"
                )
            uow.session.add(row)
        return SmtpAnswer(True, False, f"250 kept in the sandbox outbox as {row.id}"[:ANSWER_LIMIT])

    async def close(self) -> None:
        """Nothing is held open between messages."""


async def list_messages(
    session: AsyncSession, location_id: str | None, *, before: Position | None, limit: int
) -> Page[SandboxMessage]:
    """A location's messages, newest first (every location's for the operator: None)."""
    query = select(SandboxMessage)
    if location_id is not None:
        query = query.where(SandboxMessage.location_id == location_id)
    return await newest_first(
        session, query, SandboxMessage.received_at, SandboxMessage.id, before=before, limit=limit
    )


async def find_message(
    session: AsyncSession, location_id: str | None, message_id: str
) -> SandboxMessage:
    """The location's message (any location's for the operator: None), or NotFound."""
    row = await session.get(SandboxMessage, message_id)
    if row is None or location_id not in (None, row.location_id):
        raise NotFound(MESSAGE_NOT_FOUND)
    return row


@dataclass(frozen=True)
class ReadMessage:
    """A kept message as a mail client shows it: decoded headers and its two parts."""

    headers: list[tuple[str, str]]
    text: str | None
    html: str | None


def read_message(raw: bytes) -> ReadMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    return ReadMessage(
        headers=[(name, str(value)) for name, value in parsed.items()],
        text=str(text.get_content()) if text is not None else None,
        html=str(html.get_content()) if html is not None else None,
    )
