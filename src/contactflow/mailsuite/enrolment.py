"""Campaign membership recorded by the Contacts API (`POST /contacts/{id}/campaigns/{id}`),
acted on here: a consumer of the event log with its own cursor, as webhook fan-out is.

ContactCampaignAdd naming a Mailsuite campaign enrols the contact: its address and names come
from the contact's latest ContactCreate/ContactUpdate event before the membership (the
contexts share the log, not tables), it becomes (or is matched to) a Mailsuite contact, and
is mailed at once when the campaign is launched. A contact without a usable address is kept
as a skipped recipient with the reason. ContactCampaignRemove takes the recipient out while
its email has not gone. The Contacts API accepts only ids of Mailsuite campaigns; a membership
whose campaign is no longer there is passed.
The cursor advances in the transaction that enrols, so each membership is acted on once.
"""

import logging
from typing import Any

from sqlalchemy import select

from contactflow.mailsuite.campaigns import enrol, mailing, withdraw
from contactflow.mailsuite.contacts import contact_for_address
from contactflow.mailsuite.models import LAUNCHED, Campaign, Recipient
from contactflow.mailsuite.schemas import ContactCreate
from contactflow.mailsuite.tracking import Links
from contactflow.platform.db import Database, UnitOfWork
from contactflow.platform.errors import DomainError
from contactflow.platform.event_types import (
    CONTACT_CAMPAIGN_ADD,
    CONTACT_CAMPAIGN_REMOVE,
    CONTACT_CREATE,
    CONTACT_UPDATE,
)
from contactflow.platform.events import (
    Event,
    behind_query,
    locations_behind,
    next_batch,
)
from contactflow.platform.ids import new_id

log = logging.getLogger("contactflow.mailsuite")
CONSUMER = "mailsuite-campaigns"
WATCHED = [CONTACT_CAMPAIGN_ADD, CONTACT_CAMPAIGN_REMOVE]
# With no membership to act on, the cursor moves only this many events at a time.
CURSOR_STRIDE = 1000
_BEHIND = behind_query(CONSUMER, WATCHED, CURSOR_STRIDE)


async def _crm_contact(uow: UnitOfWork, event: Event, crm_id: str) -> dict[str, Any] | None:
    """The Contacts API contact as its latest event before `event` described it."""
    payload: dict[str, Any] | None = await uow.session.scalar(
        select(Event.payload)
        .where(
            Event.location_id == event.location_id,
            Event.type.in_([CONTACT_CREATE, CONTACT_UPDATE]),
            Event.subject_id == crm_id,
            Event.seq < event.seq,
        )
        .order_by(Event.seq.desc())
        .limit(1)
    )
    return payload


async def _skip(uow: UnitOfWork, campaign: Campaign, crm_id: str, reason: str) -> None:
    recorded = await uow.session.scalar(
        select(Recipient).where(
            Recipient.campaign_id == campaign.id,
            Recipient.crm_contact_id == crm_id,
            Recipient.contact_id.is_(None),
        )
    )
    if recorded is None:
        uow.session.add(
            Recipient(
                id=new_id(),
                campaign_id=campaign.id,
                crm_contact_id=crm_id,
                status="skipped",
                reason=reason,
                source="contacts-api",
            )
        )


async def _add(
    uow: UnitOfWork, event: Event, campaign: Campaign, crm_id: str, links: Links
) -> None:
    snapshot = await _crm_contact(uow, event, crm_id) or {}
    if not snapshot.get("email"):
        await _skip(uow, campaign, crm_id, "the contact has no email address")
        return
    try:
        fields = ContactCreate.model_validate(
            {
                "email": snapshot["email"],
                "firstName": snapshot.get("firstName"),
                "lastName": snapshot.get("lastName"),
                "source": "contacts-api",
            }
        )
        # No phone is copied, so no phone region is ever needed.
        contact = await contact_for_address(uow, event.location_id, fields, "", crm_id)
        prepared = await mailing(uow, campaign, links) if campaign.status == LAUNCHED else None
    except (DomainError, ValueError) as error:
        await _skip(uow, campaign, crm_id, f"cannot be enrolled: {error}")
        return
    await enrol(uow, campaign, contact, prepared, source="contacts-api", crm_contact_id=crm_id)


async def _remove(uow: UnitOfWork, campaign: Campaign, crm_id: str) -> None:
    contact_ids = await uow.session.scalars(
        select(Recipient.contact_id).where(
            Recipient.campaign_id == campaign.id,
            Recipient.crm_contact_id == crm_id,
            Recipient.contact_id.is_not(None),
        )
    )
    for contact_id in list(contact_ids):
        if contact_id is not None:
            await withdraw(uow, campaign, contact_id)


async def _apply(uow: UnitOfWork, event: Event, links: Links) -> None:
    campaign_id, crm_id = event.payload.get("campaignId"), event.payload.get("contactId")
    if not isinstance(campaign_id, str) or not isinstance(crm_id, str):
        return
    campaign = await uow.session.get(Campaign, campaign_id)
    if campaign is None or campaign.location_id != event.location_id:
        log.debug("campaign %s of event %s is no longer there", campaign_id, event.id)
        return
    if event.type == CONTACT_CAMPAIGN_ADD:
        await _add(uow, event, campaign, crm_id, links)
    else:
        await _remove(uow, campaign, crm_id)


async def _consume_location(db: Database, location_id: str, links: Links, batch: int) -> bool:
    async with db.unit_of_work() as uow:
        found = await next_batch(uow, CONSUMER, location_id, WATCHED, batch)
        if found is None:
            return False
        for event in found.events:
            await _apply(uow, event, links)
        found.done()
        return bool(found.events)


async def consume(db: Database, links: Links, batch: int = 200) -> bool:
    """One round over every location with unread events; True when it read any."""
    busy = False
    for location_id in await locations_behind(db, _BEHIND):
        busy = await _consume_location(db, location_id, links, batch) or busy
    return busy
