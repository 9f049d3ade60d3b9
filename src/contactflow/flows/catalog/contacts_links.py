"""The Contacts API app's actions on what hangs off a contact: its tags (on one contact or
many at once), followers, do-not-disturb and custom fields, campaigns and workflows."""

from contactflow.contacts import links
from contactflow.contacts.schemas import ContactUpdate, WorkflowBody
from contactflow.flows.catalog.contacts_people import (
    CONTACT_ID,
    CONTACT_OUT,
    CONTACT_SAMPLE,
    IDS,
    STRINGS,
    contact_json,
    update_contact,
)
from contactflow.flows.catalog.contacts_records import action, split
from contactflow.flows.catalog.contacts_wire import custom_field_update, dnd_given
from contactflow.flows.catalog.registry import (
    ID,
    ActionContext,
    Entry,
    Executor,
    Json,
    model_schema,
    obj,
    parsed,
)
from contactflow.flows.models import find_flow
from contactflow.mailsuite.campaigns import find_campaign

TAGS = {"type": "array", "items": {"type": "string", "maxLength": 255}, "minItems": 1}
CUSTOM_VALUE = {"type": ["string", "number", "boolean", "array", "object", "null"]}


async def add_tags(context: ActionContext, values: Json) -> Json:
    row = await links.add_tags(
        context.uow, context.location_id, values["contactId"], values["tags"]
    )
    return contact_json(row)


async def remove_tags(context: ActionContext, values: Json) -> Json:
    row = await links.remove_tags(
        context.uow, context.location_id, values["contactId"], values["tags"]
    )
    return contact_json(row)


def _bulk(tag_action: links.BulkTagAction) -> Executor:
    async def run(context: ActionContext, values: Json) -> Json:
        outcome = await links.bulk_tags(
            context.uow,
            context.location_id,
            tag_action,
            values["contactIds"],
            values.get("tags", []),
            remove_all=bool(values.get("removeAllTags")),
        )
        return {"errorCount": outcome.error_count, "responses": outcome.responses}

    return run


async def add_followers(context: ActionContext, values: Json) -> Json:
    row, added = await links.add_followers(
        context.uow, context.location_id, values["contactId"], values["followers"]
    )
    return {"followers": row.followers, "followersAdded": added}


async def remove_followers(context: ActionContext, values: Json) -> Json:
    row, removed = await links.remove_followers(
        context.uow, context.location_id, values["contactId"], values["followers"]
    )
    return {"followers": row.followers, "followersRemoved": removed}


async def set_dnd(context: ActionContext, values: Json) -> Json:
    return await update_contact(context, dnd_given(values))


async def set_custom_field(context: ActionContext, values: Json) -> Json:
    return await update_contact(context, custom_field_update(values))


async def _campaigns(context: ActionContext, contact_id: str) -> Json:
    found = await links.campaigns_of(context.uow.session, contact_id)
    return {"contactId": contact_id, "campaigns": found}


async def add_to_campaign(context: ActionContext, values: Json) -> Json:
    contact_id = values["contactId"]
    await links.add_to_campaign(
        context.uow, context.location_id, contact_id, values["campaignId"], find_campaign
    )
    return await _campaigns(context, contact_id)


async def remove_from_campaign(context: ActionContext, values: Json) -> Json:
    contact_id = values["contactId"]
    await links.remove_from_campaigns(
        context.uow, context.location_id, contact_id, values["campaignId"]
    )
    return await _campaigns(context, contact_id)


async def remove_from_all_campaigns(context: ActionContext, values: Json) -> Json:
    contact_id = values["contactId"]
    await links.remove_from_campaigns(context.uow, context.location_id, contact_id)
    return await _campaigns(context, contact_id)


async def _workflows(context: ActionContext, contact_id: str) -> Json:
    found = await links.workflows_of(context.uow.session, contact_id)
    return {"contactId": contact_id, "workflows": found}


async def add_to_workflow(context: ActionContext, values: Json) -> Json:
    (contact_id, workflow_id), start = split(values, "contactId", "workflowId")
    await links.add_to_workflow(
        context.uow,
        context.location_id,
        contact_id,
        workflow_id,
        parsed(WorkflowBody, start).event_start_time,
        find_flow,
    )
    return await _workflows(context, contact_id)


async def remove_from_workflow(context: ActionContext, values: Json) -> Json:
    contact_id = values["contactId"]
    await links.remove_from_workflow(
        context.uow, context.location_id, contact_id, values["workflowId"]
    )
    return await _workflows(context, contact_id)


BULK = obj({"errorCount": {"type": "integer"}, "responses": STRINGS}, ["errorCount", "responses"])
CAMPAIGNS = obj({"contactId": {"type": "string"}, "campaigns": STRINGS}, ["contactId", "campaigns"])
WORKFLOWS = obj({"contactId": {"type": "string"}, "workflows": STRINGS}, ["contactId", "workflows"])
CAMPAIGN_INPUT = obj({**CONTACT_ID, "campaignId": ID}, ["contactId", "campaignId"])
WORKFLOW_INPUT = obj({**CONTACT_ID, "workflowId": ID}, ["contactId", "workflowId"])
TAGS_INPUT = obj({**CONTACT_ID, "tags": TAGS}, ["contactId", "tags"])
FOLLOWERS_INPUT = obj({**CONTACT_ID, "followers": IDS}, ["contactId", "followers"])
_UPDATE = model_schema(ContactUpdate)["properties"]

ENTRIES: tuple[Entry, ...] = (
    action(
        "contact.add_tags",
        "Add tags",
        "Add tags to a contact (ContactTagUpdate names the tags added).",
        TAGS_INPUT,
        CONTACT_OUT,
        {**CONTACT_SAMPLE, "tags": ["lead", "vip"]},
        add_tags,
    ),
    action(
        "contact.remove_tags",
        "Remove tags",
        "Remove tags from a contact.",
        TAGS_INPUT,
        CONTACT_OUT,
        {**CONTACT_SAMPLE, "tags": []},
        remove_tags,
    ),
    action(
        "contact.bulk_add_tags",
        "Bulk add tags",
        "Add tags to many contacts at once; one response line per contact.",
        obj({"contactIds": IDS, "tags": TAGS}, ["contactIds", "tags"]),
        BULK,
        {"errorCount": 0, "responses": ["ct_1: updated"]},
        _bulk(links.BulkTagAction.add),
    ),
    action(
        "contact.bulk_remove_tags",
        "Bulk remove tags",
        "Remove tags (or, with removeAllTags, every tag) from many contacts at once.",
        obj(
            {
                "contactIds": IDS,
                "tags": {**TAGS, "minItems": 0},
                "removeAllTags": {"type": "boolean"},
            },
            ["contactIds"],
        ),
        BULK,
        {"errorCount": 0, "responses": ["ct_1: updated"]},
        _bulk(links.BulkTagAction.remove),
    ),
    action(
        "contact.add_followers",
        "Add followers",
        "Add users of the location as followers of a contact.",
        FOLLOWERS_INPUT,
        obj({"followers": STRINGS, "followersAdded": STRINGS}, ["followers", "followersAdded"]),
        {"followers": ["us_1"], "followersAdded": ["us_1"]},
        add_followers,
    ),
    action(
        "contact.remove_followers",
        "Remove followers",
        "Remove followers from a contact.",
        FOLLOWERS_INPUT,
        obj({"followers": STRINGS, "followersRemoved": STRINGS}, ["followers", "followersRemoved"]),
        {"followers": [], "followersRemoved": ["us_1"]},
        remove_followers,
    ),
    action(
        "contact.set_dnd",
        "Set do-not-disturb",
        "Set a contact's do-not-disturb flag and/or its per-channel settings "
        "(Call, Email, SMS, WhatsApp, GMB, FB).",
        obj(
            {
                **CONTACT_ID,
                "dnd": {"type": "boolean"},
                "dndSettings": _UPDATE["dndSettings"],
            },
            CONTACT_ID,
        ),
        CONTACT_OUT,
        {**CONTACT_SAMPLE, "dnd": True},
        set_dnd,
    ),
    action(
        "contact.set_custom_field",
        "Set custom field",
        "Set one custom field of a contact, addressed by its id or key.",
        obj(
            {**CONTACT_ID, "id": ID, "key": ID, "value": CUSTOM_VALUE},
            ["contactId", "value"],
        ),
        CONTACT_OUT,
        {**CONTACT_SAMPLE, "customFields": [{"id": "plan", "value": "gold"}]},
        set_custom_field,
    ),
    action(
        "contact.add_to_campaign",
        "Add to campaign",
        "Add a contact to a Mailsuite campaign (ContactCampaignAdd; Mailsuite enrols it).",
        CAMPAIGN_INPUT,
        CAMPAIGNS,
        {"contactId": "ct_1", "campaigns": ["cp_1"]},
        add_to_campaign,
    ),
    action(
        "contact.remove_from_campaign",
        "Remove from campaign",
        "Take a contact out of a campaign; its email is cancelled when not sent yet.",
        CAMPAIGN_INPUT,
        CAMPAIGNS,
        {"contactId": "ct_1", "campaigns": []},
        remove_from_campaign,
    ),
    action(
        "contact.remove_from_all_campaigns",
        "Remove from all campaigns",
        "Take a contact out of every campaign it is in.",
        obj(CONTACT_ID, CONTACT_ID),
        CAMPAIGNS,
        {"contactId": "ct_1", "campaigns": []},
        remove_from_all_campaigns,
    ),
    action(
        "contact.add_to_workflow",
        "Add to workflow",
        "Add a contact to a workflow (a flow of the location), which runs it when its trigger "
        "is `contacts.contact.enrolled`.",
        obj(
            {
                **WORKFLOW_INPUT["properties"],
                "eventStartTime": {"type": "string", "format": "date-time"},
            },
            ["contactId", "workflowId"],
        ),
        WORKFLOWS,
        {"contactId": "ct_1", "workflows": ["fl_1"]},
        add_to_workflow,
    ),
    action(
        "contact.remove_from_workflow",
        "Remove from workflow",
        "Take a contact out of a workflow.",
        WORKFLOW_INPUT,
        WORKFLOWS,
        {"contactId": "ct_1", "workflows": []},
        remove_from_workflow,
    ),
)
