"""How each action of the catalog is tried: the input of its step (over records made
first) and what must then be true, read back through the API."""

from collections.abc import Awaitable, Callable

from tests.flows.catalog_world import LATER, MAIL, World
from tests.flows.helpers import Json
from tests.mailsuite.helpers import poll

Check = Callable[[Json], Awaitable[None]]
Case = tuple[Json, Check]
Recipe = Callable[[World], Awaitable[Case]]
RECIPES: dict[str, Recipe] = {}


def recipe(key: str) -> Callable[[Recipe], Recipe]:
    def register(function: Recipe) -> Recipe:
        RECIPES[key] = function
        return function

    return register


async def _gone(world: World, path: str) -> None:
    response = await world.hub.http.get(path)
    assert response.status_code == 404, (path, response.text)


async def _crm(world: World, contact_id: str) -> Json:
    contact: Json = (await world.hub.get(f"/contacts/{contact_id}"))["contact"]
    return contact


# Contacts ---------------------------------------------------------------------------------


@recipe("contacts.contact.create")
async def _(w: World) -> Case:
    email = f"{w.unique('new')}@example.com"

    async def check(out: Json) -> None:
        assert (await _crm(w, out["id"]))["email"] == email

    return {"firstName": "Grace", "email": email, "tags": ["lead"]}, check


@recipe("contacts.contact.update")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        assert (await _crm(w, contact["id"]))["city"] == "London"

    return {"contactId": contact["id"], "city": "London"}, check


@recipe("contacts.contact.upsert")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        assert out["new"] is False
        assert (await _crm(w, contact["id"]))["lastName"] == "Byron"

    return {"email": contact["email"], "lastName": "Byron"}, check


@recipe("contacts.contact.delete")
async def _(w: World) -> Case:
    contact = await w.new_contact()

    async def check(out: Json) -> None:
        await _gone(w, f"/contacts/{contact['id']}")

    return {"contactId": contact["id"]}, check


@recipe("contacts.contact.get")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        assert out == await _crm(w, contact["id"])

    return {"contactId": contact["id"]}, check


@recipe("contacts.contact.find")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        assert out["found"] is True
        assert out["contact"]["id"] == contact["id"]

    return {"email": contact["email"].upper()}, check


@recipe("contacts.contact.search")
async def _(w: World) -> Case:
    contact = await w.contact()
    filters = [{"field": "email", "operator": "eq", "value": contact["email"]}]

    async def check(out: Json) -> None:
        assert [found["id"] for found in out["contacts"]] == [contact["id"]]
        assert out["total"] == 1

    return {"filters": filters}, check


@recipe("contacts.business.contacts")
async def _(w: World) -> Case:
    business = await w.business()
    contact = await w.new_contact(businessId=business["id"])

    async def check(out: Json) -> None:
        assert [found["id"] for found in out["contacts"]] == [contact["id"]]

    return {"businessId": business["id"]}, check


@recipe("contacts.contact.add_tags")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        assert (await _crm(w, contact["id"]))["tags"] == ["lead", "vip"]

    return {"contactId": contact["id"], "tags": ["VIP"]}, check


@recipe("contacts.contact.remove_tags")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        assert (await _crm(w, contact["id"]))["tags"] == []

    return {"contactId": contact["id"], "tags": ["lead"]}, check


@recipe("contacts.contact.bulk_add_tags")
async def _(w: World) -> Case:
    first, second = await w.new_contact(), await w.new_contact()

    async def check(out: Json) -> None:
        assert out["errorCount"] == 0
        for contact in (first, second):
            assert (await _crm(w, contact["id"]))["tags"] == ["bulk"]

    return {"contactIds": [first["id"], second["id"]], "tags": ["bulk"]}, check


@recipe("contacts.contact.bulk_remove_tags")
async def _(w: World) -> Case:
    first = await w.new_contact(tags=["a", "b"])

    async def check(out: Json) -> None:
        assert (await _crm(w, first["id"]))["tags"] == []

    return {"contactIds": [first["id"]], "removeAllTags": True}, check


@recipe("contacts.contact.add_followers")
async def _(w: World) -> Case:
    contact, user = await w.contact(), w.hub.tenant.user_ids[0]

    async def check(out: Json) -> None:
        assert (await _crm(w, contact["id"]))["followers"] == [user]

    return {"contactId": contact["id"], "followers": [user]}, check


@recipe("contacts.contact.remove_followers")
async def _(w: World) -> Case:
    contact, user = await w.contact(), w.hub.tenant.user_ids[0]
    await w.hub.post(f"/contacts/{contact['id']}/followers", {"followers": [user]})

    async def check(out: Json) -> None:
        assert out["followersRemoved"] == [user]
        assert (await _crm(w, contact["id"]))["followers"] == []

    return {"contactId": contact["id"], "followers": [user]}, check


@recipe("contacts.contact.set_dnd")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        found = await _crm(w, contact["id"])
        assert found["dnd"] is True
        assert found["dndSettings"]["Email"]["status"] == "active"

    settings = {"Email": {"status": "active"}}
    return {"contactId": contact["id"], "dnd": True, "dndSettings": settings}, check


@recipe("contacts.contact.set_custom_field")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        fields = (await _crm(w, contact["id"]))["customFields"]
        assert fields == [{"id": "plan", "value": "gold"}]

    return {"contactId": contact["id"], "key": "plan", "value": "gold"}, check


@recipe("contacts.contact.add_to_campaign")
async def _(w: World) -> Case:
    contact, campaign = await w.contact(), await w.campaign()

    async def check(out: Json) -> None:
        assert out["campaigns"] == [campaign["id"]]
        path = f"{MAIL}/campaigns/{campaign['id']}/recipients"

        async def enrolled() -> list[str | None]:
            rows = (await w.hub.get(path, limit=100))["recipients"]
            return [row["crmContactId"] for row in rows]

        await poll(enrolled, lambda found: contact["id"] in found)

    return {"contactId": contact["id"], "campaignId": campaign["id"]}, check


async def _in_campaign(w: World) -> tuple[Json, Json]:
    contact, campaign = await w.contact(), await w.campaign()
    await w.hub.post(f"/contacts/{contact['id']}/campaigns/{campaign['id']}")
    return contact, campaign


@recipe("contacts.contact.remove_from_campaign")
async def _(w: World) -> Case:
    contact, campaign = await _in_campaign(w)

    async def check(out: Json) -> None:
        assert out["campaigns"] == []

    return {"contactId": contact["id"], "campaignId": campaign["id"]}, check


@recipe("contacts.contact.remove_from_all_campaigns")
async def _(w: World) -> Case:
    contact, _ = await _in_campaign(w)

    async def check(out: Json) -> None:
        assert out["campaigns"] == []

    return {"contactId": contact["id"]}, check


@recipe("contacts.contact.add_to_workflow")
async def _(w: World) -> Case:
    contact, workflow = await w.contact(), await w.workflow()

    async def check(out: Json) -> None:
        assert out["workflows"] == [workflow["id"]]
        (run,) = await w.hub.finished_runs(workflow["id"])
        assert run["input"]["contactId"] == contact["id"]

    return {"contactId": contact["id"], "workflowId": workflow["id"]}, check


@recipe("contacts.contact.remove_from_workflow")
async def _(w: World) -> Case:
    contact, workflow = await w.contact(), await w.workflow()
    await w.hub.post(f"/contacts/{contact['id']}/workflow/{workflow['id']}", status=200)

    async def check(out: Json) -> None:
        assert out["workflows"] == []

    return {"contactId": contact["id"], "workflowId": workflow["id"]}, check


@recipe("contacts.contact.assign_business")
async def _(w: World) -> Case:
    contact, business = await w.contact(), await w.business()

    async def check(out: Json) -> None:
        assert out["ids"] == [contact["id"]]
        assert (await _crm(w, contact["id"]))["businessId"] == business["id"]

    return {"contactIds": [contact["id"]], "businessId": business["id"]}, check


@recipe("contacts.task.create")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        path = f"/contacts/{contact['id']}/tasks/{out['id']}"
        assert (await w.hub.get(path))["task"]["title"] == "Send the quote"

    body = {"title": "Send the quote", "dueDate": LATER, "completed": False}
    return {"contactId": contact["id"], **body}, check


def _task_path(task: Json) -> str:
    return f"/contacts/{task['contactId']}/tasks/{task['id']}"


def _task_ids(task: Json) -> Json:
    return {"contactId": task["contactId"], "taskId": task["id"]}


@recipe("contacts.task.update")
async def _(w: World) -> Case:
    task = await w.task()

    async def check(out: Json) -> None:
        assert (await w.hub.get(_task_path(task)))["task"]["title"] == "Call at noon"

    return {**_task_ids(task), "title": "Call at noon"}, check


@recipe("contacts.task.complete")
async def _(w: World) -> Case:
    task = await w.task()

    async def check(out: Json) -> None:
        assert (await w.hub.get(_task_path(task)))["task"]["completed"] is True

    return _task_ids(task), check


@recipe("contacts.task.reopen")
async def _(w: World) -> Case:
    task = await w.task()
    await w.hub.call("PUT", _task_path(task) + "/completed", 200, json={"completed": True})

    async def check(out: Json) -> None:
        assert (await w.hub.get(_task_path(task)))["task"]["completed"] is False

    return _task_ids(task), check


@recipe("contacts.task.delete")
async def _(w: World) -> Case:
    task = await w.task()

    async def check(out: Json) -> None:
        await _gone(w, _task_path(task))

    return _task_ids(task), check


@recipe("contacts.task.get")
async def _(w: World) -> Case:
    task = await w.task()

    async def check(out: Json) -> None:
        assert out == (await w.hub.get(_task_path(task)))["task"]

    return _task_ids(task), check


@recipe("contacts.task.list")
async def _(w: World) -> Case:
    task = await w.task()

    async def check(out: Json) -> None:
        assert [found["id"] for found in out["tasks"]] == [task["id"]]

    return {"contactId": task["contactId"]}, check


def _note_path(note: Json) -> str:
    return f"/contacts/{note['contactId']}/notes/{note['id']}"


def _note_ids(note: Json) -> Json:
    return {"contactId": note["contactId"], "noteId": note["id"]}


@recipe("contacts.note.create")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        path = f"/contacts/{contact['id']}/notes/{out['id']}"
        assert (await w.hub.get(path))["note"]["body"] == "Asked for a demo"

    return {"contactId": contact["id"], "body": "Asked for a demo"}, check


@recipe("contacts.note.update")
async def _(w: World) -> Case:
    note = await w.note()

    async def check(out: Json) -> None:
        assert (await w.hub.get(_note_path(note)))["note"]["body"] == "Prefers phone."

    return {**_note_ids(note), "body": "Prefers phone."}, check


@recipe("contacts.note.delete")
async def _(w: World) -> Case:
    note = await w.note()

    async def check(out: Json) -> None:
        await _gone(w, _note_path(note))

    return _note_ids(note), check


@recipe("contacts.note.get")
async def _(w: World) -> Case:
    note = await w.note()

    async def check(out: Json) -> None:
        assert out == (await w.hub.get(_note_path(note)))["note"]

    return _note_ids(note), check


@recipe("contacts.note.list")
async def _(w: World) -> Case:
    note = await w.note()

    async def check(out: Json) -> None:
        assert [found["id"] for found in out["notes"]] == [note["id"]]

    return {"contactId": note["contactId"]}, check


APPOINTMENTS = "/calendars/events/appointments"


@recipe("contacts.appointment.list")
async def _(w: World) -> Case:
    appointment = await w.appointment()

    async def check(out: Json) -> None:
        assert [found["id"] for found in out["events"]] == [appointment["id"]]

    return {"contactId": appointment["contactId"]}, check


@recipe("contacts.appointment.create")
async def _(w: World) -> Case:
    contact = await w.contact()

    async def check(out: Json) -> None:
        found = (await w.hub.get(f"{APPOINTMENTS}/{out['id']}"))["appointment"]
        assert found["endTime"] == "2031-01-01T09:30:00.000Z"

    body = {"calendarId": w.hub.tenant.calendar_id, "contactId": contact["id"], "startTime": LATER}
    return body, check


@recipe("contacts.appointment.update")
async def _(w: World) -> Case:
    appointment = await w.appointment()

    async def check(out: Json) -> None:
        found = (await w.hub.get(f"{APPOINTMENTS}/{appointment['id']}"))["appointment"]
        assert found["appointmentStatus"] == "confirmed"

    return {"appointmentId": appointment["id"], "appointmentStatus": "confirmed"}, check


@recipe("contacts.appointment.cancel")
async def _(w: World) -> Case:
    appointment = await w.appointment()

    async def check(out: Json) -> None:
        found = (await w.hub.get(f"{APPOINTMENTS}/{appointment['id']}"))["appointment"]
        assert (found["status"], found["appointmentStatus"]) == ("cancelled", "cancelled")

    return {"appointmentId": appointment["id"]}, check


@recipe("contacts.appointment.delete")
async def _(w: World) -> Case:
    appointment = await w.appointment()

    async def check(out: Json) -> None:
        await _gone(w, f"{APPOINTMENTS}/{appointment['id']}")

    return {"appointmentId": appointment["id"]}, check


@recipe("contacts.business.create")
async def _(w: World) -> Case:
    async def check(out: Json) -> None:
        found = (await w.hub.get(f"/businesses/{out['id']}"))["business"]
        assert found["name"] == "Difference Engines"

    return {"name": "Difference Engines", "city": "London"}, check


@recipe("contacts.business.update")
async def _(w: World) -> Case:
    business = await w.business()

    async def check(out: Json) -> None:
        assert (await w.hub.get(f"/businesses/{business['id']}"))["business"]["city"] == "Leeds"

    return {"businessId": business["id"], "city": "Leeds"}, check


@recipe("contacts.business.delete")
async def _(w: World) -> Case:
    business = await w.business()

    async def check(out: Json) -> None:
        await _gone(w, f"/businesses/{business['id']}")

    return {"businessId": business["id"]}, check


# Mailsuite --------------------------------------------------------------------------------


async def _mail(w: World, path: str, name: str) -> Json:
    found: Json = (await w.hub.get(f"{MAIL}{path}"))[name]
    return found


@recipe("mailsuite.contact.upsert")
async def _(w: World) -> Case:
    crm = await w.contact()

    async def check(out: Json) -> None:
        found = await _mail(w, f"/contacts/{out['id']}", "contact")
        assert (found["email"], found["crmContactId"]) == (crm["email"], crm["id"])

    return {"email": crm["email"], "firstName": "Ada", "crmContactId": crm["id"]}, check


@recipe("mailsuite.contact.find")
async def _(w: World) -> Case:
    contact = await w.mail_contact()

    async def check(out: Json) -> None:
        assert out["found"] is True
        assert out["contact"] == await _mail(w, f"/contacts/{contact['id']}", "contact")

    return {"email": contact["email"]}, check


@recipe("mailsuite.contact.delete")
async def _(w: World) -> Case:
    contact = await w.new_mail_contact()

    async def check(out: Json) -> None:
        await _gone(w, f"{MAIL}/contacts/{contact['id']}")

    return {"contactId": contact["id"]}, check


@recipe("mailsuite.contact.unsubscribe")
async def _(w: World) -> Case:
    contact = await w.mail_contact()

    async def check(out: Json) -> None:
        found = await _mail(w, f"/contacts/{contact['id']}", "contact")
        assert found["subscriptionStatus"] == "unsubscribed"

    return {"contactId": contact["id"]}, check


@recipe("mailsuite.contact.resubscribe")
async def _(w: World) -> Case:
    contact = await w.mail_contact()
    path = f"{MAIL}/contacts/{contact['id']}"
    await w.hub.call("PUT", path, 200, json={"subscriptionStatus": "unsubscribed"})

    async def check(out: Json) -> None:
        found = await _mail(w, f"/contacts/{contact['id']}", "contact")
        assert found["subscriptionStatus"] == "subscribed"

    return {"contactId": contact["id"]}, check


async def _members(w: World, list_id: str) -> list[str]:
    rows = (await w.hub.get(f"{MAIL}/lists/{list_id}/members", limit=100))["members"]
    return [row["contact"]["id"] for row in rows]


@recipe("mailsuite.list.add_contact")
async def _(w: World) -> Case:
    contact, found = await w.mail_contact(), await w.mail_list()

    async def check(out: Json) -> None:
        assert out["added"] is True
        assert await _members(w, found["id"]) == [contact["id"]]

    return {"listId": found["id"], "contactId": contact["id"]}, check


@recipe("mailsuite.list.remove_contact")
async def _(w: World) -> Case:
    contact, found = await w.mail_contact(), await w.mail_list()
    body = {"contactIds": [contact["id"]]}
    await w.hub.post(f"{MAIL}/lists/{found['id']}/members", body, status=200)

    async def check(out: Json) -> None:
        assert await _members(w, found["id"]) == []

    return {"listId": found["id"], "contactId": contact["id"]}, check


@recipe("mailsuite.task.create")
async def _(w: World) -> Case:
    async def check(out: Json) -> None:
        assert (await _mail(w, f"/tasks/{out['id']}", "task"))["title"] == "Prepare the demo"

    return {"title": "Prepare the demo", "dueAt": LATER}, check


@recipe("mailsuite.task.update")
async def _(w: World) -> Case:
    task = await w.mail_task()

    async def check(out: Json) -> None:
        assert (await _mail(w, f"/tasks/{task['id']}", "task"))["notes"] == "Bring slides"

    return {"taskId": task["id"], "notes": "Bring slides"}, check


@recipe("mailsuite.task.complete")
async def _(w: World) -> Case:
    task = await w.mail_task()

    async def check(out: Json) -> None:
        assert (await _mail(w, f"/tasks/{task['id']}", "task"))["status"] == "done"

    return {"taskId": task["id"]}, check


@recipe("mailsuite.task.delete")
async def _(w: World) -> Case:
    task = await w.mail_task()

    async def check(out: Json) -> None:
        await _gone(w, f"{MAIL}/tasks/{task['id']}")

    return {"taskId": task["id"]}, check


async def _timeline(w: World, contact_id: str) -> list[Json]:
    return await w.hub.timeline(contact_id)


@recipe("mailsuite.timeline.add_note")
async def _(w: World) -> Case:
    contact = await w.mail_contact()

    async def check(out: Json) -> None:
        entries = await _timeline(w, contact["id"])
        assert [entry["body"] for entry in entries if entry["kind"] == "note"] == ["Called"]

    return {"contactId": contact["id"], "body": "Called"}, check


@recipe("mailsuite.timeline.update_note")
async def _(w: World) -> Case:
    note = await w.timeline_note()

    async def check(out: Json) -> None:
        entries = await _timeline(w, note["contactId"])
        assert [entry["body"] for entry in entries if entry["id"] == note["id"]] == ["Met twice"]

    return {"entryId": note["id"], "body": "Met twice"}, check


@recipe("mailsuite.timeline.delete_note")
async def _(w: World) -> Case:
    note = await w.timeline_note()

    async def check(out: Json) -> None:
        entries = await _timeline(w, note["contactId"])
        assert note["id"] not in [entry["id"] for entry in entries]

    return {"sourceSystem": "api", "sourceId": note["sourceId"]}, check


@recipe("mailsuite.email.send")
async def _(w: World) -> Case:
    sender, contact = await w.sender(), await w.mail_contact()

    async def check(out: Json) -> None:
        await poll(
            lambda: _mail(w, f"/emails/{out['id']}", "email"),
            lambda email: email["status"] == "sent",
            within=15,
        )
        assert w.mailbox.to(contact["email"])

    body = {"subject": "Hi", "html": "<p>Hello</p>"}
    return {"senderId": sender["id"], "contactId": contact["id"], **body}, check


@recipe("mailsuite.email.send_template")
async def _(w: World) -> Case:
    sender, template = await w.sender(), await w.template()
    contact = await w.mail_contact()

    async def check(out: Json) -> None:
        email = await _mail(w, f"/emails/{out['id']}", "email")
        assert (email["templateId"], email["subject"]) == (template["id"], "Hello Ada")

    body = {"senderId": sender["id"], "templateId": template["id"], "contactId": contact["id"]}
    return body, check


@recipe("mailsuite.email.schedule")
async def _(w: World) -> Case:
    sender, contact = await w.sender(), await w.mail_contact()

    async def check(out: Json) -> None:
        email = await _mail(w, f"/emails/{out['id']}", "email")
        assert (email["status"], email["scheduledAt"]) == ("scheduled", LATER)

    body = {"subject": "Later", "html": "<p>Later</p>", "scheduledAt": LATER}
    return {"senderId": sender["id"], "contactId": contact["id"], **body}, check


@recipe("mailsuite.email.cancel")
async def _(w: World) -> Case:
    email = await w.email()

    async def check(out: Json) -> None:
        assert (await _mail(w, f"/emails/{email['id']}", "email"))["status"] == "cancelled"

    return {"emailId": email["id"]}, check


@recipe("mailsuite.template.create")
async def _(w: World) -> Case:
    async def check(out: Json) -> None:
        found = await _mail(w, f"/templates/{out['id']}", "template")
        assert found["placeholders"] == ["first_name"]

    # The placeholder is the template's, not the flow's: raw, so the step's mapping keeps it.
    subject = "For {% raw %}{{ first_name }}{% endraw %}"
    return {"name": "Promo", "subject": subject, "html": "<p>Offer</p>"}, check


@recipe("mailsuite.template.update")
async def _(w: World) -> Case:
    template = await w.template()

    async def check(out: Json) -> None:
        found = await _mail(w, f"/templates/{template['id']}", "template")
        assert found["subject"] == "Hi again"

    return {"templateId": template["id"], "subject": "Hi again"}, check


async def _recipients(w: World, campaign_id: str) -> list[Json]:
    path = f"{MAIL}/campaigns/{campaign_id}/recipients"
    rows: list[Json] = (await w.hub.get(path, limit=100))["recipients"]
    return rows


@recipe("mailsuite.campaign.add_contact")
async def _(w: World) -> Case:
    campaign, contact = await w.campaign(), await w.mail_contact()

    async def check(out: Json) -> None:
        rows = await _recipients(w, campaign["id"])
        assert [(row["contactId"], row["status"]) for row in rows] == [(contact["id"], "pending")]

    return {"campaignId": campaign["id"], "contactId": contact["id"]}, check


@recipe("mailsuite.campaign.remove_contact")
async def _(w: World) -> Case:
    contact = await w.mail_contact()
    campaign = await w.campaign(contacts=[contact["id"]])

    async def check(out: Json) -> None:
        assert out["removed"] is True
        rows = await _recipients(w, campaign["id"])
        assert [row["status"] for row in rows] == ["removed"]

    return {"campaignId": campaign["id"], "contactId": contact["id"]}, check


@recipe("mailsuite.campaign.start")
async def _(w: World) -> Case:
    contact = await w.mail_contact()
    campaign = await w.campaign(contacts=[contact["id"]])

    async def check(out: Json) -> None:
        assert (await _mail(w, f"/campaigns/{campaign['id']}", "campaign"))["status"] == "launched"
        rows = await _recipients(w, campaign["id"])
        assert [row["status"] for row in rows] == ["queued"]

    return {"campaignId": campaign["id"], "scheduledAt": LATER}, check


@recipe("mailsuite.campaign.pause")
async def _(w: World) -> Case:
    campaign = await w.launched_campaign()

    async def check(out: Json) -> None:
        assert (await _mail(w, f"/campaigns/{campaign['id']}", "campaign"))["status"] == "paused"

    return {"campaignId": campaign["id"]}, check
