"""The Contacts API app's actions on contacts themselves: create, read, change, find, search
and delete them, and a business's contacts (contacts_links.py has their tags, followers,
do-not-disturb, custom fields, campaigns and workflows)."""

from contactflow.contacts import links, listing, search, service
from contactflow.contacts.models import Contact
from contactflow.contacts.schemas import (
    ContactCreate,
    ContactOut,
    ContactUpdate,
    ContactUpsert,
    SearchBody,
)
from contactflow.contacts.wire import contact_out
from contactflow.flows.catalog.contacts_records import DELETED, action, split
from contactflow.flows.catalog.contacts_wire import email_or_phone
from contactflow.flows.catalog.registry import (
    ID,
    SAMPLE_AT,
    ActionContext,
    Entry,
    Json,
    dumped,
    model_schema,
    obj,
    output_schema,
    parsed,
)

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
    "dateAdded": SAMPLE_AT,
    "dateUpdated": SAMPLE_AT,
    "lastActivity": None,
    "customFields": [],
    "businessId": None,
    "attributionSource": None,
    "lastAttributionSource": None,
    "followers": [],
}
CONTACT_ID = {"contactId": ID}
IDS = {"type": "array", "items": ID, "minItems": 1, "maxItems": 100}
STRINGS = {"type": "array", "items": {"type": "string"}}


def contact_json(row: Contact) -> Json:
    return dumped(contact_out(row))


async def create_contact(context: ActionContext, values: Json) -> Json:
    row = await service.create_contact(
        context.uow, context.location_id, parsed(ContactCreate, values), context.phone_region
    )
    return contact_json(row)


async def update_contact(context: ActionContext, values: Json) -> Json:
    (contact_id,), fields = split(values, "contactId")
    row = await service.update_contact(
        context.uow,
        context.location_id,
        contact_id,
        parsed(ContactUpdate, fields),
        context.phone_region,
    )
    return contact_json(row)


async def upsert_contact(context: ActionContext, values: Json) -> Json:
    row, new = await service.upsert_contact(
        context.uow, context.location_id, parsed(ContactUpsert, values), context.phone_region
    )
    return {"new": new, "contact": contact_json(row)}


async def delete_contact(context: ActionContext, values: Json) -> Json:
    row = await service.delete_contact(context.uow, context.location_id, values["contactId"])
    return {"deleted": True, "id": row.id}


async def get_contact(context: ActionContext, values: Json) -> Json:
    row = await service.find_contact(context.uow.session, context.location_id, values["contactId"])
    return contact_json(row)


async def find_contact(context: ActionContext, values: Json) -> Json:
    """The contact of an email or phone (the location's duplicate rule); `found` is false when
    there is none, so a filter step can end the run there."""
    email_or_phone(values)
    row = await service.find_duplicate(
        context.uow.session,
        context.location_id,
        values.get("email"),
        values.get("phone"),
        context.phone_region,
    )
    return {"found": row is not None, "contact": contact_json(row) if row else None}


async def search_contacts(context: ActionContext, values: Json) -> Json:
    page = await search.search_contacts(
        context.uow.session, context.location_id, parsed(SearchBody, values)
    )
    return {"contacts": [contact_json(row) for row, _ in page.contacts], "total": page.total}


async def contacts_of_business(context: ActionContext, values: Json) -> Json:
    rows, count = await listing.contacts_of_business(
        context.uow.session,
        context.location_id,
        values["businessId"],
        limit=values.get("limit", 25),
        skip=values.get("skip", 0),
        query=values.get("query"),
    )
    return {"contacts": [contact_json(row) for row in rows], "count": count}


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
