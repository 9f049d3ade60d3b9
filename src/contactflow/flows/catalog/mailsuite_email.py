"""The Mailsuite app's actions on mail: single emails (now, later, from a template),
templates, and campaigns (their recipients, start and pause)."""

from sqlalchemy import select

from contactflow.flows.catalog.mailsuite import COUNTS_SAMPLE
from contactflow.flows.catalog.mailsuite_people import action
from contactflow.flows.catalog.registry import (
    ID,
    SAMPLE_AT,
    ActionContext,
    Json,
    dumped,
    model_schema,
    obj,
    output_schema,
    parsed,
)
from contactflow.mailsuite import campaign_state, campaigns, emails, templates
from contactflow.mailsuite.mail_schemas import (
    CampaignOut,
    CampaignSend,
    EmailCreate,
    EmailOut,
    RecipientOut,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
)
from contactflow.mailsuite.models import DRAFT, Campaign, Recipient, Template
from contactflow.mailsuite.wire import campaign_out, email_out, recipient_out, template_out

EMAIL_SAMPLE: Json = {
    "id": "em_1",
    "senderId": "sd_1",
    "contactId": "mc_1",
    "campaignId": None,
    "templateId": None,
    "to": "ada@example.com",
    "subject": "Welcome, Ada",
    "status": "scheduled",
    "messageId": "<em_1@example.com>",
    "scheduledAt": SAMPLE_AT,
    "nextAttemptAt": SAMPLE_AT,
    "attempts": 0,
    "lastResponse": None,
    "error": None,
    "sentAt": None,
    "bounceKind": None,
    "bounceReason": None,
    "bouncedAt": None,
    "firstOpenedAt": None,
    "firstClickedAt": None,
    "opens": 0,
    "machineOpens": 0,
    "clicks": 0,
    "machineClicks": 0,
    "createdAt": SAMPLE_AT,
    "updatedAt": SAMPLE_AT,
}
TEMPLATE_SAMPLE: Json = {
    "id": "tp_1",
    "name": "Welcome",
    "subject": "Welcome, {{ first_name }}",
    "html": "<p>Hello {{ name }}</p>",
    "text": "",
    "placeholders": ["first_name", "name"],
    "createdAt": SAMPLE_AT,
    "updatedAt": SAMPLE_AT,
}
CAMPAIGN_SAMPLE: Json = {
    "id": "cp_1",
    "name": "December news",
    "senderId": "sd_1",
    "templateId": "tp_1",
    "listId": "ls_1",
    "status": "launched",
    "maxPerMinute": None,
    "scheduledAt": SAMPLE_AT,
    "launchedAt": SAMPLE_AT,
    "cancelledAt": None,
    "counts": COUNTS_SAMPLE,
    "createdAt": SAMPLE_AT,
    "updatedAt": SAMPLE_AT,
}
RECIPIENT_SAMPLE: Json = {
    "id": "rc_1",
    "contactId": "mc_1",
    "crmContactId": None,
    "status": "queued",
    "reason": None,
    "emailId": "em_1",
    "source": "api",
    "addedAt": SAMPLE_AT,
}
EMAIL_OUT = output_schema(EmailOut)
TEMPLATE_OUT = output_schema(TemplateOut)
CAMPAIGN_OUT = output_schema(CampaignOut)
CAMPAIGN_ID = {"campaignId": ID}
MEMBER = {"campaignId": ID, "contactId": ID}


async def send_email(context: ActionContext, values: Json) -> Json:
    row = await emails.create_email(
        context.uow,
        context.location_id,
        parsed(EmailCreate, values),
        context.links,
        context.phone_region,
    )
    return dumped(email_out(row))


async def cancel_email(context: ActionContext, values: Json) -> Json:
    row = await emails.cancel_email(context.uow, context.location_id, values["emailId"])
    return dumped(email_out(row))


def _template(row: Template) -> Json:
    return dumped(template_out(row, templates.placeholders_of(row)))


async def create_template(context: ActionContext, values: Json) -> Json:
    row = await templates.create_template(
        context.uow, context.location_id, parsed(TemplateCreate, values)
    )
    return _template(row)


async def update_template(context: ActionContext, values: Json) -> Json:
    fields = dict(values)
    template_id = fields.pop("templateId")
    row = await templates.update_template(
        context.uow, context.location_id, template_id, parsed(TemplateUpdate, fields)
    )
    return _template(row)


async def _campaign(context: ActionContext, row: Campaign) -> Json:
    await context.uow.session.flush()
    tally = await campaigns.counts(context.uow.session, [row.id])
    return dumped(campaign_out(row, tally[row.id]))


async def add_to_campaign(context: ActionContext, values: Json) -> Json:
    (recipient,) = await campaigns.add_recipients(
        context.uow, context.location_id, values["campaignId"], [values["contactId"]], context.links
    )
    await context.uow.session.flush()
    return dumped(recipient_out(recipient))


async def remove_from_campaign(context: ActionContext, values: Json) -> Json:
    """Take the contact out; its email is cancelled when it has not gone (`removed` is false
    when it had: it stays a recipient of record)."""
    campaign = await campaigns.find_campaign(
        context.uow.session, context.location_id, values["campaignId"]
    )
    await campaigns.withdraw(context.uow, campaign, values["contactId"])
    status = await context.uow.session.scalar(
        select(Recipient.status).where(
            Recipient.campaign_id == campaign.id, Recipient.contact_id == values["contactId"]
        )
    )
    return {**values, "removed": status == "removed", "status": status}


async def start_campaign(context: ActionContext, values: Json) -> Json:
    """Launch a draft (now or at scheduledAt), or resume a paused campaign."""
    session, location_id = context.uow.session, context.location_id
    campaign = await campaigns.find_campaign(session, location_id, values["campaignId"])
    if campaign.status == DRAFT:
        when = parsed(CampaignSend, {"scheduledAt": values.get("scheduledAt")}).scheduled_at
        row = await campaigns.launch(context.uow, location_id, campaign.id, when, context.links)
    else:
        row = await campaign_state.resume(context.uow, location_id, campaign.id, context.links)
    return await _campaign(context, row)


async def pause_campaign(context: ActionContext, values: Json) -> Json:
    row = await campaign_state.pause(context.uow, context.location_id, values["campaignId"])
    return await _campaign(context, row)


EMAIL_INPUT = model_schema(EmailCreate)
TEMPLATE_INPUT = model_schema(
    EmailCreate, required=["templateId"], without=["subject", "html", "text"]
)

ENTRIES = (
    action(
        "email.send",
        "Send email",
        "Queue an email to a contact or an address, with the content given here.",
        EMAIL_INPUT,
        EMAIL_OUT,
        EMAIL_SAMPLE,
        send_email,
    ),
    action(
        "email.send_template",
        "Send email from template",
        "Queue an email merged from a Mailsuite template.",
        TEMPLATE_INPUT,
        EMAIL_OUT,
        {**EMAIL_SAMPLE, "templateId": "tp_1"},
        send_email,
    ),
    action(
        "email.schedule",
        "Schedule email",
        "Queue an email to go at `scheduledAt` (content given here or from templateId).",
        model_schema(EmailCreate, required=["scheduledAt"]),
        EMAIL_OUT,
        {**EMAIL_SAMPLE, "scheduledAt": "2026-12-05T09:00:00.000Z"},
        send_email,
    ),
    action(
        "email.cancel",
        "Cancel scheduled email",
        "Cancel an email that has not gone yet.",
        obj({"emailId": ID}, ["emailId"]),
        EMAIL_OUT,
        {**EMAIL_SAMPLE, "status": "cancelled"},
        cancel_email,
    ),
    action(
        "template.create",
        "Create template",
        "Add a template (subject, HTML and text with merge placeholders); refused when a "
        "part does not parse.",
        model_schema(TemplateCreate),
        TEMPLATE_OUT,
        TEMPLATE_SAMPLE,
        create_template,
    ),
    action(
        "template.update",
        "Update template",
        "Change a template's name, subject or bodies.",
        model_schema(TemplateUpdate, extra={"templateId": ID}, required=["templateId"]),
        TEMPLATE_OUT,
        TEMPLATE_SAMPLE,
        update_template,
    ),
    action(
        "campaign.add_contact",
        "Add contact to campaign",
        "Enrol a workspace contact in a campaign: mailed at once when it is running, at the "
        "launch when it is a draft.",
        obj(MEMBER, MEMBER),
        output_schema(RecipientOut),
        RECIPIENT_SAMPLE,
        add_to_campaign,
    ),
    action(
        "campaign.remove_contact",
        "Remove contact from campaign",
        "Take a contact out of a campaign; its email is cancelled when not sent yet.",
        obj(MEMBER, MEMBER),
        obj(
            {
                "campaignId": {"type": "string"},
                "contactId": {"type": "string"},
                "removed": {"type": "boolean"},
                "status": {"type": ["string", "null"]},
            },
            ["campaignId", "contactId", "removed", "status"],
        ),
        {"campaignId": "cp_1", "contactId": "mc_1", "removed": True, "status": "removed"},
        remove_from_campaign,
    ),
    action(
        "campaign.start",
        "Start campaign",
        "Launch a draft campaign (now, or at scheduledAt), or resume a paused one.",
        obj(
            {**CAMPAIGN_ID, "scheduledAt": {"type": "string", "format": "date-time"}},
            CAMPAIGN_ID,
        ),
        CAMPAIGN_OUT,
        CAMPAIGN_SAMPLE,
        start_campaign,
    ),
    action(
        "campaign.pause",
        "Pause campaign",
        "Hold a running campaign's unsent emails until it is started again.",
        obj(CAMPAIGN_ID, CAMPAIGN_ID),
        CAMPAIGN_OUT,
        {**CAMPAIGN_SAMPLE, "status": "paused"},
        pause_campaign,
    ),
)
# The actions whose output is an email: a run is read with that email as it is now.
EMAIL_ACTIONS = frozenset(entry.key for entry in ENTRIES if entry.output is EMAIL_OUT)
