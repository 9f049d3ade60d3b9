"""A launched campaign's course: paused and started again, and finished once no email of it
is left to send (CampaignFinished, once per campaign)."""

from collections.abc import Iterable

from sqlalchemy import ColumnElement, or_, select

from contactflow.mailsuite.campaigns import counts, find_campaign, mailing, queue_pending
from contactflow.mailsuite.models import LAUNCHED, PAUSED, SCHEDULED, SENDING, Campaign, Email
from contactflow.mailsuite.tracking import Links
from contactflow.platform import events, topics
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Conflict
from contactflow.platform.event_types import CAMPAIGN_FINISHED


async def pause(uow: UnitOfWork, location_id: str, campaign_id: str) -> Campaign:
    """Hold the campaign's unsent emails (one being sent finishes); pausing twice is one."""
    campaign = await find_campaign(uow.session, location_id, campaign_id)
    if campaign.status == PAUSED:
        return campaign
    if campaign.status != LAUNCHED:
        raise Conflict(f"The campaign is {campaign.status}; only a launched one can be paused")
    campaign.status, campaign.updated_at = PAUSED, utcnow()
    return campaign


async def resume(uow: UnitOfWork, location_id: str, campaign_id: str, links: Links) -> Campaign:
    """Send a paused campaign's held emails, and those of contacts enrolled meanwhile."""
    campaign = await find_campaign(uow.session, location_id, campaign_id)
    if campaign.status != PAUSED:
        raise Conflict(f"The campaign is {campaign.status}; only a paused one can be resumed")
    campaign.status, campaign.updated_at = LAUNCHED, utcnow()
    await queue_pending(uow, await mailing(uow, campaign, links))
    uow.wake(topics.MAIL)  # the emails it held are due again
    return campaign


def not_held() -> ColumnElement[bool]:
    """Emails not held by a paused campaign (those are not due until it starts again)."""
    paused = select(Campaign.id).where(Campaign.status == PAUSED)
    return or_(Email.campaign_id.is_(None), Email.campaign_id.not_in(paused))


async def finish_if_done(uow: UnitOfWork, campaign_ids: Iterable[str | None]) -> None:
    """CampaignFinished for each launched campaign whose last email has just finished."""
    for campaign_id in sorted({item for item in campaign_ids if item is not None}):
        # Serialised per campaign: of two last emails finishing at once, the second to take
        # the lock sees the first's commit and is the one that announces the end.
        await uow.lock(f"mailsuite-campaign-finished:{campaign_id}")
        campaign = await uow.session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != LAUNCHED:
            continue
        await uow.session.flush()
        waiting = await uow.session.scalar(
            select(Email.id)
            .where(Email.campaign_id == campaign_id, Email.status.in_([SCHEDULED, SENDING]))
            .limit(1)
        )
        announced = await uow.session.scalar(
            select(events.Event.id)
            .where(
                events.Event.location_id == campaign.location_id,
                events.Event.type == CAMPAIGN_FINISHED,
                events.Event.subject_id == campaign_id,
            )
            .limit(1)
        )
        if waiting is not None or announced is not None:
            continue
        tally = (await counts(uow.session, [campaign_id]))[campaign_id]
        payload = {
            "type": CAMPAIGN_FINISHED,
            "locationId": campaign.location_id,
            "campaignId": campaign.id,
            "name": campaign.name,
            "launchedAt": to_iso(campaign.launched_at),
            "counts": tally.model_dump(by_alias=True),
        }
        await events.append(
            uow, campaign.location_id, CAMPAIGN_FINISHED, payload, subject_id=campaign.id
        )
