"""Campaigns: one template merged for each contact of a list and/or chosen contacts, sent
through one sender, at most `maxPerMinute` a minute when set.

Launching fixes the recipients: each gets its own email (merged then), or is recorded as
skipped with the reason (unsubscribed, bounced, a value the template cannot use). Contacts
enrolled after the launch (through the API or the Contacts API's campaign membership) get
their email at once.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite.contacts import ensure_workspace, unsendable_reason
from contactflow.mailsuite.emails import queue
from contactflow.mailsuite.lists import contacts_by_id, find_list
from contactflow.mailsuite.mail_schemas import CampaignCounts, CampaignCreate
from contactflow.mailsuite.merge import Compiled
from contactflow.mailsuite.models import (
    CANCELLED,
    DRAFT,
    LAUNCHED,
    SCHEDULED,
    Campaign,
    Email,
    ListMember,
    MailContact,
    Recipient,
    Sender,
    Workspace,
)
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.mailsuite.references import referenced
from contactflow.mailsuite.senders import find_sender
from contactflow.mailsuite.templates import check_known, compiled, find_template
from contactflow.mailsuite.tracking import Links
from contactflow.platform.clock import as_utc, utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Conflict, NotFound, Unprocessable, invalid
from contactflow.platform.ids import new_id

CAMPAIGN_NOT_FOUND = "Campaign not found"


async def find_campaign(session: AsyncSession, location_id: str, campaign_id: str) -> Campaign:
    row = await session.get(Campaign, campaign_id)
    if row is None or row.location_id != location_id:
        raise NotFound(CAMPAIGN_NOT_FOUND)
    return row


async def _known_contacts(
    session: AsyncSession, location_id: str, contact_ids: list[str]
) -> list[MailContact]:
    wanted = list(dict.fromkeys(contact_ids))
    found = await contacts_by_id(session, wanted)
    unknown = [
        contact_id
        for contact_id in wanted
        if contact_id not in found or found[contact_id].location_id != location_id
    ]
    if unknown:
        raise invalid("contactIds", f"contacts not found in this workspace: {', '.join(unknown)}")
    return [found[contact_id] for contact_id in wanted]


async def create_campaign(uow: UnitOfWork, location_id: str, body: CampaignCreate) -> Campaign:
    session = uow.session
    await referenced(find_sender(session, location_id, body.sender_id), "senderId")
    await referenced(find_template(session, location_id, body.template_id), "templateId")
    if body.list_id is not None:
        await referenced(find_list(session, location_id, body.list_id), "listId")
    contacts = await _known_contacts(session, location_id, body.contact_ids)
    await ensure_workspace(uow, location_id)
    now = utcnow()
    campaign = Campaign(
        id=new_id(),
        location_id=location_id,
        name=body.name,
        sender_id=body.sender_id,
        template_id=body.template_id,
        list_id=body.list_id,
        status=DRAFT,
        max_per_minute=body.max_per_minute,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    await session.flush()
    session.add_all(
        Recipient(
            id=new_id(),
            campaign_id=campaign.id,
            contact_id=contact.id,
            status="pending",
            added_at=now,
        )
        for contact in contacts
    )
    return campaign


@dataclass(frozen=True)
class Mailing:
    """What queueing one recipient's email needs, loaded once per launch or enrolment."""

    campaign: Campaign
    sender: Sender
    parts: Compiled
    workspace: Workspace | None
    links: Links
    send_at: datetime


async def mailing(uow: UnitOfWork, campaign: Campaign, links: Links) -> Mailing:
    """What the campaign's emails need; 422 when its template names unknown placeholders."""
    session = uow.session
    template = await find_template(session, campaign.location_id, campaign.template_id)
    parts = compiled(template.subject, template.html, template.text)
    workspace = await session.get(Workspace, campaign.location_id)
    check_known(parts, workspace)
    sender = await find_sender(session, campaign.location_id, campaign.sender_id)
    send_at = max(campaign.scheduled_at or utcnow(), utcnow())
    return Mailing(campaign, sender, parts, workspace, links, send_at)


def _enqueue(
    uow: UnitOfWork, prepared: Mailing, recipient: Recipient, contact: MailContact
) -> None:
    """Queue the recipient's email, or record why it is skipped."""
    refused = unsendable_reason(contact)
    if refused is not None:
        recipient.status, recipient.reason = "skipped", refused
        return
    try:
        email = queue(
            uow,
            prepared.sender,
            contact,
            prepared.parts,
            prepared.workspace,
            prepared.links,
            send_at=prepared.send_at,
            campaign_id=prepared.campaign.id,
            template_id=prepared.campaign.template_id,
        )
    except Unprocessable as error:
        recipient.status, recipient.reason = "skipped", str(error)
        return
    recipient.status, recipient.reason, recipient.email_id = "queued", None, email.id


async def launch(
    uow: UnitOfWork,
    location_id: str,
    campaign_id: str,
    scheduled_at: datetime | None,
    links: Links,
) -> Campaign:
    """Send the campaign now or at `scheduled_at`; 422 naming unknown placeholders."""
    campaign = await find_campaign(uow.session, location_id, campaign_id)
    if campaign.status != DRAFT:
        raise Conflict(f"The campaign is {campaign.status}; only a draft can be sent")
    now = utcnow()
    campaign.scheduled_at = as_utc(scheduled_at) if scheduled_at else now
    prepared = await mailing(uow, campaign, links)
    session = uow.session
    if campaign.list_id is not None:
        present = select(Recipient.contact_id).where(Recipient.campaign_id == campaign.id)
        members = await session.scalars(
            select(ListMember.contact_id).where(
                ListMember.list_id == campaign.list_id, ListMember.contact_id.not_in(present)
            )
        )
        session.add_all(
            Recipient(
                id=new_id(),
                campaign_id=campaign.id,
                contact_id=contact_id,
                status="pending",
                source="list",
                added_at=now,
            )
            for contact_id in members
        )
        await session.flush()
    await queue_pending(uow, prepared)
    campaign.status, campaign.launched_at, campaign.updated_at = LAUNCHED, now, now
    return campaign


async def queue_pending(uow: UnitOfWork, prepared: Mailing) -> None:
    """Queue the email of every recipient still waiting for one (or record why not)."""
    pending = list(
        await uow.session.scalars(
            select(Recipient).where(
                Recipient.campaign_id == prepared.campaign.id, Recipient.status == "pending"
            )
        )
    )
    contacts = await contacts_by_id(
        uow.session, [row.contact_id for row in pending if row.contact_id]
    )
    for recipient in pending:
        if recipient.contact_id is not None:
            _enqueue(uow, prepared, recipient, contacts[recipient.contact_id])


async def enrol(
    uow: UnitOfWork,
    campaign: Campaign,
    contact: MailContact,
    prepared: Mailing | None,
    *,
    source: str,
    crm_contact_id: str | None = None,
) -> Recipient:
    """Add one recipient: waiting for the launch of a draft, mailed at once when launched
    (`prepared` is the launched campaign's mailing). A contact already enrolled keeps its
    place (and its email)."""
    session = uow.session
    recipient = await session.scalar(
        select(Recipient).where(
            Recipient.campaign_id == campaign.id, Recipient.contact_id == contact.id
        )
    )
    if recipient is not None and recipient.status != "removed":
        return recipient
    if recipient is None:
        recipient = Recipient(
            id=new_id(),
            campaign_id=campaign.id,
            contact_id=contact.id,
            source=source,
            added_at=utcnow(),
        )
        session.add(recipient)
    recipient.status, recipient.reason, recipient.crm_contact_id = "pending", None, crm_contact_id
    if campaign.status == LAUNCHED and prepared is not None:
        _enqueue(uow, prepared, recipient, contact)
    elif campaign.status == CANCELLED:
        recipient.status, recipient.reason = "skipped", "the campaign was cancelled"
    return recipient


async def add_recipients(
    uow: UnitOfWork, location_id: str, campaign_id: str, contact_ids: list[str], links: Links
) -> list[Recipient]:
    campaign = await find_campaign(uow.session, location_id, campaign_id)
    if campaign.status == CANCELLED:
        raise Conflict("The campaign is cancelled")
    contacts = await _known_contacts(uow.session, location_id, contact_ids)
    prepared = await mailing(uow, campaign, links) if campaign.status == LAUNCHED else None
    return [await enrol(uow, campaign, contact, prepared, source="api") for contact in contacts]


async def withdraw(uow: UnitOfWork, campaign: Campaign, contact_id: str) -> None:
    """Take a recipient out; its email is cancelled when it has not gone yet."""
    recipient = await uow.session.scalar(
        select(Recipient).where(
            Recipient.campaign_id == campaign.id, Recipient.contact_id == contact_id
        )
    )
    if recipient is None or recipient.status == "removed":
        return
    if recipient.email_id is not None:
        email = await uow.session.get(Email, recipient.email_id)
        if email is None or email.status != SCHEDULED or email.lease_owner is not None:
            return  # already sent or being sent: it stays a recipient of record
        email.status, email.finished_at = CANCELLED, utcnow()
    recipient.status, recipient.reason = "removed", "taken out of the campaign"


async def cancel(uow: UnitOfWork, location_id: str, campaign_id: str) -> Campaign:
    """Stop the campaign: emails not yet sent are cancelled (one being sent finishes)."""
    campaign = await find_campaign(uow.session, location_id, campaign_id)
    if campaign.status == CANCELLED:
        return campaign
    now = utcnow()
    await uow.session.execute(
        update(Email)
        .where(
            Email.campaign_id == campaign.id,
            Email.status == SCHEDULED,
            Email.lease_owner.is_(None),
        )
        .values(status=CANCELLED, finished_at=now, updated_at=now)
    )
    campaign.status, campaign.cancelled_at, campaign.updated_at = CANCELLED, now, now
    return campaign


async def list_campaigns(
    session: AsyncSession, location_id: str, *, before: Position | None, limit: int
) -> Page[Campaign]:
    query = select(Campaign).where(Campaign.location_id == location_id)
    return await newest_first(
        session, query, Campaign.created_at, Campaign.id, before=before, limit=limit
    )


async def list_recipients(
    session: AsyncSession,
    location_id: str,
    campaign_id: str,
    *,
    before: Position | None,
    limit: int,
) -> Page[Recipient]:
    await find_campaign(session, location_id, campaign_id)
    query = select(Recipient).where(Recipient.campaign_id == campaign_id)
    return await newest_first(
        session, query, Recipient.added_at, Recipient.id, before=before, limit=limit
    )


async def counts(session: AsyncSession, campaign_ids: list[str]) -> dict[str, CampaignCounts]:
    """Recipients and email outcomes of each campaign."""
    recipients: dict[str, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    emails: dict[str, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    if campaign_ids:
        rows = await session.execute(
            select(Recipient.campaign_id, Recipient.status, func.count())
            .where(Recipient.campaign_id.in_(campaign_ids))
            .group_by(Recipient.campaign_id, Recipient.status)
        )
        for campaign_id, status, count in rows:
            recipients[campaign_id][status] = int(count)
        outcomes = await session.execute(
            select(
                Email.campaign_id,
                Email.status,
                func.count(),
                func.count(Email.first_opened_at),
                func.count(Email.first_clicked_at),
                func.count(Email.unsubscribed_at),
            )
            .where(Email.campaign_id.in_(campaign_ids))
            .group_by(Email.campaign_id, Email.status)
        )
        for of_campaign, email_status, count, opened, clicked, unsubscribed in outcomes:
            if of_campaign is None:
                continue
            tally = emails[of_campaign]
            tally[email_status] = int(count)
            tally["opened"] = tally.get("opened", 0) + int(opened)
            tally["clicked"] = tally.get("clicked", 0) + int(clicked)
            tally["unsubscribed"] = tally.get("unsubscribed", 0) + int(unsubscribed)
    return {
        campaign_id: CampaignCounts(
            recipients=sum(n for s, n in recipients[campaign_id].items() if s != "removed"),
            skipped=recipients[campaign_id].get("skipped", 0),
            scheduled=emails[campaign_id].get("scheduled", 0)
            + emails[campaign_id].get("sending", 0),
            sent=emails[campaign_id].get("sent", 0),
            failed=emails[campaign_id].get("failed", 0),
            bounced=emails[campaign_id].get("bounced", 0),
            opened=emails[campaign_id].get("opened", 0),
            clicked=emails[campaign_id].get("clicked", 0),
            unsubscribed=emails[campaign_id].get("unsubscribed", 0),
        )
        for campaign_id in campaign_ids
    }


@dataclass(frozen=True)
class Moments:
    """When each of a campaign's emails went out, was first opened and clicked, bounced, and
    brought an unsubscribe (each list holds only the emails it happened to)."""

    sent: list[datetime]
    opened: list[datetime]
    clicked: list[datetime]
    bounced: list[datetime]
    unsubscribed: list[datetime]


async def moments(session: AsyncSession, campaign_id: str) -> Moments:
    """The times a campaign's report draws over time, read by campaign like its counts."""
    columns = (
        Email.sent_at,
        Email.first_opened_at,
        Email.first_clicked_at,
        Email.bounced_at,
        Email.unsubscribed_at,
    )
    rows = list(await session.execute(select(*columns).where(Email.campaign_id == campaign_id)))
    found: list[list[datetime]] = [[] for _ in columns]
    for row in rows:
        for times, moment in zip(found, row, strict=True):
            if moment is not None:
                times.append(as_utc(moment))
    return Moments(*found)
