"""Routes of /mailsuite/v1/campaigns: mail merges to lists and contacts."""

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import campaigns
from contactflow.mailsuite.api_common import (
    PREFIX,
    CursorQuery,
    Limit,
    LinksDep,
    Reader,
    Writer,
    next_cursor,
    position,
)
from contactflow.mailsuite.mail_schemas import (
    CampaignCreate,
    CampaignEnvelope,
    CampaignList,
    CampaignOut,
    CampaignSend,
    RecipientList,
)
from contactflow.mailsuite.models import Campaign
from contactflow.mailsuite.schemas import MembersBody
from contactflow.mailsuite.wire import campaign_out, recipient_out
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep

router = APIRouter(prefix=PREFIX, tags=["Mailsuite"], responses=ERROR_RESPONSES)
CampaignId = Annotated[str, Path(alias="campaignId", min_length=1, max_length=64)]


async def _campaign_out(session: AsyncSession, rows: list[Campaign]) -> list[CampaignOut]:
    tallies = await campaigns.counts(session, [row.id for row in rows])
    return [campaign_out(row, tallies[row.id]) for row in rows]


@router.get("/campaigns", response_model=CampaignList, summary="List campaigns, newest first")
async def list_campaigns(
    caller: Reader, db: DatabaseDep, limit: Limit = 20, cursor: CursorQuery = None
) -> CampaignList:
    async with db.reader() as session:
        page = await campaigns.list_campaigns(
            session, caller.location_id, before=position(cursor), limit=limit
        )
        return CampaignList(
            campaigns=await _campaign_out(session, page.rows), next_cursor=next_cursor(page)
        )


@router.post(
    "/campaigns",
    status_code=201,
    response_model=CampaignEnvelope,
    summary="Add a campaign (a draft): a template to a list and/or contacts",
)
async def create_campaign(
    body: CampaignCreate, caller: Writer, db: DatabaseDep
) -> CampaignEnvelope:
    async with db.unit_of_work() as uow:
        row = await campaigns.create_campaign(uow, caller.location_id, body)
        await uow.session.flush()
        return CampaignEnvelope(campaign=(await _campaign_out(uow.session, [row]))[0])


@router.get("/campaigns/{campaignId}", response_model=CampaignEnvelope, summary="Get a campaign")
async def get_campaign(
    campaign_id: CampaignId, caller: Reader, db: DatabaseDep
) -> CampaignEnvelope:
    async with db.reader() as session:
        row = await campaigns.find_campaign(session, caller.location_id, campaign_id)
        return CampaignEnvelope(campaign=(await _campaign_out(session, [row]))[0])


@router.post(
    "/campaigns/{campaignId}/send",
    response_model=CampaignEnvelope,
    summary="Send the campaign now or at scheduledAt; 422 names unknown placeholders",
)
async def send_campaign(
    campaign_id: CampaignId, body: CampaignSend, caller: Writer, db: DatabaseDep, links: LinksDep
) -> CampaignEnvelope:
    async with db.unit_of_work() as uow:
        row = await campaigns.launch(uow, caller.location_id, campaign_id, body.scheduled_at, links)
        await uow.session.flush()
        return CampaignEnvelope(campaign=(await _campaign_out(uow.session, [row]))[0])


@router.post(
    "/campaigns/{campaignId}/cancel",
    response_model=CampaignEnvelope,
    summary="Cancel the campaign's emails not yet sent",
)
async def cancel_campaign(
    campaign_id: CampaignId, caller: Writer, db: DatabaseDep
) -> CampaignEnvelope:
    async with db.unit_of_work() as uow:
        row = await campaigns.cancel(uow, caller.location_id, campaign_id)
        await uow.session.flush()
        return CampaignEnvelope(campaign=(await _campaign_out(uow.session, [row]))[0])


@router.get(
    "/campaigns/{campaignId}/recipients",
    response_model=RecipientList,
    summary="A campaign's recipients (queued, skipped with the reason), newest first",
)
async def list_recipients(
    campaign_id: CampaignId,
    caller: Reader,
    db: DatabaseDep,
    limit: Limit = 20,
    cursor: CursorQuery = None,
) -> RecipientList:
    async with db.reader() as session:
        page = await campaigns.list_recipients(
            session, caller.location_id, campaign_id, before=position(cursor), limit=limit
        )
        return RecipientList(
            recipients=[recipient_out(row) for row in page.rows], next_cursor=next_cursor(page)
        )


@router.post(
    "/campaigns/{campaignId}/recipients",
    response_model=RecipientList,
    summary="Add recipients (mailed at once when the campaign is already sending)",
)
async def add_recipients(
    campaign_id: CampaignId, body: MembersBody, caller: Writer, db: DatabaseDep, links: LinksDep
) -> RecipientList:
    async with db.unit_of_work() as uow:
        rows = await campaigns.add_recipients(
            uow, caller.location_id, campaign_id, body.contact_ids, links
        )
        await uow.session.flush()
        return RecipientList(recipients=[recipient_out(row) for row in rows], next_cursor=None)
