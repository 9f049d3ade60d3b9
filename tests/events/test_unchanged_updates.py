"""An update that changes nothing is not an update: no event (sync loops that write back what
they read rely on it) and no new dateUpdated. Each update path that emits events is written
twice with the same values, and the log is counted after the second write."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.flows.helpers import MANUAL_TASK_FLOW
from tests.support import Tenant
from tests.webhooks.helpers import Json, create_contact, json_of, log_events

MANUAL_FLOW: Json = {
    "name": "Enrolment",
    "definition": MANUAL_TASK_FLOW,
}


async def write(client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> Json:
    response = await client.request(method, path, json=body)
    assert response.status_code in (200, 201), (method, path, response.text)
    return json_of(response)


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    body: Any
    # Where the answer holds the record's time of change, when it has one.
    updated: tuple[str, ...] | None = None
    # The event types counted, when workers may append others meanwhile.
    counted: tuple[str, ...] | None = None


Setup = Callable[[httpx.AsyncClient, Tenant, str], Awaitable[Write]]


async def _contact(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    return Write(
        "PUT",
        f"/contacts/{contact_id}",
        {"firstName": "Ada", "email": "ada@example.com", "tags": ["vip"], "city": "London"},
        ("contact", "dateUpdated"),
    )


async def _upsert(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    return Write("POST", "/contacts/upsert", {"email": "ada@example.com", "city": "London"})


async def _tags(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    return Write("POST", f"/contacts/{contact_id}/tags", {"tags": ["VIP"]})


async def _untag(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    return Write("DELETE", f"/contacts/{contact_id}/tags", {"tags": ["cold"]})


async def _bulk_tags(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    body = {"locationId": tenant.location_id, "contacts": [contact_id], "tags": ["vip"]}
    return Write("POST", "/contacts/bulk/tags/update/add", body)


async def _followers(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    return Write("POST", f"/contacts/{contact_id}/followers", {"followers": tenant.user_ids[:1]})


async def _bulk_business(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    business = (await write(client, "POST", "/businesses/", {"name": "Acme"}))["business"]
    body = {"locationId": tenant.location_id, "ids": [contact_id], "businessId": business["id"]}
    return Write("POST", "/contacts/bulk/business", body)


async def _task(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    body = {"title": "Call", "dueDate": "2030-01-01T10:00:00.000Z", "completed": False}
    task = (await write(client, "POST", f"/contacts/{contact_id}/tasks", body))["task"]
    return Write(
        "PUT",
        f"/contacts/{contact_id}/tasks/{task['id']}",
        {**body, "assignedTo": tenant.user_ids[0]},
    )


async def _task_completed(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    body = {"title": "Call", "dueDate": "2030-01-01T10:00:00.000Z", "completed": True}
    task = (await write(client, "POST", f"/contacts/{contact_id}/tasks", body))["task"]
    path = f"/contacts/{contact_id}/tasks/{task['id']}/completed"
    return Write("PUT", path, {"completed": True})


async def _note(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    note = (await write(client, "POST", f"/contacts/{contact_id}/notes", {"body": "Met"}))["note"]
    return Write(
        "PUT", f"/contacts/{contact_id}/notes/{note['id']}", {"body": "Met", "pinned": True}
    )


async def _appointment(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    body = {
        "calendarId": tenant.calendar_id,
        "contactId": contact_id,
        "title": "Demo",
        "startTime": "2030-02-01T15:00:00.000Z",
    }
    made = await write(client, "POST", "/calendars/events/appointments", body)
    return Write(
        "PUT",
        f"/calendars/events/appointments/{made['id']}",
        {"title": "Demo call", "appointmentStatus": "confirmed", "users": tenant.user_ids},
        ("dateUpdated",),
    )


async def _business(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    business = (await write(client, "POST", "/businesses/", {"name": "Acme"}))["business"]
    return Write(
        "PUT",
        f"/businesses/{business['id']}",
        {"name": "Acme Inc", "city": "Austin", "phone": "(512) 555-0100"},
        ("business", "updatedAt"),
    )


async def _workflow(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    flow = (await write(client, "POST", "/flows", MANUAL_FLOW))["flow"]
    path = f"/contacts/{contact_id}/workflow/{flow['id']}"
    return Write("POST", path, {"eventStartTime": "2030-01-01T09:00:00.000Z"})


async def _campaign(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    # A public address: the sender is never used, only named.
    smtp = {"smtpHost": "93.184.216.34", "smtpPort": 587, "smtpSecurity": "none"}
    sender = {"name": "News", "fromEmail": "news@example.com", **smtp}
    made = (await write(client, "POST", "/mailsuite/v1/senders", sender))["sender"]
    template = {"name": "Hi", "subject": "Hi", "html": "<p>Hi</p>"}
    made_template = (await write(client, "POST", "/mailsuite/v1/templates", template))["template"]
    body = {"name": "Spring", "senderId": made["id"], "templateId": made_template["id"]}
    campaign = (await write(client, "POST", "/mailsuite/v1/campaigns", body))["campaign"]
    # Mailsuite's enrolment appends its own events as it reads the first enrolment.
    path = f"/contacts/{contact_id}/campaigns/{campaign['id']}"
    return Write("POST", path, None, counted=("ContactCampaignAdd", "ContactCampaignRemove"))


async def _mail_contact(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    body = {"email": "ann@example.com", "firstName": "Ann"}
    made = (await write(client, "POST", "/mailsuite/v1/contacts", body))["contact"]
    change = {"firstName": "Ann", "lastName": "Lee", "customFields": {"plan": "gold"}}
    path = f"/mailsuite/v1/contacts/{made['id']}"
    return Write("PUT", path, change, ("contact", "updatedAt"))


async def _mail_task(client: httpx.AsyncClient, tenant: Tenant, contact_id: str) -> Write:
    made = (await write(client, "POST", "/mailsuite/v1/tasks", {"title": "Call Ann"}))["task"]
    change = {"title": "Call Ann back", "status": "done", "dueAt": "2030-01-01T09:00:00.000Z"}
    return Write("PUT", f"/mailsuite/v1/tasks/{made['id']}", change, ("task", "updatedAt"))


PATHS: dict[str, Setup] = {
    "contact update": _contact,
    "contact upsert": _upsert,
    "tags added": _tags,
    "tags removed": _untag,
    "bulk tags": _bulk_tags,
    "followers added": _followers,
    "bulk business": _bulk_business,
    "task update": _task,
    "task completed": _task_completed,
    "note update": _note,
    "appointment update": _appointment,
    "business update": _business,
    "workflow enrolment": _workflow,
    "campaign enrolment": _campaign,
    "mailsuite contact update": _mail_contact,
    "mailsuite task update": _mail_task,
}


def _at(body: Json, where: tuple[str, ...]) -> Any:
    value: Any = body
    for key in where:
        value = value[key]
    return value


@pytest.mark.parametrize("setup", PATHS.values(), ids=PATHS.keys())
async def test_writing_the_same_values_again_emits_no_event(
    client: httpx.AsyncClient, tenant: Tenant, setup: Setup
) -> None:
    contact = await create_contact(
        client, firstName="Ada", email="ada@example.com", tags=["vip"], city="London"
    )
    repeated = await setup(client, tenant, contact["id"])
    counted = {"types": ",".join(repeated.counted)} if repeated.counted else {}
    first = await write(client, repeated.method, repeated.path, repeated.body)
    logged = len(await log_events(client, **counted))

    again = await write(client, repeated.method, repeated.path, repeated.body)

    assert [event["type"] for event in (await log_events(client, **counted))[logged:]] == []
    if repeated.updated is not None:
        assert _at(again, repeated.updated) == _at(first, repeated.updated)
