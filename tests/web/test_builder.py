"""The flow builder over HTTP: a flow built from a blank form through the builder's buttons
and saved is the definition the API serves; bad input is named beside its field; publish
refusals land at the step and field; tests run the draft; another location's flow is a 404;
user content is escaped; and a post without the CSRF token is refused."""

import re
from typing import Any

import httpx

from contactflow.platform.db import Database
from tests.flows.helpers import MANUAL_TASK_FLOW, Hub, Json
from tests.mailsuite.helpers import poll
from tests.support import LiveServer, Tenant
from tests.web.forms import form_fields
from tests.web.helpers import browser, make_person, second_location, signed_in

HOSTILE = '"><img src=x onerror=alert(1)>'
WELCOME_SUBJECT = "Welcome, {{ trigger.firstName }}"


async def _op(http: httpx.AsyncClient, url: str, fields: dict[str, str], op: str) -> str:
    """Press a builder button as a browser without htmx would: the page comes back."""
    response = await http.post(f"{url}/op", data={**fields, "op": op})
    assert response.status_code == 200, response.text[:3000]
    return response.text


def _welcome_definition(sender_id: str) -> Json:
    return {
        "trigger": {"key": "contacts.contact.created"},
        "conditions": {
            "match": "all",
            "conditions": [{"field": "trigger.email", "operator": "exists"}],
        },
        "steps": [
            {
                "type": "action",
                "id": "email_send",
                "action": "mailsuite.email.send",
                "input": {
                    "senderId": sender_id,
                    "to": "{{ trigger.email }}",
                    "subject": WELCOME_SUBJECT,
                    "html": "<p>Hello {{ trigger.firstName | trim }}</p>",
                },
            },
            {
                "type": "action",
                "id": "task_create",
                "action": "contacts.task.create",
                "input": {
                    "contactId": "{{ trigger.id }}",
                    "title": "Call {{ trigger.name }}",
                    "dueDate": "{{ trigger.dateAdded | add(days=2) }}",
                    "completed": False,
                },
                "onError": {"retries": 2},
            },
        ],
    }


async def _build_welcome(http: httpx.AsyncClient, base: str, sender_id: str) -> str:
    """Build the welcome flow from a blank builder through its buttons; returns the page."""
    page = (await http.get(f"{base}/new/builder")).text
    fields = form_fields(page, "builder")
    url = f"{base}/new/builder"
    fields["pick.trigger"] = "contacts.contact.created"
    page = await _op(http, url, fields, "trigger:")
    assert "Contact created" in page
    assert 'name="trigger.options.ignoreEventsFrom"' in page
    page = await _op(http, url, form_fields(page, "builder"), "add-condition:conditions")
    fields = form_fields(page, "builder")
    fields |= {"conditions.conditions.0.field": "trigger.email"}
    fields |= {"conditions.conditions.0.operator": "exists"}
    fields["pick.steps"] = "mailsuite.email.send"
    page = await _op(http, url, fields, "add-action:steps")
    # The field picker lists the trigger's fields with their sample values.
    assert "trigger.firstName = Ada" in page
    fields = form_fields(page, "builder")
    fields |= {
        "name": "Welcome from the builder",
        "steps.0.input.senderId": sender_id,
        "steps.0.input.to": "{{ trigger.email }}",
        "steps.0.input.subject": WELCOME_SUBJECT,
        "steps.0.input.html": "<p>Hello {{ trigger.firstName | trim }}</p>",
        "pick.steps": "contacts.task.create",
    }
    page = await _op(http, url, fields, "add-action:steps")
    assert "steps.email_send.subject = Welcome, Ada" in page
    fields = form_fields(page, "builder")
    fields |= {
        "steps.1.input.contactId": "{{ trigger.id }}",
        "steps.1.input.title": "Call {{ trigger.name }}",
        "steps.1.input.dueDate": "{{ trigger.dateAdded | add(days=2) }}",
        "steps.1.input.completed": "false",
        "steps.1.onError.retries": "2",
    }
    response = await http.post(f"{url}/save", data=fields)
    assert response.status_code == 303, response.text[:3000]
    return response.headers["location"]


async def test_a_flow_built_in_the_builder_is_the_definition_the_api_serves(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    sender = await web_hub.mail_sender("127.0.0.1", 2525)
    person = await make_person(web_db, web_tenant.location_id)
    base = f"/app/l/{web_tenant.location_id}/flows"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        where = await _build_welcome(http, base, sender["id"])
        flow_id = where.split("/")[-2]
        flow = (await web_hub.get(f"/flows/{flow_id}"))["flow"]
        assert flow["name"] == "Welcome from the builder"
        assert flow["draft"]["definition"] == _welcome_definition(sender["id"])

        # Opened again, the builder shows the same definition; saving it again changes nothing.
        page = (await http.get(where)).text
        fields = form_fields(page, "builder")
        assert fields["steps.1.input.dueDate"] == "{{ trigger.dateAdded | add(days=2) }}"
        saved = await http.post(f"{base}/{flow_id}/builder/save", data=fields)
        assert saved.status_code == 303
        again = (await web_hub.get(f"/flows/{flow_id}"))["flow"]["draft"]["definition"]
        assert again == _welcome_definition(sender["id"])

        # Moving the task up and deleting the email leaves the task alone.
        moved = await _op(http, f"{base}/{flow_id}/builder", fields, "up:steps.1")
        fields = form_fields(moved, "builder")
        assert fields["steps.0.id"] == "task_create"
        removed = await _op(http, f"{base}/{flow_id}/builder", fields, "remove:steps.1")
        assert "steps.1.id" not in form_fields(removed, "builder")

        # Tested on the trigger's sample: each step's input shows in the builder.
        tested = await http.post(f"{base}/{flow_id}/builder/test", data=fields)
        assert tested.status_code == 303, tested.text[:2000]
        run_id = re.search(r"test=([A-Za-z0-9]+)", tested.headers["location"])
        assert run_id is not None
        result_url = f"{base}/{flow_id}/builder/tests/{run_id.group(1)}"

        async def drawn() -> str:
            return (await http.get(result_url)).text

        result = await poll(drawn, lambda text: 'data-test-state="succeeded"' in text, within=30)
        assert 'data-test-step="email_send"' in result
        assert "Welcome, Ada" in result
        assert 'data-test-step="task_create"' in result
        assert "2026-12-03T09:00:00.000Z" in result

        published = await http.post(f"{base}/{flow_id}/builder/publish", data=fields)
        assert published.status_code == 303, published.text[:2000]
        enabled = await http.post(f"{base}/{flow_id}/builder/switch/on", data=fields)
        assert enabled.status_code == 303
        assert (await web_hub.get(f"/flows/{flow_id}"))["flow"]["enabled"] is True


async def test_htmx_gets_only_the_part_a_button_changes(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    url = f"/app/l/{web_tenant.location_id}/flows/new/builder"
    async with browser(web_server.base_url) as http:
        csrf = await signed_in(http, person)
        http.headers.update({"HX-Request": "true", "X-CSRF-Token": csrf})
        fields = {"pick.steps": "core.notify", "trigger.key": "core.manual"}
        response = await http.post(f"{url}/op", data={**fields, "op": "add-delay:steps"})
        assert response.status_code == 200
        assert response.text.lstrip().startswith('<div id="steps-block">')
        assert 'name="steps.0.for.days"' in response.text
        assert "<html" not in response.text
        found = await http.get(
            f"/app/l/{web_tenant.location_id}/flows/builder/catalog",
            params={"kind": "action", "q": "send email", "name": "pick.steps"},
        )
        assert "mailsuite.email.send" in found.text
        assert "contacts.task.create" not in found.text


async def test_bad_input_is_named_beside_its_field(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    base = f"/app/l/{web_tenant.location_id}/flows"
    fields = {
        "name": "",
        "trigger.key": "core.manual",
        "steps.0.type": "action",
        "steps.0.id": "bad id",
        "steps.0.action": "mailsuite.task.create",
        "steps.0.input.title": "Call",
        "steps.0.onError.retries": "many",
    }
    async with browser(web_server.base_url) as http:
        fields["csrf_token"] = await signed_in(http, person)
        refused = await http.post(f"{base}/new/builder/save", data=fields)
        assert refused.status_code == 422
        assert re.search(r'id="f-name-error">give the flow a name<', refused.text)
        assert re.search(r'id="f-steps-0-id-error">String should match pattern', refused.text)
        assert 'id="f-steps-0-retries-error">a whole number<' in refused.text
        # Saved as a draft, its publish is refused at the step's field by the catalog check.
        fields |= {"name": "Half done", "steps.0.id": "task", "steps.0.onError.retries": ""}
        fields |= {"steps.0.input.dueAt": "{{ steps.later.id }}"}
        saved = await http.post(f"{base}/new/builder/save", data=fields)
        assert saved.status_code == 303
        flow_url = saved.headers["location"].partition("?")[0]
        refused = await http.post(f"{flow_url}/publish", data=fields)
        assert refused.status_code == 422
        assert re.search(
            r'id="f-steps-0-input-dueAt-error">refers to step &#39;later&#39;', refused.text
        )
        flow_id = flow_url.split("/")[-2]
        assert (await web_hub.get(f"/flows/{flow_id}"))["flow"]["published"] is None


async def test_another_locations_flow_is_not_found_and_content_is_escaped(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    flow = await web_hub.flow(MANUAL_TASK_FLOW, name=HOSTILE)
    sibling = await second_location(web_db, web_tenant)
    outsider = await make_person(web_db, sibling, role="user")
    owner = await make_person(web_db, web_tenant.location_id, role="user")
    ours = f"/app/l/{web_tenant.location_id}/flows/{flow['id']}/builder"
    theirs = f"/app/l/{sibling}/flows/{flow['id']}/builder"
    async with browser(web_server.base_url) as http:
        csrf = await signed_in(http, outsider)
        for path in (ours, theirs):
            assert (await http.get(path)).status_code == 404
        posted = await http.post(f"{theirs}/save", data={"csrf_token": csrf, "name": "Mine"})
        assert posted.status_code == 404
    async with browser(web_server.base_url) as http:
        csrf = await signed_in(http, owner)
        page = await http.get(ours)
        assert page.status_code == 200
        assert HOSTILE not in page.text
        assert "&#34;&gt;&lt;img src=x" in page.text
        fields: dict[str, Any] = form_fields(page.text, "builder")
        fields["steps.0.input.title"] = HOSTILE
        drawn = await _op(http, ours, fields, "add-condition:conditions")
        assert HOSTILE not in drawn


async def test_a_post_without_the_csrf_token_is_refused(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    flow = await web_hub.flow(MANUAL_TASK_FLOW, name="Guarded")
    person = await make_person(web_db, web_tenant.location_id)
    url = f"/app/l/{web_tenant.location_id}/flows/{flow['id']}/builder"
    async with browser(web_server.base_url) as http:
        csrf = await signed_in(http, person)
        fields = form_fields((await http.get(url)).text, "builder")
        fields["name"] = "Changed"
        without = {name: value for name, value in fields.items() if name != "csrf_token"}
        assert (await http.post(f"{url}/save", data=without)).status_code == 403
        assert (
            await http.post(f"{url}/op", data={**without, "op": "add-delay:steps"})
        ).status_code == 403
        cross = await http.post(
            f"{url}/save", data=fields, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert cross.status_code == 403
        assert csrf == fields["csrf_token"]
    assert (await web_hub.get(f"/flows/{flow['id']}"))["flow"]["name"] == "Guarded"
