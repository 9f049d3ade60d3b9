"""Routes of /mailsuite/v1 that send: senders, templates, emails and bounce reports."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from contactflow.mailsuite import emails, senders, templates
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
    ActivityList,
    BounceBody,
    BounceResult,
    Content,
    EmailCreate,
    EmailDetail,
    EmailEnvelope,
    EmailList,
    PreviewBody,
    SenderCreate,
    SenderEnvelope,
    SenderList,
    SenderUpdate,
    TemplateCreate,
    TemplateEnvelope,
    TemplateList,
    TemplateUpdate,
    Verified,
)
from contactflow.mailsuite.models import EmailStatus
from contactflow.mailsuite.smtp import host_policy
from contactflow.mailsuite.wire import (
    activity_out,
    email_out,
    sender_out,
    template_out,
)
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, SettingsDep

router = APIRouter(prefix=PREFIX, tags=["Mailsuite"], responses=ERROR_RESPONSES)
SenderId = Annotated[str, Path(alias="senderId", min_length=1, max_length=64)]
TemplateId = Annotated[str, Path(alias="templateId", min_length=1, max_length=64)]
EmailId = Annotated[str, Path(alias="emailId", min_length=1, max_length=64)]
CampaignId = Annotated[str, Path(alias="campaignId", min_length=1, max_length=64)]
IdQuery = Annotated[str | None, Query(max_length=64)]


# Senders ------------------------------------------------------------------------------


@router.get("/senders", response_model=SenderList, summary="List senders, newest first")
async def list_senders(
    caller: Reader, db: DatabaseDep, limit: Limit = 20, cursor: CursorQuery = None
) -> SenderList:
    async with db.reader() as session:
        page = await senders.list_senders(
            session, caller.location_id, before=position(cursor), limit=limit
        )
        return SenderList(
            senders=[sender_out(row) for row in page.rows], next_cursor=next_cursor(page)
        )


@router.post(
    "/senders",
    status_code=201,
    response_model=SenderEnvelope,
    summary="Add a sender identity with its SMTP server",
)
async def create_sender(
    body: SenderCreate, caller: Writer, db: DatabaseDep, settings: SettingsDep
) -> SenderEnvelope:
    policy = host_policy(settings.smtp_allowed_networks)
    async with db.unit_of_work() as uow:
        row = await senders.create_sender(uow, caller.location_id, body, policy)
        return SenderEnvelope(sender=sender_out(row))


@router.get("/senders/{senderId}", response_model=SenderEnvelope, summary="Get a sender")
async def get_sender(sender_id: SenderId, caller: Reader, db: DatabaseDep) -> SenderEnvelope:
    async with db.reader() as session:
        row = await senders.find_sender(session, caller.location_id, sender_id)
        return SenderEnvelope(sender=sender_out(row))


@router.put("/senders/{senderId}", response_model=SenderEnvelope, summary="Change a sender")
async def update_sender(
    sender_id: SenderId,
    body: SenderUpdate,
    caller: Writer,
    db: DatabaseDep,
    settings: SettingsDep,
) -> SenderEnvelope:
    policy = host_policy(settings.smtp_allowed_networks)
    async with db.unit_of_work() as uow:
        row = await senders.update_sender(uow, caller.location_id, sender_id, body, policy)
        return SenderEnvelope(sender=sender_out(row))


@router.post(
    "/senders/{senderId}/verify",
    response_model=Verified,
    summary="Check the SMTP settings: connect, TLS and log in, without sending",
)
async def verify_sender(
    sender_id: SenderId, caller: Writer, db: DatabaseDep, settings: SettingsDep
) -> Verified:
    async with db.reader() as session:
        row = await senders.find_sender(session, caller.location_id, sender_id)
    answer = await senders.verify_sender(
        row, host_policy(settings.smtp_allowed_networks), settings.smtp_timeout_seconds
    )
    return Verified(ok=answer.accepted, response=answer.response)


# Templates ----------------------------------------------------------------------------


@router.get("/templates", response_model=TemplateList, summary="List templates, newest first")
async def list_templates(
    caller: Reader, db: DatabaseDep, limit: Limit = 20, cursor: CursorQuery = None
) -> TemplateList:
    async with db.reader() as session:
        page = await templates.list_templates(
            session, caller.location_id, before=position(cursor), limit=limit
        )
        return TemplateList(
            templates=[template_out(row, templates.placeholders_of(row)) for row in page.rows],
            next_cursor=next_cursor(page),
        )


@router.post(
    "/templates", status_code=201, response_model=TemplateEnvelope, summary="Add a template"
)
async def create_template(
    body: TemplateCreate, caller: Writer, db: DatabaseDep
) -> TemplateEnvelope:
    async with db.unit_of_work() as uow:
        row = await templates.create_template(uow, caller.location_id, body)
        return TemplateEnvelope(template=template_out(row, templates.placeholders_of(row)))


@router.get("/templates/{templateId}", response_model=TemplateEnvelope, summary="Get a template")
async def get_template(
    template_id: TemplateId, caller: Reader, db: DatabaseDep
) -> TemplateEnvelope:
    async with db.reader() as session:
        row = await templates.find_template(session, caller.location_id, template_id)
        return TemplateEnvelope(template=template_out(row, templates.placeholders_of(row)))


@router.put("/templates/{templateId}", response_model=TemplateEnvelope, summary="Change a template")
async def update_template(
    template_id: TemplateId, body: TemplateUpdate, caller: Writer, db: DatabaseDep
) -> TemplateEnvelope:
    async with db.unit_of_work() as uow:
        row = await templates.update_template(uow, caller.location_id, template_id, body)
        return TemplateEnvelope(template=template_out(row, templates.placeholders_of(row)))


@router.post(
    "/templates/{templateId}/preview",
    response_model=Content,
    summary="The template merged for one contact; 422 names unknown placeholders",
)
async def preview_template(
    template_id: TemplateId, body: PreviewBody, caller: Reader, db: DatabaseDep
) -> Content:
    async with db.reader() as session:
        rendered = await templates.preview(
            session, caller.location_id, template_id, body.contact_id
        )
    return Content(subject=rendered.subject, html=rendered.html, text=rendered.text)


# Emails -------------------------------------------------------------------------------


@router.get("/emails", response_model=EmailList, summary="List emails, newest first")
async def list_emails(
    caller: Reader,
    db: DatabaseDep,
    limit: Limit = 20,
    cursor: CursorQuery = None,
    status: Annotated[EmailStatus | None, Query()] = None,
    contact_id: Annotated[str | None, Query(alias="contactId", max_length=64)] = None,
    campaign_id: Annotated[str | None, Query(alias="campaignId", max_length=64)] = None,
) -> EmailList:
    async with db.reader() as session:
        page = await emails.list_emails(
            session,
            caller.location_id,
            status=status,
            contact_id=contact_id,
            campaign_id=campaign_id,
            before=position(cursor),
            limit=limit,
        )
        return EmailList(
            emails=[email_out(row) for row in page.rows], next_cursor=next_cursor(page)
        )


@router.post(
    "/emails",
    status_code=201,
    response_model=EmailEnvelope,
    summary="Send an email now or at scheduledAt (queued; the workers send it)",
)
async def create_email(
    body: EmailCreate, caller: Writer, db: DatabaseDep, settings: SettingsDep, links: LinksDep
) -> EmailEnvelope:
    async with db.unit_of_work() as uow:
        row = await emails.create_email(
            uow, caller.location_id, body, links, settings.default_phone_region
        )
        return EmailEnvelope(email=email_out(row))


@router.get("/emails/{emailId}", response_model=EmailDetail, summary="Get an email and its content")
async def get_email(email_id: EmailId, caller: Reader, db: DatabaseDep) -> EmailDetail:
    async with db.reader() as session:
        row = await emails.find_email(session, caller.location_id, email_id)
        content = Content(subject=row.subject, html=row.html, text=row.text)
        return EmailDetail(email=email_out(row), content=content)


@router.post(
    "/emails/{emailId}/cancel", response_model=EmailEnvelope, summary="Cancel a scheduled email"
)
async def cancel_email(email_id: EmailId, caller: Writer, db: DatabaseDep) -> EmailEnvelope:
    async with db.unit_of_work() as uow:
        row = await emails.cancel_email(uow, caller.location_id, email_id)
        return EmailEnvelope(email=email_out(row))


@router.post(
    "/emails/{emailId}/resend",
    status_code=202,
    response_model=EmailEnvelope,
    summary="Send a failed email again: the same message, with the same Message-ID",
    description="A new attempt of a failed email, due now, with the retry schedule anew. "
    "409 when the email did not fail, or when its contact unsubscribed or bounced since.",
)
async def resend_email(email_id: EmailId, caller: Writer, db: DatabaseDep) -> EmailEnvelope:
    async with db.unit_of_work() as uow:
        row = await emails.resend_email(uow, caller.location_id, email_id)
        return EmailEnvelope(email=email_out(row))


@router.get(
    "/emails/{emailId}/activity",
    response_model=ActivityList,
    summary="Opens and clicks of an email, newest first",
)
async def email_activity(
    email_id: EmailId,
    caller: Reader,
    db: DatabaseDep,
    limit: Limit = 20,
    cursor: CursorQuery = None,
) -> ActivityList:
    async with db.reader() as session:
        page = await emails.email_activity(
            session, caller.location_id, email_id, before=position(cursor), limit=limit
        )
        return ActivityList(
            activity=[activity_out(row) for row in page.rows], next_cursor=next_cursor(page)
        )


@router.post(
    "/bounces",
    response_model=BounceResult,
    summary="Report a bounce; a hard bounce stops every further send to the address",
)
async def report_bounce(body: BounceBody, caller: Writer, db: DatabaseDep) -> BounceResult:
    async with db.unit_of_work() as uow:
        email, contact = await emails.record_bounce(uow, caller.location_id, body)
        return BounceResult(
            email_id=email.id if email else None,
            contact_id=contact.id,
            subscription_status=contact.status,
        )
