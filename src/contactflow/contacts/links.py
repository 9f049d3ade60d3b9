"""What a contact is linked to: tags, followers, campaigns and workflows, and the bulk
operations over many contacts."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts.businesses import find_business
from contactflow.contacts.events import contact_snapshot, membership_changed
from contactflow.contacts.models import Contact, ContactCampaign, ContactFollower, ContactWorkflow
from contactflow.contacts.normalize import normalize_tags
from contactflow.contacts.service import CONTACT_NOT_FOUND, find_contact, set_tags, touched
from contactflow.platform.clock import to_iso
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import invalid
from contactflow.platform.event_types import (
    CONTACT_CAMPAIGN_ADD,
    CONTACT_CAMPAIGN_REMOVE,
    CONTACT_WORKFLOW_ADD,
    CONTACT_WORKFLOW_REMOVE,
)
from contactflow.platform.tenancy import missing_users

# Finds a record of the location, or raises NotFound. Campaigns are Mailsuite's and workflows
# are flows: the composition root hands their look-ups in, so this context never reads
# another context's tables.
Lookup = Callable[[AsyncSession, str, str], Awaitable[object]]


async def add_tags(uow: UnitOfWork, location_id: str, contact_id: str, tags: list[str]) -> Contact:
    contact = await find_contact(uow.session, location_id, contact_id)
    before = contact_snapshot(contact)
    set_tags(contact, [*contact.tags, *tags])
    return await touched(uow, contact, before)


async def remove_tags(
    uow: UnitOfWork, location_id: str, contact_id: str, tags: list[str]
) -> Contact:
    contact = await find_contact(uow.session, location_id, contact_id)
    removed = set(normalize_tags(tags))
    before = contact_snapshot(contact)
    set_tags(contact, [tag for tag in contact.tags if tag not in removed])
    return await touched(uow, contact, before)


async def add_followers(
    uow: UnitOfWork, location_id: str, contact_id: str, user_ids: list[str]
) -> tuple[Contact, list[str]]:
    contact = await find_contact(uow.session, location_id, contact_id)
    unknown = await missing_users(uow.session, location_id, user_ids)
    if unknown:
        raise invalid("followers", f"users not found in this location: {', '.join(unknown)}")
    added = [user_id for user_id in dict.fromkeys(user_ids) if user_id not in contact.followers]
    before = contact_snapshot(contact)
    start = len(contact.follower_links)
    contact.follower_links.extend(
        ContactFollower(user_id=user_id, position=start + offset)
        for offset, user_id in enumerate(added)
    )
    return await touched(uow, contact, before), added


async def remove_followers(
    uow: UnitOfWork, location_id: str, contact_id: str, user_ids: list[str]
) -> tuple[Contact, list[str]]:
    contact = await find_contact(uow.session, location_id, contact_id)
    removed = [user_id for user_id in dict.fromkeys(user_ids) if user_id in contact.followers]
    before = contact_snapshot(contact)
    contact.follower_links = [
        link for link in contact.follower_links if link.user_id not in removed
    ]
    return await touched(uow, contact, before), removed


async def add_to_campaign(
    uow: UnitOfWork,
    location_id: str,
    contact_id: str,
    campaign_id: str,
    find_campaign: Lookup,
) -> None:
    contact = await find_contact(uow.session, location_id, contact_id)
    await find_campaign(uow.session, location_id, campaign_id)
    if await uow.session.get(ContactCampaign, (contact_id, campaign_id)) is None:
        uow.session.add(ContactCampaign(contact_id=contact_id, campaign_id=campaign_id))
        await membership_changed(uow, CONTACT_CAMPAIGN_ADD, contact, campaignId=campaign_id)


async def remove_from_campaigns(
    uow: UnitOfWork, location_id: str, contact_id: str, campaign_id: str | None = None
) -> None:
    """Leave one campaign, or every campaign when `campaign_id` is None."""
    contact = await find_contact(uow.session, location_id, contact_id)
    leaving = [
        campaign
        for campaign in await campaigns_of(uow.session, contact_id)
        if campaign_id is None or campaign == campaign_id
    ]
    await uow.session.execute(
        delete(ContactCampaign).where(
            ContactCampaign.contact_id == contact_id, ContactCampaign.campaign_id.in_(leaving)
        )
    )
    for campaign in leaving:
        await membership_changed(uow, CONTACT_CAMPAIGN_REMOVE, contact, campaignId=campaign)


async def campaigns_of(session: AsyncSession, contact_id: str) -> list[str]:
    rows = await session.scalars(
        select(ContactCampaign.campaign_id)
        .where(ContactCampaign.contact_id == contact_id)
        .order_by(ContactCampaign.added_at, ContactCampaign.campaign_id)
    )
    return list(rows)


async def add_to_workflow(
    uow: UnitOfWork,
    location_id: str,
    contact_id: str,
    workflow_id: str,
    event_start_time: datetime | None,
    find_workflow: Lookup,
) -> None:
    contact = await find_contact(uow.session, location_id, contact_id)
    await find_workflow(uow.session, location_id, workflow_id)
    enrolment = await uow.session.get(ContactWorkflow, (contact_id, workflow_id))
    if enrolment is None:
        uow.session.add(
            ContactWorkflow(
                contact_id=contact_id, workflow_id=workflow_id, event_start_time=event_start_time
            )
        )
    elif enrolment.event_start_time == event_start_time:
        return
    else:
        enrolment.event_start_time = event_start_time
    await membership_changed(
        uow,
        CONTACT_WORKFLOW_ADD,
        contact,
        workflowId=workflow_id,
        eventStartTime=to_iso(event_start_time),
    )


async def remove_from_workflow(
    uow: UnitOfWork, location_id: str, contact_id: str, workflow_id: str
) -> None:
    contact = await find_contact(uow.session, location_id, contact_id)
    enrolment = await uow.session.get(ContactWorkflow, (contact_id, workflow_id))
    if enrolment is not None:
        await uow.session.delete(enrolment)
        await membership_changed(uow, CONTACT_WORKFLOW_REMOVE, contact, workflowId=workflow_id)


async def workflows_of(session: AsyncSession, contact_id: str) -> list[str]:
    rows = await session.scalars(
        select(ContactWorkflow.workflow_id)
        .where(ContactWorkflow.contact_id == contact_id)
        .order_by(ContactWorkflow.added_at, ContactWorkflow.workflow_id)
    )
    return list(rows)


class BulkTagAction(StrEnum):
    add = "add"
    remove = "remove"


@dataclass(frozen=True)
class BulkOutcome:
    """One line per contact ("<id>: updated" or "<id>: <why not>") and the failures."""

    responses: list[str]
    error_count: int


async def bulk_tags(
    uow: UnitOfWork,
    location_id: str,
    action: BulkTagAction,
    contact_ids: list[str],
    tags: list[str],
    *,
    remove_all: bool,
) -> BulkOutcome:
    if not tags and not (action is BulkTagAction.remove and remove_all):
        raise invalid("tags", "name at least one tag, or set removeAllTags on remove")
    rows = await uow.session.scalars(
        select(Contact).where(Contact.location_id == location_id, Contact.id.in_(contact_ids))
    )
    found = {row.id: row for row in rows}
    removed = set(normalize_tags(tags))
    responses = []
    errors = 0
    for contact_id in dict.fromkeys(contact_ids):
        contact = found.get(contact_id)
        if contact is None:
            responses.append(f"{contact_id}: {CONTACT_NOT_FOUND}")
            errors += 1
            continue
        before = contact_snapshot(contact)
        if action is BulkTagAction.add:
            set_tags(contact, [*contact.tags, *tags])
        else:
            set_tags(contact, [] if remove_all else [t for t in contact.tags if t not in removed])
        await touched(uow, contact, before)
        responses.append(f"{contact_id}: updated")
    return BulkOutcome(responses=responses, error_count=errors)


async def bulk_business(
    uow: UnitOfWork, location_id: str, contact_ids: list[str], business_id: str | None
) -> list[str]:
    """Point contacts at a business (None clears it); returns the ids that changed."""
    if business_id is not None:
        await find_business(uow.session, location_id, business_id)
    rows = await uow.session.scalars(
        select(Contact).where(Contact.location_id == location_id, Contact.id.in_(contact_ids))
    )
    updated = []
    for contact in rows:
        before = contact_snapshot(contact)
        contact.business_id = business_id
        await touched(uow, contact, before)
        updated.append(contact.id)
    return updated
