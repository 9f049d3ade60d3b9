"""Helpers of the flows tests: one tenant's calls to /flows, the Contacts API and Mailsuite
on the live server, and waiting for runs."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from contactflow.platform.db import Database
from tests.mailsuite.helpers import poll
from tests.support import LiveServer, Tenant, api_client, make_tenant

Json = dict[str, Any]
FINISHED = ("succeeded", "failed", "cancelled")
# Run by hand with {"name": ...}: one Mailsuite task named after it.
MANUAL_TASK_FLOW: Json = {
    "trigger": {"key": "core.manual"},
    "steps": [
        {
            "type": "action",
            "id": "task",
            "action": "mailsuite.task.create",
            "input": {"title": "Call {{ trigger.name }}"},
        }
    ],
}

# On each new contact: one Mailsuite task named after it.
CREATED_TASK_FLOW: Json = {
    "trigger": {"key": "contacts.contact.created"},
    "steps": [
        {
            "type": "action",
            "id": "task",
            "action": "mailsuite.task.create",
            "input": {"title": "Call {{ trigger.firstName }} {{ trigger.lastName }}"},
        }
    ],
}


def hook_flow(**options: str) -> Json:
    """An incoming webhook flow: a Mailsuite task per call, named after its body and query."""
    return {
        "trigger": {"key": "core.webhook", "options": options},
        "steps": [
            {
                "type": "action",
                "id": "task",
                "action": "mailsuite.task.create",
                "input": {"title": "Order {{ trigger.body.order }} from {{ trigger.query.shop }}"},
            }
        ],
    }


def failing_flow(trigger: str = "core.manual", then: str = "stop", **options: Any) -> Json:
    """A flow whose one step fails at once: a note on a contact that does not exist."""
    step = {
        "type": "action",
        "id": "note",
        "action": "contacts.note.create",
        "input": {"contactId": "no-such-contact", "body": "Hello"},
        "onError": {"then": then},
    }
    return {"trigger": {"key": trigger, "options": options}, "steps": [step]}


def welcome_flow(sender_id: str) -> Json:
    """A welcome flow written out by hand, longer than the shipped `welcome` template: new
    contact -> welcome email, follow-up task due in 2 days, and a note on the contact's
    Mailsuite timeline."""
    return {
        "trigger": {"key": "contacts.contact.created"},
        "conditions": {"conditions": [{"field": "trigger.email", "operator": "exists"}]},
        "steps": [
            {
                "type": "action",
                "id": "contact",
                "action": "mailsuite.contact.upsert",
                "input": {
                    "email": "{{ trigger.email }}",
                    "firstName": "{{ trigger.name | first_name }}",
                    "lastName": "{{ trigger.name | last_name }}",
                    "source": "flows",
                },
            },
            {
                "type": "action",
                "id": "welcome",
                "action": "mailsuite.email.send",
                "input": {
                    "senderId": sender_id,
                    "contactId": "{{ steps.contact.id }}",
                    "subject": "Welcome, {{ steps.contact.firstName }}",
                    "html": "<p>Hello {{ steps.contact.name }}</p>",
                },
            },
            {
                "type": "action",
                "id": "task",
                "action": "mailsuite.task.create",
                "input": {
                    "title": "Follow up with {{ trigger.name }}",
                    "contactId": "{{ steps.contact.id }}",
                    "dueAt": "{{ trigger.dateAdded | add(days=2) }}",
                },
            },
            {
                "type": "action",
                "id": "note",
                "action": "mailsuite.timeline.add_note",
                "input": {
                    "contactId": "{{ steps.contact.id }}",
                    "body": "Welcomed by flow; follow-up task {{ steps.task.id }}",
                },
            },
        ],
    }


@dataclass
class Hub:
    http: httpx.AsyncClient
    tenant: Tenant

    async def call(self, method: str, path: str, status: int, **options: Any) -> Json:
        response = await self.http.request(method, path, **options)
        assert response.status_code == status, (method, path, response.text)
        body: Json = response.json() if response.content else {}
        return body

    async def post(self, path: str, body: Json | None = None, status: int = 201) -> Json:
        return await self.call("POST", path, status, json=body or {})

    async def get(self, path: str, **params: Any) -> Json:
        return await self.call("GET", path, 200, params=params)

    async def flow(self, definition: Json, name: str = "Test flow") -> Json:
        """A flow created from `definition`, published and enabled."""
        created = await self.post("/flows", {"name": name, "definition": definition})
        flow_id = created["flow"]["id"]
        await self.post(f"/flows/{flow_id}/publish", status=200)
        flow: Json = (await self.post(f"/flows/{flow_id}/enable", status=200))["flow"]
        return flow

    async def runs(self, flow_id: str) -> list[Json]:
        runs: list[Json] = (await self.get(f"/flows/{flow_id}/runs", limit=100))["runs"]
        return runs

    async def finished_runs(self, flow_id: str, count: int = 1, within: float = 15) -> list[Json]:
        """Wait until the flow has `count` runs, all finished."""

        def done(runs: list[Json]) -> bool:
            return len(runs) >= count and all(run["state"] in FINISHED for run in runs)

        return await poll(lambda: self.runs(flow_id), done, within=within)

    async def run(self, run_id: str) -> Json:
        return await self.get(f"/flows/runs/{run_id}")

    async def crm_contact(self, **fields: Any) -> Json:
        contact: Json = (await self.post("/contacts/", fields))["contact"]
        return contact

    async def mail_sender(self, host: str, port: int) -> Json:
        body = {
            "name": "Welcome",
            "fromEmail": "hello@acme.example.org",
            "fromName": "Acme",
            "smtpHost": host,
            "smtpPort": port,
            "smtpSecurity": "none",
        }
        sender: Json = (await self.post("/mailsuite/v1/senders", body))["sender"]
        return sender

    async def mail_tasks(self, **params: Any) -> list[Json]:
        tasks: list[Json] = (await self.get("/mailsuite/v1/tasks", limit=100, **params))["tasks"]
        return tasks

    async def mail_emails(self, **params: Any) -> list[Json]:
        found: list[Json] = (await self.get("/mailsuite/v1/emails", limit=100, **params))["emails"]
        return found

    async def timeline(self, contact_id: str) -> list[Json]:
        page = await self.get(f"/mailsuite/v1/contacts/{contact_id}/timeline", limit=100)
        entries: list[Json] = page["entries"]
        return entries


@asynccontextmanager
async def hub_of(server: LiveServer) -> AsyncIterator[Hub]:
    """A new tenant on the server's own database, and its API calls to that server."""
    db = Database(server.settings.database_url)
    try:
        tenant = await make_tenant(db)
    finally:
        await db.dispose()
    async with api_client(server.base_url, tenant.headers, timeout=30) as http:
        yield Hub(http, tenant)
