"""Emails: one message to one contact, merged and fixed when it is queued (subject, bodies,
Message-ID), then sent by the workers. Cancel, resend, read, and the bounce reports that
follow."""

import html
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import events as mail_events
from contactflow.mailsuite.contacts import (
    contact_for_address,
    find_by_email,
    find_contact,
    merge_fields,
    normalize_email,
    set_status,
    unsendable_reason,
    workspace_of,
)
from contactflow.mailsuite.mail_schemas import BounceBody, EmailCreate
from contactflow.mailsuite.merge import Compiled
from contactflow.mailsuite.models import (
    BOUNCED,
    CANCELLED,
    FAILED,
    SCHEDULED,
    SENT,
    Activity,
    Email,
    EmailStatus,
    MailContact,
    Sender,
    Workspace,
)
from contactflow.mailsuite.outgoing import ascii_domain
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.mailsuite.references import referenced
from contactflow.mailsuite.schemas import ContactCreate
from contactflow.mailsuite.senders import find_sender
from contactflow.mailsuite.templates import check_known, compiled, find_template, render_for
from contactflow.mailsuite.timeline import add_entry
from contactflow.mailsuite.tracking import Links
from contactflow.platform import topics
from contactflow.platform.clock import as_utc, utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Conflict, NotFound, invalid
from contactflow.platform.event_types import EMAIL_BOUNCED
from contactflow.platform.ids import new_id

EMAIL_NOT_FOUND = "Email not found"


async def find_email(session: AsyncSession, location_id: str, email_id: str) -> Email:
    row = await session.get(Email, email_id)
    if row is None or row.location_id != location_id:
        raise NotFound(EMAIL_NOT_FOUND)
    return row


def queue(
    uow: UnitOfWork,
    sender: Sender,
    contact: MailContact,
    parts: Compiled,
    workspace: Workspace | None,
    links: Links,
    *,
    send_at: datetime,
    campaign_id: str | None = None,
    template_id: str | None = None,
    track_opens: bool = True,
    track_clicks: bool = True,
) -> Email:
    """Merge the message for the contact and add its email, due at `send_at`. The caller has
    checked that the contact may be mailed and that the placeholders are known."""
    email_id = new_id()
    domain = ascii_domain(sender.from_email)
    rendered = render_for(parts, workspace, merge_fields(contact), links.unsubscribe(email_id))
    now = utcnow()
    email = Email(
        id=email_id,
        location_id=contact.location_id,
        sender_id=sender.id,
        contact_id=contact.id,
        campaign_id=campaign_id,
        template_id=template_id,
        to_email=contact.email,
        to_name=contact.name,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        # Fixed now, so every attempt (and a resend after a crash) carries the same one.
        message_id=f"<{email_id}@{domain}>",
        track_opens=track_opens,
        track_clicks=track_clicks,
        status=SCHEDULED,
        scheduled_at=send_at,
        next_attempt_at=send_at,
        attempts=0,
        open_count=0,
        machine_open_count=0,
        click_count=0,
        machine_click_count=0,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(email)
    uow.wake(topics.MAIL)
    return email


async def create_email(
    uow: UnitOfWork, location_id: str, body: EmailCreate, links: Links, region: str
) -> Email:
    """Queue one email: to a contact or an address, from a template or the given content.
    Refused (422) for a contact that unsubscribed or bounced, and for unknown placeholders."""
    sender = await referenced(find_sender(uow.session, location_id, body.sender_id), "senderId")
    if (body.contact_id is None) == (body.to is None):
        raise invalid("contactId", "name the recipient with contactId or with to (not both)")
    if body.contact_id is not None:
        contact = await referenced(
            find_contact(uow.session, location_id, body.contact_id), "contactId"
        )
    else:
        address = normalize_email(body.to or "", "to")
        fields = ContactCreate.model_validate({"email": address, "source": "email"})
        contact = await contact_for_address(uow, location_id, fields, region)
    refused = unsendable_reason(contact)
    if refused is not None:
        raise invalid("contactId" if body.contact_id else "to", f"not sending: {refused}")
    if body.template_id is not None:
        if body.subject is not None or body.html is not None or body.text is not None:
            raise invalid("templateId", "give a template or subject and html, not both")
        template = await referenced(
            find_template(uow.session, location_id, body.template_id), "templateId"
        )
        parts = compiled(template.subject, template.html, template.text)
    elif body.subject is None or body.html is None:
        raise invalid("subject", "subject and html are required without a templateId")
    else:
        parts = compiled(body.subject, body.html, body.text or "")
    workspace = await workspace_of(uow.session, location_id)
    check_known(parts, workspace)
    send_at = max(as_utc(body.scheduled_at), utcnow()) if body.scheduled_at else utcnow()
    return queue(
        uow,
        sender,
        contact,
        parts,
        workspace,
        links,
        send_at=send_at,
        template_id=body.template_id,
        track_opens=body.track_opens,
        track_clicks=body.track_clicks,
    )


async def cancel_email(uow: UnitOfWork, location_id: str, email_id: str) -> Email:
    """Cancel an email that has not gone yet (one being sent right now cannot be)."""
    email = await find_email(uow.session, location_id, email_id)
    if email.status != SCHEDULED or email.lease_owner is not None:
        raise Conflict(f"The email is {email.status}; only a scheduled email can be cancelled")
    email.status = CANCELLED
    email.finished_at = email.updated_at = utcnow()
    return email


async def resend_email(uow: UnitOfWork, location_id: str, email_id: str) -> Email:
    """Send a failed email again: a new attempt of the same message (its Message-ID, subject
    and bodies), due now, with the retry schedule anew. Refused for an email that did not
    fail, and for a contact that may no longer be mailed (unsubscribed or bounced since)."""
    email = await find_email(uow.session, location_id, email_id)
    if email.status != FAILED:
        raise Conflict(f"The email is {email.status}; only a failed email can be resent")
    refused = unsendable_reason(await find_contact(uow.session, location_id, email.contact_id))
    if refused is not None:
        raise Conflict(f"Not resending: {refused}")
    email.status, email.error, email.attempts, email.finished_at = SCHEDULED, None, 0, None
    email.next_attempt_at = email.updated_at = utcnow()
    uow.wake(topics.MAIL)
    return email


async def find_emails(
    session: AsyncSession, location_id: str, email_ids: Iterable[str]
) -> dict[str, Email]:
    """The location's emails of these ids, by id (ids of no such email are left out)."""
    rows = await session.scalars(
        select(Email).where(Email.location_id == location_id, Email.id.in_(set(email_ids)))
    )
    return {row.id: row for row in rows}


async def list_emails(
    session: AsyncSession,
    location_id: str,
    *,
    status: EmailStatus | None,
    contact_id: str | None,
    campaign_id: str | None,
    before: Position | None,
    limit: int,
) -> Page[Email]:
    query = select(Email).where(Email.location_id == location_id)
    if status is not None:
        query = query.where(Email.status == status)
    if contact_id is not None:
        query = query.where(Email.contact_id == contact_id)
    if campaign_id is not None:
        query = query.where(Email.campaign_id == campaign_id)
    return await newest_first(
        session, query, Email.created_at, Email.id, before=before, limit=limit
    )


async def email_activity(
    session: AsyncSession,
    location_id: str,
    email_id: str,
    *,
    before: Position | None,
    limit: int,
) -> Page[Activity]:
    await find_email(session, location_id, email_id)
    query = select(Activity).where(Activity.email_id == email_id)
    return await newest_first(
        session, query, Activity.occurred_at, Activity.id, before=before, limit=limit
    )


def _message_id(value: str) -> str:
    return f"<{value.strip().strip('<>')}>"


async def record_bounce(
    uow: UnitOfWork, location_id: str, body: BounceBody
) -> tuple[Email | None, MailContact]:
    """A bounce report. A hard bounce marks the contact bounced, which stops every further
    send to it; a soft one is recorded on the email."""
    recipient = normalize_email(body.recipient, "recipient")
    email: Email | None = None
    if body.message_id is not None:
        email = await uow.session.scalar(
            select(Email).where(
                Email.location_id == location_id,
                Email.message_id == _message_id(body.message_id),
            )
        )
        if email is None:
            raise invalid("messageId", "no email with this Message-ID in this workspace")
        if email.to_email.lower() != recipient.lower():
            raise invalid("recipient", f"the email with this Message-ID went to {email.to_email}")
        contact = await find_contact(uow.session, location_id, email.contact_id)
    else:
        found = await find_by_email(uow.session, location_id, recipient)
        if found is None:
            raise invalid("recipient", "no contact with this address in this workspace")
        contact = found
    now = utcnow()
    reason = body.reason or f"{body.kind} bounce"
    if email is not None:
        email.bounce_kind, email.bounce_reason, email.bounced_at = body.kind, reason, now
        if body.kind == "hard" and email.status == SENT:
            email.status = BOUNCED
        email.updated_at = now
    if body.kind == "hard" and set_status(contact, BOUNCED, reason):
        await add_entry(uow, location_id, contact.id, "contact_updated", f"Hard bounce: {reason}")
    event = {"kind": body.kind, "reason": reason, "recipient": recipient}
    if email is not None:
        await mail_events.email_event(uow, EMAIL_BOUNCED, email, **event)
    else:
        await mail_events.address_event(uow, EMAIL_BOUNCED, contact, **event)
    return email, contact


TEST_SUBJECT = "contactflow test message"


async def queue_test_message(
    uow: UnitOfWork, sender_id: str | None, to: str, links: Links
) -> Email:
    """The operator's test message (`contactflow mailsuite send-test`): through the named
    sender, or the installation's only one, to an address (added as a contact, source
    "cli"), queued like any email so it is tracked and recorded."""
    if sender_id is not None:
        sender = await uow.session.get(Sender, sender_id)
        if sender is None:
            raise NotFound(f"No sender {sender_id}")
    else:
        found = list(await uow.session.scalars(select(Sender).limit(2)))
        if len(found) != 1:
            raise invalid("sender", "name the sender with --sender (there is not exactly one)")
        sender = found[0]
    fields = ContactCreate.model_validate({"email": normalize_email(to, "to"), "source": "cli"})
    contact = await contact_for_address(uow, sender.location_id, fields, region="")
    refused = unsendable_reason(contact)
    if refused is not None:
        raise invalid("to", f"not sending: {refused}")
    body = (
        "<p>This is a test message from contactflow Mailsuite, sent through the sender "
        f"{_escape(sender.name)}.</p>"
    )
    parts = compiled(TEST_SUBJECT, body, "")
    workspace = await workspace_of(uow.session, sender.location_id)
    return queue(uow, sender, contact, parts, workspace, links, send_at=utcnow())


def _escape(text: str) -> str:
    # The sender's name goes into the template source: braces must not become placeholders.
    return html.escape(text).replace("{", "&#123;").replace("}", "&#125;")
