"""How each trigger of the catalog is made to fire: the flow's trigger options and the real
change, through the API, that causes its event; what the payload must say about it."""

from collections.abc import Awaitable, Callable

from tests.flows.catalog_world import LATER, MAIL, World
from tests.flows.helpers import Json

# Causes the event for a flow (given, for the triggers addressed to one flow); the payload's
# fields that must then hold these values.
Cause = Callable[[World, Json], Awaitable[Json]]
CAUSES: dict[str, tuple[Json, Cause]] = {}


def cause(key: str, **options: object) -> Callable[[Cause], Cause]:
    def register(function: Cause) -> Cause:
        CAUSES[key] = (dict(options), function)
        return function

    return register


@cause("contacts.contact.created")
async def _(w: World, flow: Json) -> Json:
    contact = await w.new_contact()
    return {"id": contact["id"], "email": contact["email"]}


@cause("contacts.contact.updated", fields=["city"])
async def _(w: World, flow: Json) -> Json:
    contact = await w.contact()
    await w.hub.call("PUT", f"/contacts/{contact['id']}", 200, json={"firstName": "Augusta"})
    await w.hub.call("PUT", f"/contacts/{contact['id']}", 200, json={"city": "Paris"})
    # Only the second change is one of the fields the flow asked for.
    return {"id": contact["id"], "city": "Paris", "firstName": "Augusta"}


@cause("contacts.contact.deleted")
async def _(w: World, flow: Json) -> Json:
    contact = await w.contact()
    await w.hub.call("DELETE", f"/contacts/{contact['id']}", 200)
    return {"id": contact["id"]}


@cause("contacts.contact.dnd_changed")
async def _(w: World, flow: Json) -> Json:
    contact = await w.contact()
    await w.hub.call("PUT", f"/contacts/{contact['id']}", 200, json={"dnd": True})
    return {"id": contact["id"], "dnd": True}


@cause("contacts.contact.tag_added", tag="vip")
async def _(w: World, flow: Json) -> Json:
    contact = await w.contact()
    path = f"/contacts/{contact['id']}/tags"
    await w.hub.call("DELETE", path, 200, json={"tags": ["lead"]})
    await w.hub.post(path, {"tags": ["customer"]})
    await w.hub.post(path, {"tags": ["VIP"]})
    return {"id": contact["id"], "tagsAdded": ["vip"]}


@cause("contacts.contact.tag_removed")
async def _(w: World, flow: Json) -> Json:
    contact = await w.contact()
    path = f"/contacts/{contact['id']}/tags"
    await w.hub.post(path, {"tags": ["customer"]})
    await w.hub.call("DELETE", path, 200, json={"tags": ["lead"]})
    return {"id": contact["id"], "tagsRemoved": ["lead"]}


@cause("contacts.note.created")
async def _(w: World, flow: Json) -> Json:
    note = await w.note()
    return {"id": note["id"], "body": note["body"]}


@cause("contacts.note.updated")
async def _(w: World, flow: Json) -> Json:
    note = await w.note()
    path = f"/contacts/{note['contactId']}/notes/{note['id']}"
    await w.hub.call("PUT", path, 200, json={"body": "Changed"})
    return {"id": note["id"], "body": "Changed"}


@cause("contacts.note.deleted")
async def _(w: World, flow: Json) -> Json:
    note = await w.note()
    await w.hub.call("DELETE", f"/contacts/{note['contactId']}/notes/{note['id']}", 200)
    return {"id": note["id"]}


@cause("contacts.task.created")
async def _(w: World, flow: Json) -> Json:
    task = await w.task()
    return {"id": task["id"], "title": task["title"]}


@cause("contacts.task.updated")
async def _(w: World, flow: Json) -> Json:
    task = await w.task()
    path = f"/contacts/{task['contactId']}/tasks/{task['id']}"
    await w.hub.call("PUT", path, 200, json={"title": "Call later"})
    return {"id": task["id"], "title": "Call later"}


@cause("contacts.task.completed")
async def _(w: World, flow: Json) -> Json:
    task = await w.task()
    path = f"/contacts/{task['contactId']}/tasks/{task['id']}/completed"
    await w.hub.call("PUT", path, 200, json={"completed": True})
    return {"id": task["id"], "completed": True}


@cause("contacts.task.deleted")
async def _(w: World, flow: Json) -> Json:
    task = await w.task()
    await w.hub.call("DELETE", f"/contacts/{task['contactId']}/tasks/{task['id']}", 200)
    return {"id": task["id"]}


APPOINTMENTS = "/calendars/events/appointments"


@cause("contacts.appointment.created")
async def _(w: World, flow: Json) -> Json:
    await w.appointment()
    return {}


@cause("contacts.appointment.updated")
async def _(w: World, flow: Json) -> Json:
    appointment = await w.appointment()
    path = f"{APPOINTMENTS}/{appointment['id']}"
    await w.hub.call("PUT", path, 200, json={"title": "Renamed"})
    return {"previousAppointmentStatus": "new"}


@cause("contacts.appointment.status_changed", status="noshow")
async def _(w: World, flow: Json) -> Json:
    appointment = await w.appointment()
    path = f"{APPOINTMENTS}/{appointment['id']}"
    await w.hub.call("PUT", path, 200, json={"title": "Renamed"})
    await w.hub.call("PUT", path, 200, json={"appointmentStatus": "confirmed"})
    await w.hub.call("PUT", path, 200, json={"appointmentStatus": "noshow"})
    return {"previousAppointmentStatus": "confirmed"}


@cause("contacts.appointment.deleted")
async def _(w: World, flow: Json) -> Json:
    appointment = await w.appointment()
    await w.hub.call("DELETE", f"{APPOINTMENTS}/{appointment['id']}", 200)
    return {}


@cause("contacts.business.created")
async def _(w: World, flow: Json) -> Json:
    await w.business()
    return {}


@cause("contacts.business.updated")
async def _(w: World, flow: Json) -> Json:
    business = await w.business()
    await w.hub.call("PUT", f"/businesses/{business['id']}", 200, json={"city": "York"})
    return {}


@cause("contacts.business.deleted")
async def _(w: World, flow: Json) -> Json:
    business = await w.business()
    await w.hub.call("DELETE", f"/businesses/{business['id']}", 200)
    return {}


@cause("contacts.contact.enrolled")
async def _(w: World, flow: Json) -> Json:
    contact = await w.contact()
    await w.hub.post(f"/contacts/{contact['id']}/workflow/{flow['id']}", status=200)
    return {"contactId": contact["id"], "workflowId": flow["id"]}


@cause("contacts.contact.added_to_workflow")
async def _(w: World, flow: Json) -> Json:
    contact, workflow = await w.contact(), await w.workflow()
    await w.hub.post(f"/contacts/{contact['id']}/workflow/{workflow['id']}", status=200)
    return {"contactId": contact["id"], "workflowId": workflow["id"]}


@cause("contacts.contact.added_to_campaign")
async def _(w: World, flow: Json) -> Json:
    contact, campaign = await w.contact(), await w.campaign()
    await w.hub.post(f"/contacts/{contact['id']}/campaigns/{campaign['id']}")
    return {"contactId": contact["id"], "campaignId": campaign["id"]}


# Mailsuite --------------------------------------------------------------------------------


@cause("mailsuite.email.sent")
async def _(w: World, flow: Json) -> Json:
    email = (await w.sent_email())["email"]
    return {"emailId": email["id"], "to": email["to"]}


def _token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@cause("mailsuite.email.opened")
async def _(w: World, flow: Json) -> Json:
    email = (await w.sent_email())["email"]
    # An image proxy's fetch first: not a person's open, so not this trigger's.
    proxy = {"User-Agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"}
    await w.hub.http.get(w.links.pixel(email["id"]), headers=proxy)
    assert (await w.visit(w.links.pixel(email["id"]))).status_code == 200
    return {"emailId": email["id"], "machine": False}


@cause("mailsuite.email.first_opened")
async def _(w: World, flow: Json) -> Json:
    email = (await w.sent_email())["email"]
    assert (await w.visit(w.links.pixel(email["id"]))).status_code == 200
    return {"emailId": email["id"]}


@cause("mailsuite.link.clicked")
async def _(w: World, flow: Json) -> Json:
    email = (await w.sent_email())["email"]
    response = await w.visit(w.links.click(email["id"], "https://example.com/x"))
    assert response.status_code == 302
    return {"emailId": email["id"], "url": "https://example.com/x"}


@cause("mailsuite.link.first_clicked")
async def _(w: World, flow: Json) -> Json:
    email = (await w.sent_email())["email"]
    assert (await w.visit(w.links.click(email["id"], "https://example.com/x"))).status_code == 302
    return {"emailId": email["id"], "url": "https://example.com/x"}


@cause("mailsuite.email.bounced")
async def _(w: World, flow: Json) -> Json:
    email = (await w.sent_email())["email"]
    body = {"recipient": email["to"], "kind": "hard", "messageId": email["messageId"]}
    await w.hub.post(f"{MAIL}/bounces", body, status=200)
    return {"emailId": email["id"], "kind": "hard"}


@cause("mailsuite.email.failed")
async def _(w: World, flow: Json) -> Json:
    to = f"{w.unique('refused')}@example.com"
    reply = f"550 5.1.1 <{to}>: Recipient address rejected"
    w.mailbox.refuse(to, reply)
    body = {"senderId": (await w.sender())["id"], "to": to, "subject": "Hi", "html": "<p>Hi</p>"}
    email = (await w.hub.post(f"{MAIL}/emails", body))["email"]
    return {"emailId": email["id"], "to": to, "error": reply, "attempts": 1}


@cause("mailsuite.contact.unsubscribed")
async def _(w: World, flow: Json) -> Json:
    email = (await w.sent_email())["email"]
    response = await w.hub.http.post(
        w.links.unsubscribe(email["id"]), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200, response.text
    return {"emailId": email["id"], "method": "one-click"}


@cause("mailsuite.contact.created")
async def _(w: World, flow: Json) -> Json:
    await w.mail_contact()
    return {"new": True}


@cause("mailsuite.contact.updated")
async def _(w: World, flow: Json) -> Json:
    contact = await w.new_mail_contact()
    await w.hub.call("PUT", f"{MAIL}/contacts/{contact['id']}", 200, json={"lastName": "King"})
    return {"new": False}


@cause("mailsuite.task.created")
async def _(w: World, flow: Json) -> Json:
    await w.mail_task()
    return {}


@cause("mailsuite.task.updated")
async def _(w: World, flow: Json) -> Json:
    task = await w.mail_task()
    await w.hub.call("PUT", f"{MAIL}/tasks/{task['id']}", 200, json={"dueAt": LATER})
    return {}


@cause("mailsuite.task.completed")
async def _(w: World, flow: Json) -> Json:
    task = await w.mail_task()
    await w.hub.call("PUT", f"{MAIL}/tasks/{task['id']}", 200, json={"status": "done"})
    return {}


@cause("mailsuite.timeline.entry_added", kind="note")
async def _(w: World, flow: Json) -> Json:
    # The task goes on the timeline first (a task_created entry), then the note.
    await w.mail_task()
    await w.timeline_note()
    return {}


@cause("mailsuite.campaign.finished")
async def _(w: World, flow: Json) -> Json:
    contact = await w.mail_contact()
    campaign = await w.campaign(contacts=[contact["id"]])
    await w.hub.post(f"{MAIL}/campaigns/{campaign['id']}/send", {}, status=200)
    return {"campaignId": campaign["id"]}
