"""The contacts pages over HTTP: the list searched with the filters of POST /contacts/search
(in the page's address, a bad filter named beside its row), paged by keyset; a contact's page
with its records and its Mailsuite side, every contact field escaped; its fields, tags, notes
and tasks changed through the services (events logged), refusals beside their fields; CSRF;
another location's contacts are a 404, whatever the role."""

import re
from typing import Any

import httpx

from contactflow.mailsuite import contacts as mail_contacts
from contactflow.mailsuite.schemas import ContactCreate as MailContactCreate
from contactflow.platform.db import Database
from contactflow.web.contacts import CONTACTS_PER_PAGE
from tests.flows.helpers import Hub
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, make_tenant
from tests.web.forms import form_fields
from tests.web.helpers import browser, make_person, second_location, signed_in
from tests.webhooks.helpers import create_contacts

SCRIPT = "<script>alert(1)</script>"


def contact_ids(html: str) -> list[str]:
    return re.findall(r'data-contact-id="([^"]+)"', html)


Params = list[tuple[str, str | int | float | bool | None]]


def search(*rows: tuple[str, str, str], **others: str) -> Params:
    """A search's address as the form sends it: each filter row's field, operator, value."""
    pairs: Params = []
    for field, operator, value in rows:
        pairs += [("field", field), ("op", operator), ("value", value)]
    return pairs + list(others.items())


async def linked_mail_contact(db: Database, location_id: str, crm_id: str, email: str) -> str:
    """A Mailsuite contact linked to the Contacts API contact `crm_id`, as flows link them."""
    async with db.unit_of_work() as uow:
        body = MailContactCreate.model_validate({"email": email})
        mail, _ = await mail_contacts.upsert_contact(uow, location_id, body, "US", crm_id)
        return mail.id


async def test_contacts_are_searched_with_the_apis_filters_kept_in_the_address(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    here = f"/app/l/{web_tenant.location_id}/contacts"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        empty = await http.get(here)
        assert empty.status_code == 200
        assert "No contacts yet" in empty.text
        assert f'<a href="{here}">Contacts</a>' in empty.text
        assert "/docs#/" in empty.text
        assert 'class="badge"' not in empty.text

        ada = await web_hub.crm_contact(firstName=SCRIPT, email="ada@example.org", tags=["vip"])
        bob = await web_hub.crm_contact(firstName="Bob", tags=["lead", "<b>x</b>"])
        cy = await web_hub.crm_contact(firstName="Cy", dnd=True)

        listed = await http.get(here)
        assert contact_ids(listed.text) == [cy["id"], bob["id"], ada["id"]]
        assert SCRIPT not in listed.text
        assert "<b>x</b>" not in listed.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listed.text

        vip = await http.get(here, params=search(("tags", "eq", "vip")))
        assert contact_ids(vip.text) == [ada["id"]]
        # The form shows the search it made, so it can be changed and sent again.
        assert form_fields(vip.text, "contact-search") == {
            "sort": "dateAdded",
            "dir": "desc",
            "field": "tags",
            "op": "eq",
            "value": "vip",
        }
        either = await http.get(here, params=search(("tags", "in", "vip, lead")))
        assert contact_ids(either.text) == [bob["id"], ada["id"]]
        no_dnd = await http.get(here, params=search(("dnd", "eq", "false"), ("tags", "exists", "")))
        assert contact_ids(no_dnd.text) == [bob["id"], ada["id"]]
        oldest = await http.get(here, params=search(dir="asc"))
        assert contact_ids(oldest.text) == [ada["id"], bob["id"], cy["id"]]
        text = await http.get(here, params={"q": "ada@"})
        assert contact_ids(text.text) == [ada["id"]]
        none = await http.get(here, params=search(("firstName", "eq", "nobody")))
        assert "No contact matches" in none.text

        unknown = await http.get(here, params=search(("tags", "eq", "vip"), ("shoe<b>", "eq", "9")))
        assert unknown.status_code == 422
        assert 'id="row-1-error">unknown field' in unknown.text
        assert "shoe<b>" not in unknown.text
        wrong = await http.get(here, params=search(("dnd", "contains", "yes")))
        assert wrong.status_code == 422
        assert 'id="row-0-error">dnd takes eq or not_eq' in wrong.text
        bad_op = await http.get(here, params=search(("email", "sounds_like", "x")))
        assert 'id="row-0-error">pick an operator' in bad_op.text
        bad_date = await http.get(here, params=search(("dateAdded", "gt", "yesterday")))
        assert 'id="row-0-error">needs a date' in bad_date.text
        assert (await http.get(here, params={"sort": "email"})).status_code == 422
        assert (await http.get(here, params={"q": "x" * 256})).status_code == 422

        # Add and Remove are the form's buttons: they answer with the search's new address.
        added = await http.get(here, params=search(("tags", "eq", "vip"), add="1"))
        assert added.status_code == 303
        grown = await http.get(added.headers["location"])
        assert grown.text.count('name="field"') == 2
        assert contact_ids(grown.text) == [ada["id"]]
        removed = await http.get(
            here, params=search(("tags", "eq", "vip"), ("dnd", "eq", "true"), remove="0")
        )
        assert removed.status_code == 303
        assert contact_ids((await http.get(removed.headers["location"])).text) == [cy["id"]]


async def test_more_contacts_page_by_keyset(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    ids = await create_contacts(
        web_db, web_tenant.location_id, [f"C{n}" for n in range(CONTACTS_PER_PAGE + 1)]
    )
    here = f"/app/l/{web_tenant.location_id}/contacts"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        for sort, direction in (("dateAdded", "asc"), ("dateUpdated", "desc")):
            shown = search(("firstName", "contains", "c"), sort=sort, dir=direction)
            first = await http.get(here, params=shown)
            assert len(contact_ids(first.text)) == CONTACTS_PER_PAGE
            more = re.search(r'<a href="([^"]+)">More contacts</a>', first.text)
            assert more is not None
            second = await http.get(more.group(1).replace("&amp;", "&"))
            assert "field=firstName" in more.group(1)
            assert f"sort={sort}&amp;dir={direction}" in more.group(1)
            assert len(contact_ids(second.text)) == 1
            assert "More contacts" not in second.text
            assert sorted(contact_ids(first.text) + contact_ids(second.text)) == sorted(ids)
        for after in ("x", "1_", "9" * 30):
            assert (await http.get(here, params={"after": after})).status_code == 200


async def test_a_contacts_page_shows_its_records_and_mailsuite_side_escaped(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    ada = await web_hub.crm_contact(
        firstName=SCRIPT, email="ada.page@example.org", companyName=SCRIPT, tags=[SCRIPT]
    )
    path = f"/contacts/{ada['id']}"
    task = {"title": SCRIPT, "dueDate": "2026-12-10T15:00:00.000Z", "completed": False}
    await web_hub.post(f"{path}/tasks", task)
    await web_hub.post(f"{path}/notes", {"body": SCRIPT})
    appointment = {
        "calendarId": web_tenant.calendar_id,
        "contactId": ada["id"],
        "title": SCRIPT,
        "startTime": "2026-12-11T10:00:00Z",
        "endTime": "2026-12-11T10:30:00Z",
    }
    await web_hub.post("/calendars/events/appointments", appointment)
    here = f"/app/l/{web_tenant.location_id}{path}"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        unlinked = await http.get(here)
        assert unlinked.status_code == 200
        assert "Not linked to a Mailsuite contact" in unlinked.text

        mail_id = await linked_mail_contact(
            web_db, web_tenant.location_id, ada["id"], "ada.page@example.org"
        )
        entry = {"kind": "note", "body": f"timeline {SCRIPT}"}
        await web_hub.post(f"/mailsuite/v1/contacts/{mail_id}/timeline", entry)
        mail_task = {"title": f"mail {SCRIPT}", "contactId": mail_id}
        await web_hub.post("/mailsuite/v1/tasks", mail_task)
        sender = await web_hub.mail_sender("127.0.0.1", 9)
        email = {"senderId": sender["id"], "contactId": mail_id, "subject": f"Hi {SCRIPT}"}
        await web_hub.post("/mailsuite/v1/emails", {**email, "html": "<p>Hello</p>"})

        page = await http.get(here)
        assert page.status_code == 200
        assert "<script>" not in page.text.replace('<script src="/app/static/', "")
        escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
        for shown in (
            f"<h1>{escaped}</h1>",
            f'data-tag="{escaped}"',
            f"<strong>{escaped}</strong>",  # the task and the appointment
            f"<p>{escaped}</p>",  # the note
            f"<p>timeline {escaped}</p>",
            f"<strong>mail {escaped}</strong>",
            f"Hi {escaped}",
            f'value="{escaped}"',  # the company in the form
        ):
            assert shown in page.text, shown
        assert page.text.count("data-email-id=") == 1
        assert "/docs#/" in page.text


async def test_fields_tags_notes_and_tasks_are_changed_through_the_services(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    await web_hub.crm_contact(firstName="Taken", email="taken@example.org")
    ada = await web_hub.crm_contact(firstName="Ada", email="ada.edit@example.org", tags=["old"])
    here = f"/app/l/{web_tenant.location_id}/contacts/{ada['id']}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        page = await http.get(here)
        fields = form_fields(page.text, "contact-fields")
        assert fields["firstName"] == "Ada"
        assert fields["type"] == "lead"

        saved = await http.post(here, data={**fields, "lastName": "Lovelace", "city": ""})
        assert saved.status_code == 303
        assert saved.headers["location"] == f"{here}?done=saved"
        stored: dict[str, Any] = (await web_hub.get(f"/contacts/{ada['id']}"))["contact"]
        assert (stored["name"], stored["email"]) == ("Ada Lovelace", "ada.edit@example.org")

        for change, field, reason in (
            ({"email": "not an email"}, "email", ""),
            ({"email": "taken@example.org"}, "email", "another contact of this location has it"),
            ({"dateOfBirth": "soon"}, "dateOfBirth", ""),
            ({"firstName": "x" * 256}, "firstName", "String should have at most 255 characters"),
        ):
            refused = await http.post(here, data={**fields, **change})
            assert refused.status_code == 422, (change, refused.text[:500])
            assert f'id="{field}-error">{reason}' in refused.text, change
            assert 'aria-invalid="true"' in refused.text
            # The form keeps what was sent.
            assert form_fields(refused.text, "contact-fields")[field] == change[field]
        odd_type = await http.post(here, data={**fields, "type": "vendor"})
        assert odd_type.status_code == 422
        assert 'id="type-error">Input should be' in odd_type.text
        assert (await web_hub.get(f"/contacts/{ada['id']}"))["contact"]["lastName"] == "Lovelace"

        tagged = await http.post(f"{here}/tags", data={"csrf_token": token, "tags": "vip, Gold"})
        assert tagged.status_code == 303
        untagged = await http.post(f"{here}/tags/remove", data={"csrf_token": token, "tag": "old"})
        assert untagged.status_code == 303
        stored = (await web_hub.get(f"/contacts/{ada['id']}"))["contact"]
        assert stored["tags"] == ["vip", "gold"]
        blank = await http.post(f"{here}/tags", data={"csrf_token": token, "tags": " , "})
        assert blank.status_code == 422
        assert 'id="tags-error">required' in blank.text

        noted = await http.post(f"{here}/notes", data={"csrf_token": token, "body": "Met at expo"})
        assert noted.status_code == 303
        empty_note = await http.post(f"{here}/notes", data={"csrf_token": token, "body": " "})
        assert empty_note.status_code == 422
        assert 'id="body-error">' in empty_note.text

        task = {"csrf_token": token, "title": "Call back", "dueDate": "2026-12-24T09:30"}
        assert (await http.post(f"{here}/tasks", data=task)).status_code == 303
        late = await http.post(f"{here}/tasks", data={**task, "dueDate": "someday"})
        assert late.status_code == 422
        assert 'id="dueDate-error">a date and time' in late.text
        untitled = await http.post(f"{here}/tasks", data={**task, "title": ""})
        assert untitled.status_code == 422
        assert 'id="title-error">' in untitled.text

        shown = await http.get(f"{here}?done=tasked")
        assert "Added the task." in shown.text
        assert "Met at expo" in shown.text
        assert "Call back" in shown.text
    [note] = (await web_hub.get(f"/contacts/{ada['id']}/notes"))["notes"]
    assert note["body"] == "Met at expo"
    [stored_task] = (await web_hub.get(f"/contacts/{ada['id']}/tasks"))["tasks"]
    assert stored_task["dueDate"].startswith("2026-12-24T09:30:00")
    logged = [event["type"] for event in (await web_hub.get("/events", limit=100))["events"]]
    assert logged.count("ContactUpdate") == 3  # the fields, then each tags change
    assert logged.count("ContactTagUpdate") == 2
    assert {"NoteCreate", "TaskCreate"} <= set(logged)


async def test_changes_need_the_csrf_token_and_this_sites_pages(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    ada = await web_hub.crm_contact(firstName="Ada")
    here = f"/app/l/{web_tenant.location_id}/contacts/{ada['id']}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        missing = await http.post(f"{here}/notes", data={"body": "no token"})
        assert missing.status_code == 403
        elsewhere = await http.post(
            f"{here}/notes",
            data={"csrf_token": token, "body": "from elsewhere"},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert elsewhere.status_code == 403
        forged = await http.post(here, data={"csrf_token": "x" * 40, "firstName": "Eve"})
        assert forged.status_code == 403
    assert (await web_hub.get(f"/contacts/{ada['id']}/notes"))["notes"] == []
    assert (await web_hub.get(f"/contacts/{ada['id']}"))["contact"]["firstName"] == "Ada"


async def test_another_locations_contacts_are_not_found(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    other = await make_tenant(web_db, sandbox=True)
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=web_server.base_url, headers=other.headers
    ) as api:
        response = await api.post("/contacts/", json={"firstName": "Theirs"})
        assert response.status_code == 201
        theirs = response.json()["contact"]
    user = await make_person(web_db, web_tenant.location_id, role="user")
    ours = f"/app/l/{web_tenant.location_id}/contacts"
    mine = f"/app/l/{other.location_id}/contacts"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, user)
        for path in (f"{ours}/{theirs['id']}", mine, f"{mine}/{theirs['id']}"):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert "Theirs" not in response.text
        for path in (f"{ours}/{theirs['id']}", f"{mine}/{theirs['id']}"):
            for action in ("", "/notes", "/tags", "/tags/remove", "/tasks"):
                sent = {"csrf_token": token, "body": "x", "tags": "x", "tag": "x", "title": "x"}
                response = await http.post(path + action, data=sent)
                assert response.status_code == 404, path + action
        assert theirs["id"] not in (await http.get(ours)).text
    # A sibling location of the company: its admin sees it, a user of ours does not.
    sibling = await second_location(web_db, web_tenant)
    [sib] = await create_contacts(web_db, sibling, ["Sib"])
    sibling_page = f"/app/l/{sibling}/contacts/{sib}"
    async with browser(web_server.base_url) as http:
        await signed_in(http, user)
        assert (await http.get(sibling_page)).status_code == 404
    async with browser(web_server.base_url) as http:
        await signed_in(http, await make_person(web_db, web_tenant.location_id))
        assert (await http.get(sibling_page)).status_code == 200
        assert (await http.get(f"{ours}/{sib}")).status_code == 404
    # Their own admin sees them, with the sandbox badge.
    admin = await make_person(web_db, other.location_id)
    async with browser(web_server.base_url) as http:
        await signed_in(http, admin)
        page = await http.get(f"{mine}/{theirs['id']}")
        assert page.status_code == 200
        assert '<span class="badge"' in page.text
        assert '<span class="badge"' in (await http.get(mine)).text
