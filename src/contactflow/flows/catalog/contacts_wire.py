"""Each Contacts API action's call over the HighLevel v2 wire (the paths, bodies and answers
the official SDK uses), by action key, and the checks of its inputs that both the local and
the remote action make."""

from contactflow.flows.catalog.remote import Answer, Json, Wire, deleted, envelope, listed
from contactflow.platform.errors import invalid


def email_or_phone(values: Json) -> Json:
    if not values.get("email") and not values.get("phone"):
        raise invalid("email", "give email or phone to find the contact")
    return values


def dnd_given(values: Json) -> Json:
    if set(values) <= {"contactId"}:
        raise invalid("dnd", "give dnd, dndSettings or both")
    return values


def custom_field_update(values: Json) -> Json:
    """A contact update that sets one custom field, addressed by its id or key."""
    address: Json = {name: values[name] for name in ("id", "key") if name in values}
    if not address:
        raise invalid("id", "give the custom field's id or key")
    field = {**address, "value": values["value"]}
    return {"contactId": values["contactId"], "customFields": [field]}


def _found(answer: Json, values: Json) -> Json:
    contact = answer.get("contact")
    return {"found": contact is not None, "contact": contact}


def _searched(answer: Json, values: Json) -> Json:
    contacts = [
        {name: value for name, value in contact.items() if name != "searchAfter"}
        for contact in answer["contacts"]
    ]
    return {"contacts": contacts, "total": answer["total"]}


def _memberships(name: str, added: str | None) -> Answer:
    """The wire answers success only and has no read of a contact's campaigns or
    workflows: the output names the one this call added (none after a removal)."""

    def answer(found: Json, values: Json) -> Json:
        return {"contactId": values["contactId"], name: [values[added]] if added else []}

    return answer


CONTACT = "/contacts/{contactId}"
TASK = f"{CONTACT}/tasks/{{taskId}}"
NOTE = f"{CONTACT}/notes/{{noteId}}"
APPOINTMENT = "/calendars/events/appointments/{appointmentId}"
BUSINESS = "/businesses/{businessId}"
READ_CONTACT = Wire("GET", CONTACT, send="none", answer=envelope("contact"))
CAMPAIGN = f"{CONTACT}/campaigns/{{campaignId}}"
WORKFLOW = f"{CONTACT}/workflow/{{workflowId}}"

WIRES: dict[str, Wire] = {
    "contacts.contact.create": Wire(
        "POST", "/contacts/", location="body", answer=envelope("contact")
    ),
    "contacts.contact.update": Wire("PUT", CONTACT, answer=envelope("contact")),
    "contacts.contact.upsert": Wire("POST", "/contacts/upsert", location="body"),
    "contacts.contact.delete": Wire("DELETE", CONTACT, send="none", answer=deleted("contactId")),
    "contacts.contact.get": READ_CONTACT,
    "contacts.contact.find": Wire(
        "GET",
        "/contacts/search/duplicate",
        send="query",
        location="query",
        renamed=(("phone", "number"),),
        shape=email_or_phone,
        answer=_found,
    ),
    "contacts.contact.search": Wire("POST", "/contacts/search", location="body", answer=_searched),
    "contacts.business.contacts": Wire(
        "GET", "/contacts/business/{businessId}", send="query", location="query"
    ),
    "contacts.contact.assign_business": Wire(
        "POST", "/contacts/bulk/business", location="body", renamed=(("contactIds", "ids"),)
    ),
    "contacts.contact.add_tags": Wire("POST", f"{CONTACT}/tags", then=READ_CONTACT),
    "contacts.contact.remove_tags": Wire("DELETE", f"{CONTACT}/tags", then=READ_CONTACT),
    "contacts.contact.bulk_add_tags": Wire(
        "POST",
        "/contacts/bulk/tags/update/add",
        location="body",
        renamed=(("contactIds", "contacts"),),
    ),
    "contacts.contact.bulk_remove_tags": Wire(
        "POST",
        "/contacts/bulk/tags/update/remove",
        location="body",
        renamed=(("contactIds", "contacts"),),
        defaults={"tags": []},
    ),
    "contacts.contact.add_followers": Wire("POST", f"{CONTACT}/followers"),
    "contacts.contact.remove_followers": Wire("DELETE", f"{CONTACT}/followers"),
    "contacts.contact.set_dnd": Wire("PUT", CONTACT, shape=dnd_given, answer=envelope("contact")),
    "contacts.contact.set_custom_field": Wire(
        "PUT", CONTACT, shape=custom_field_update, answer=envelope("contact")
    ),
    "contacts.contact.add_to_campaign": Wire(
        "POST", CAMPAIGN, send="none", answer=_memberships("campaigns", "campaignId")
    ),
    "contacts.contact.remove_from_campaign": Wire(
        "DELETE", CAMPAIGN, send="none", answer=_memberships("campaigns", None)
    ),
    "contacts.contact.remove_from_all_campaigns": Wire(
        "DELETE",
        f"{CONTACT}/campaigns/remove-all",
        send="none",
        answer=_memberships("campaigns", None),
    ),
    "contacts.contact.add_to_workflow": Wire(
        "POST", WORKFLOW, answer=_memberships("workflows", "workflowId")
    ),
    "contacts.contact.remove_from_workflow": Wire(
        "DELETE", WORKFLOW, send="none", answer=_memberships("workflows", None)
    ),
    "contacts.task.create": Wire("POST", f"{CONTACT}/tasks", answer=envelope("task")),
    "contacts.task.update": Wire("PUT", TASK, answer=envelope("task")),
    "contacts.task.complete": Wire(
        "PUT", f"{TASK}/completed", fixed={"completed": True}, answer=envelope("task")
    ),
    "contacts.task.reopen": Wire(
        "PUT", f"{TASK}/completed", fixed={"completed": False}, answer=envelope("task")
    ),
    "contacts.task.delete": Wire("DELETE", TASK, send="none", answer=deleted("taskId")),
    "contacts.task.get": Wire("GET", TASK, send="none", answer=envelope("task")),
    "contacts.task.list": Wire("GET", f"{CONTACT}/tasks", send="none", answer=listed("tasks")),
    "contacts.note.create": Wire("POST", f"{CONTACT}/notes", answer=envelope("note")),
    "contacts.note.update": Wire("PUT", NOTE, answer=envelope("note")),
    "contacts.note.delete": Wire("DELETE", NOTE, send="none", answer=deleted("noteId")),
    "contacts.note.get": Wire("GET", NOTE, send="none", answer=envelope("note")),
    "contacts.note.list": Wire("GET", f"{CONTACT}/notes", send="none", answer=listed("notes")),
    "contacts.appointment.list": Wire(
        "GET", f"{CONTACT}/appointments", send="none", answer=listed("events")
    ),
    "contacts.appointment.create": Wire("POST", "/calendars/events/appointments", location="body"),
    "contacts.appointment.update": Wire("PUT", APPOINTMENT),
    "contacts.appointment.cancel": Wire(
        "PUT", APPOINTMENT, fixed={"appointmentStatus": "cancelled"}
    ),
    "contacts.appointment.delete": Wire(
        "DELETE", "/calendars/events/{appointmentId}", send="none", answer=deleted("appointmentId")
    ),
    "contacts.business.create": Wire(
        "POST", "/businesses/", location="body", answer=envelope("business")
    ),
    "contacts.business.update": Wire("PUT", BUSINESS, answer=envelope("business")),
    "contacts.business.delete": Wire("DELETE", BUSINESS, send="none", answer=deleted("businessId")),
}
