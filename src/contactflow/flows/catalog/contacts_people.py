"""The Contacts API app's actions on contacts: create, read, change, find and delete them,
their tags, followers, do-not-disturb and custom fields, their campaigns and workflows, and
the bulk operations over many contacts."""

from contactflow.contacts import links, listing, search, service
from contactflow.contacts.models import Contact
from contactflow.contacts.schemas import (
    ContactCreate,
    ContactOut,
    ContactUpdate,
    ContactUpsert,
    SearchBody,
    WorkflowBody,
)
from contactflow.contacts.wire import contact_out
from contactflow.flows.catalog.contacts import AT
from contactflow.flows.catalog.contacts_records import DELETED, action, split
from contactflow.flows.catalog.registry import (
    ID,
    ActionContext,
    Entry,
    Executor,
    Json,
    dumped,
    model_schema,
    obj,
    output_schema,
    parsed,
)
from contactflow.flows.models import find_flow
from contactflow.mailsuite.campaigns import find_campaign
from contactflow.platform.errors import invalid

CONTACT_OUT = output_schema(ContactOut)
CONTACT_SAMPLE: Json = {
    "id": "ct_1",
    "locationId": "loc_1",
    "name": "Ada Lovelace",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.com",
    "emailLowerCase": "ada@example.com",
    "phone": "+14155552671",
    "companyName": None,
    "timezone": None,
    "dnd": False,
    "dndSettings": {},
    "type": "lead",
    "source": None,
    "assignedTo": None,
    "address1": None,
    "city": None,
    "state": None,
    "country": None,
    "postalCode": None,
    "website": None,
    "tags": ["lead"],
    "dateOfBirth": None,
    "dateAdded": AT,
    "dateUpdated": AT,
    "lastActivity": None,
    "customFields": [],
    "businessId": None,
    "attributionSource": None,
    "lastAttributionSource": None,
    "followers": [],
}
CONTACT_ID = {"contactId": ID}
TAGS = {"type": "array", "items": {"type": "string", "maxLength": 255}, "minItems": 1}
IDS = {"type": "array", "items": ID, "minItems": 1, "maxItems": 100}
STRINGS = {"type": "array", "items": {"type": "string"}}
CUSTOM_VALUE = {"type": ["string", "number", "boolean", "array", "object", "null"]}


def _contact(row: Contact) -> Json:
    return dumped(contact_out(row))


async def create_contact(context: ActionContext, values: Json) -> Json:
    row = await service.create_contact(
        context.uow, context.location_id, parsed(ContactCreate, values), context.phone_region
    )
    return _contact(row)


async def update_contact(context: ActionContext, values: Json) -> Json:
    (contact_id,), fields = split(values, "contactId")
    row = await service.update_contact(
        context.uow,
        context.location_id,
        contact_id,
        parsed(ContactUpdate, fields),
        context.phone_region,
    )
    return _contact(row)


async def upsert_contact(context: ActionContext, values: Json) -> Json:
    row, new = await service.upsert_contact(
        context.uow, context.location_id, parsed(ContactUpsert, values), context.phone_region
    )
    return {"new": new, "contact": _contact(row)}


async def delete_contact(context: ActionContext, values: Json) -> Json:
    row = await service.delete_contact(context.uow, context.location_id, values["contactId"])
    return {"deleted": True, "id": row.id}


async def get_contact(context: ActionContext, values: Json) -> Json:
    row = await service.find_contact(context.uow.session, context.location_id, values["contactId"])
    return _contact(row)


async def find_contact(context: ActionContext, values: Json) -> Json:
    """The contact of an email or phone (the location's duplicate rule); `found` is false when
    there is none, so a filter step can end the run there."""
    if not values.get("email") and not values.get("phone"):
        raise invalid("email", "give email or phone to find the contact")
    row = await service.find_duplicate(
        context.uow.session,
        context.location_id,
        values.get("email"),
        values.get("phone"),
        context.phone_region,
    )
    return {"found": row is not None, "contact": _contact(row) if row else None}


async def search_contacts(context: ActionContext, values: Json) -> Json:
    page = await search.search_contacts(
        context.uow.session, context.location_id, parsed(SearchBody, values)
    )
    return {"contacts": [_contact(row) for row, _ in page.contacts], "total": page.total}


async def contacts_of_business(context: ActionContext, values: Json) -> Json:
    rows, count = await listing.contacts_of_business(
        context.uow.session,
        context.location_id,
        values["businessId"],
        limit=values.get("limit", 25),
        skip=values.get("skip", 0),
        query=values.get("query"),
    )
    return {"contacts": [_contact(row) for row in rows], "count": count}


async def add_tags(context: ActionContext, values: Json) -> Json:
    row = await links.add_tags(
        context.uow, context.location_id, values["contactId"], values["tags"]
    )
    return _contact(row)


async def remove_tags(context: ActionContext, values: Json) -> Json:
    row = await links.remove_tags(
        context.uow, context.location_id, values["contactId"], values["tags"]
    )
    return _contact(row)


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
    (contact_id,), fields = split(values, "contactId")
    if not fields:
        raise invalid("dnd", "give dnd, dndSettings or both")
    row = await service.update_contact(
        context.uow,
        context.location_id,
        contact_id,
        parsed(ContactUpdate, fields),
        context.phone_region,
    )
    return _contact(row)


async def set_custom_field(context: ActionContext, values: Json) -> Json:
    (contact_id, value), address = split(values, "contactId", "value")
    if not address:
        raise invalid("id", "give the custom field's id or key")
    body = parsed(ContactUpdate, {"customFields": [{**address, "value": value}]})
    row = await service.update_contact(
        context.uow, context.location_id, contact_id, body, context.phone_region
    )
    return _contact(row)


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


async def assign_business(context: ActionContext, values: Json) -> Json:
    ids = await links.bulk_business(
        context.uow, context.location_id, values["contactIds"], values.get("businessId")
    )
    return {"ids": ids}


FOUND = obj(
    {"found": {"type": "boolean"}, "contact": {"anyOf": [CONTACT_OUT, {"type": "null"}]}},
    ["found", "contact"],
)
CONTACTS = {"type": "array", "items": CONTACT_OUT}
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
        "contact.create",
        "Create contact",
        "Add a contact; refused (with the existing contact's id) when the location does not "
        "allow duplicates and the email or phone is taken.",
        model_schema(ContactCreate, without=["locationId"]),
        CONTACT_OUT,
        CONTACT_SAMPLE,
        create_contact,
    ),
    action(
        "contact.update",
        "Update contact",
        "Change a contact's fields; only the fields given change.",
        model_schema(ContactUpdate, extra=CONTACT_ID, required=CONTACT_ID),
        CONTACT_OUT,
        CONTACT_SAMPLE,
        update_contact,
    ),
    action(
        "contact.upsert",
        "Create or update contact",
        "Update the contact matched by the location's priority (email, then phone), or add it.",
        model_schema(ContactUpsert, without=["locationId"]),
        obj({"new": {"type": "boolean"}, "contact": CONTACT_OUT}, ["new", "contact"]),
        {"new": True, "contact": CONTACT_SAMPLE},
        upsert_contact,
    ),
    action(
        "contact.delete",
        "Delete contact",
        "Delete a contact with its tasks, notes and appointments (ContactDelete).",
        obj(CONTACT_ID, CONTACT_ID),
        DELETED,
        {"deleted": True, "id": "ct_1"},
        delete_contact,
    ),
    action(
        "contact.get",
        "Get contact",
        "Read a contact by id.",
        obj(CONTACT_ID, CONTACT_ID),
        CONTACT_OUT,
        CONTACT_SAMPLE,
        get_contact,
        reads=True,
    ),
    action(
        "contact.find",
        "Find contact by email or phone",
        "The contact with this email, else this phone; `found` is false when there is none.",
        obj(
            {
                "email": {"type": "string", "maxLength": 320},
                "phone": {"type": "string", "maxLength": 40},
            }
        ),
        FOUND,
        {"found": True, "contact": CONTACT_SAMPLE},
        find_contact,
        reads=True,
    ),
    action(
        "contact.search",
        "Search contacts",
        "Contacts matching filters (with AND / OR groups) and a text query, sorted and paged "
        "as POST /contacts/search does.",
        model_schema(SearchBody, without=["locationId"]),
        obj({"contacts": CONTACTS, "total": {"type": "integer"}}, ["contacts", "total"]),
        {"contacts": [CONTACT_SAMPLE], "total": 1},
        search_contacts,
        reads=True,
    ),
    action(
        "business.contacts",
        "List contacts of a business",
        "The contacts pointing at a business, oldest first (`limit`, `skip`, text `query`).",
        obj(
            {
                "businessId": ID,
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
                "skip": {"type": "integer", "minimum": 0, "default": 0},
                "query": {"type": "string", "maxLength": 255},
            },
            ["businessId"],
        ),
        obj({"contacts": CONTACTS, "count": {"type": "integer"}}, ["contacts", "count"]),
        {"contacts": [CONTACT_SAMPLE], "count": 1},
        contacts_of_business,
        reads=True,
    ),
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
    action(
        "contact.assign_business",
        "Assign contacts to business",
        "Point contacts at a business (businessId null clears it); the ids that changed.",
        obj(
            {"contactIds": IDS, "businessId": {"anyOf": [ID, {"type": "null"}]}},
            ["contactIds", "businessId"],
        ),
        obj({"ids": STRINGS}, ["ids"]),
        {"ids": ["ct_1"]},
        assign_business,
    ),
)
