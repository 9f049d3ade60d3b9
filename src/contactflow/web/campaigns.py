"""A location's campaigns: the list; a new one made from a list and a template; a campaign's
page with Send (now or at a time), Pause, Resume and Cancel, through the campaigns service
as the /mailsuite/v1/campaigns API does; and its report: the counts, a progress bar while
it sends (with its rate and the time left), and the counts over time as an SVG chart.

Every email sent, opened, clicked or bounced is an event in the location's log, so the
report follows the log (web/live.py) and is drawn again as it moves.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import campaign_api, campaign_state, campaigns, lists, senders, templates
from contactflow.mailsuite.api_common import LinksDep
from contactflow.mailsuite.mail_schemas import CampaignCounts, CampaignCreate
from contactflow.mailsuite.models import LAUNCHED, Campaign
from contactflow.mailsuite.tracking import Links
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import DomainError, NotFound
from contactflow.platform.tenancy import Location
from contactflow.web.charts import Chart, running_totals
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.live import live_stream, log_position
from contactflow.web.pages import api_docs, part, render
from contactflow.web.paging import LogPosition, cursor_position, older_url
from contactflow.web.refusals import MOMENT_HINT, by_field, form_texts, refusal_lines, utc_moment

router = APIRouter(prefix="/app/l/{location_id}/campaigns", include_in_schema=False)
CAMPAIGNS_PER_PAGE = 50
CHOICES = 100
FIELDS = ("name", "senderId", "templateId", "listId", "maxPerMinute")
CAMPAIGNS_DOCS = api_docs(campaign_api.router, campaign_api.list_campaigns)
CAMPAIGN_DOCS = api_docs(campaign_api.router, campaign_api.get_campaign)
NOTICES = {
    "created": "Campaign saved as a draft: send it now or at a time.",
    "sent": "Sending: every recipient's email is queued.",
    "paused": "Paused: emails not yet sent wait until you resume.",
    "resumed": "Sending again.",
    "cancelled": "Cancelled: emails not yet sent will not be.",
}


@dataclass(frozen=True)
class Progress:
    """How far a launched campaign's sending is: emails finished (sent, failed or bounced)
    of those it queued, how fast they went, and how long the rest should take."""

    finished: int
    total: int
    per_minute: float
    left: timedelta | None

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else self.finished * 100 // self.total


def progress_of(campaign: Campaign, tally: CampaignCounts, now: datetime) -> Progress:
    finished = tally.sent + tally.failed + tally.bounced
    began = max(campaign.scheduled_at or now, campaign.launched_at or now)
    minutes = (now - began).total_seconds() / 60
    per_minute = finished / minutes if finished and minutes > 0 else 0.0
    left = timedelta(minutes=tally.scheduled / per_minute) if per_minute else None
    return Progress(finished, finished + tally.scheduled, per_minute, left)


def _base(location_id: str) -> str:
    return f"/app/l/{location_id}/campaigns"


async def _report(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    """What the report block draws."""
    tally = (await campaigns.counts(session, [campaign.id]))[campaign.id]
    now = utcnow()
    chart: Chart | None = None
    if campaign.launched_at is not None:
        moments = await campaigns.moments(session, campaign.id)
        series = {
            "sent": moments.sent,
            "opened": moments.opened,
            "clicked": moments.clicked,
            "bounced": moments.bounced,
            "unsubscribed": moments.unsubscribed,
        }
        start = min([campaign.launched_at, *moments.sent])
        end = max(
            [
                start + timedelta(minutes=1),
                *(max(times, default=start) for times in series.values()),
            ]
        )
        chart = running_totals(series, start, end)
    return {
        "location_id": campaign.location_id,
        "campaign": campaign,
        "tally": tally,
        "progress": progress_of(campaign, tally, now),
        "sending": campaign.status == LAUNCHED and tally.scheduled > 0,
        "chart": chart,
    }


@router.get("")
async def campaigns_page(
    request: Request, viewer: ViewerDep, location_id: str, cursor: str | None = None
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        page = await campaigns.list_campaigns(
            session, location.id, before=cursor_position(cursor), limit=CAMPAIGNS_PER_PAGE
        )
        tallies = await campaigns.counts(session, [row.id for row in page.rows])
    older = older_url(_base(location.id), page.next)
    return render(
        "campaigns.html",
        viewer=viewer,
        location=location,
        api_docs=CAMPAIGNS_DOCS,
        campaigns=page.rows,
        tallies=tallies,
        older_url=older,
    )


async def _choices(session: AsyncSession, location_id: str) -> dict[str, Any]:
    return {
        "senders": (
            await senders.list_senders(session, location_id, before=None, limit=CHOICES)
        ).rows,
        "templates": (
            await templates.list_templates(session, location_id, before=None, limit=CHOICES)
        ).rows,
        "lists": (await lists.list_lists(session, location_id, before=None, limit=CHOICES)).rows,
    }


async def _new_form(
    request: Request,
    viewer: Viewer,
    location: Location,
    values: dict[str, str],
    errors: dict[str, str],
    message: str,
) -> Response:
    async with database(request).reader() as session:
        choices = await _choices(session, location.id)
    return render(
        "campaign_new.html",
        422 if errors or message else 200,
        viewer=viewer,
        location=location,
        values=values,
        errors=errors,
        message=message,
        **choices,
    )


@router.get("/new")
async def new_campaign(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    return await _new_form(request, viewer, location, {}, {}, "")


@router.post("/new")
async def create(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    values = form_texts(await request.form(), FIELDS)
    body = {name: value for name, value in values.items() if value.strip()}
    try:
        async with database(request).unit_of_work() as uow:
            campaign = await campaigns.create_campaign(
                uow, location.id, CampaignCreate.model_validate(body)
            )
    except (ValidationError, DomainError) as error:
        errors, message = by_field(refusal_lines(error), set(FIELDS))
        return await _new_form(request, viewer, location, values, errors, message)
    return RedirectResponse(f"{_base(location.id)}/{campaign.id}?done=created", 303)


async def _campaign_page(
    request: Request,
    viewer: Viewer,
    location: Location,
    campaign_id: str,
    *,
    status: int = 200,
    refusal: str = "",
    schedule_error: str = "",
) -> Response:
    db = database(request)
    after = await log_position(db, location.id)
    async with db.reader() as session:
        campaign = await campaigns.find_campaign(session, location.id, campaign_id)
        report = await _report(session, campaign)
        names = await _names(session, campaign)
    return render(
        "campaign.html",
        status,
        viewer=viewer,
        location=location,
        api_docs=CAMPAIGN_DOCS,
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
        refusal=refusal,
        schedule_error=schedule_error,
        live_url=f"{_base(location.id)}/{campaign.id}/live?after={after}",
        names=names,
        **report,
    )


async def _names(session: AsyncSession, campaign: Campaign) -> dict[str, str]:
    """The names of the campaign's sender, template and list (gone ones by id)."""
    names = {"sender": campaign.sender_id, "template": campaign.template_id, "list": ""}
    try:
        names["sender"] = (
            await senders.find_sender(session, campaign.location_id, campaign.sender_id)
        ).name
        names["template"] = (
            await templates.find_template(session, campaign.location_id, campaign.template_id)
        ).name
        if campaign.list_id is not None:
            names["list"] = (
                await lists.find_list(session, campaign.location_id, campaign.list_id)
            ).name
    except NotFound:
        pass
    return names


@router.get("/{campaign_id}")
async def campaign_page(
    request: Request, viewer: ViewerDep, location_id: str, campaign_id: str
) -> Response:
    location = viewer.location(location_id)
    return await _campaign_page(request, viewer, location, campaign_id)


@router.get("/{campaign_id}/live")
async def campaign_live(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    campaign_id: str,
    after: LogPosition = 0,
) -> Response:
    location = viewer.location(location_id)
    db = database(request)
    async with db.reader() as session:
        await campaigns.find_campaign(session, location.id, campaign_id)

    async def draw() -> str:
        async with db.reader() as session:
            report = await _report(
                session, await campaigns.find_campaign(session, location.id, campaign_id)
            )
        return part("campaign.html", "report", **report)

    return live_stream(request, db, viewer.signed_in.secret, location.id, after, "report", draw)


async def _act(
    request: Request,
    viewer: Viewer,
    location: Location,
    campaign_id: str,
    done: str,
    action: Callable[[UnitOfWork], Awaitable[None]],
) -> Response:
    """Do `action(uow)` to the campaign; its refusal is said on the campaign's page."""
    try:
        async with database(request).unit_of_work() as uow:
            await action(uow)
    except NotFound:
        raise PageNotFound from None
    except DomainError as refused:
        status = refused.status_code
        return await _campaign_page(
            request,
            viewer,
            location,
            campaign_id,
            status=status,
            refusal="; ".join(refusal_lines(refused)),
        )
    return RedirectResponse(f"{_base(location.id)}/{campaign_id}?done={done}", 303)


@router.post("/{campaign_id}/send")
async def send(
    request: Request, viewer: ViewerDep, location_id: str, campaign_id: str, links: LinksDep
) -> Response:
    location = viewer.location(location_id)
    raw = form_texts(await request.form(), ("scheduledAt",))["scheduledAt"]
    moment: datetime | None = None
    if raw:
        try:
            moment = utc_moment(raw)
        except ValueError:
            return await _campaign_page(
                request, viewer, location, campaign_id, status=422, schedule_error=MOMENT_HINT
            )

    async def launch(uow: UnitOfWork) -> None:
        await campaigns.launch(uow, location.id, campaign_id, moment, links)

    return await _act(request, viewer, location, campaign_id, "sent", launch)


async def _pause(uow: UnitOfWork, location_id: str, campaign_id: str, _: Links) -> None:
    await campaign_state.pause(uow, location_id, campaign_id)


async def _resume(uow: UnitOfWork, location_id: str, campaign_id: str, links: Links) -> None:
    await campaign_state.resume(uow, location_id, campaign_id, links)


async def _cancel(uow: UnitOfWork, location_id: str, campaign_id: str, _: Links) -> None:
    await campaigns.cancel(uow, location_id, campaign_id)


# Pause, Resume and Cancel: what each does, and the notice the page shows after it.
COURSE: dict[str, tuple[Callable[[UnitOfWork, str, str, Links], Awaitable[None]], str]] = {
    "pause": (_pause, "paused"),
    "resume": (_resume, "resumed"),
    "cancel": (_cancel, "cancelled"),
}


@router.post("/{campaign_id}/{step}")
async def change_course(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    campaign_id: str,
    step: str,
    links: LinksDep,
) -> Response:
    location = viewer.location(location_id)
    if step not in COURSE:
        raise PageNotFound
    change, done = COURSE[step]

    async def act(uow: UnitOfWork) -> None:
        await change(uow, location.id, campaign_id, links)

    return await _act(request, viewer, location, campaign_id, done, act)
