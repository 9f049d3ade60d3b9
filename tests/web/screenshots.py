"""`make screenshots`: each dashboard page photographed into docs/dashboard/ at 1280x800,
from a server on a fresh SQLite database with a flow, a run and a connection, through
Debian's chromium (the same set-up as the browser tests)."""

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Page, ViewportSize, async_playwright, expect

from contactflow.platform.auth import invitations
from contactflow.platform.auth.api_keys import create_key
from contactflow.platform.db import Database
from contactflow.platform.tenancy import Location
from tests.flows.helpers import MANUAL_TASK_FLOW as MANUAL
from tests.flows.helpers import Hub, Json
from tests.mailsuite.helpers import Mail
from tests.receiver import running_receiver
from tests.support import api_client, live_server, migrated_database, server_settings
from tests.web.helpers import CHROMIUM, CHROMIUM_ARGS, make_person
from tests.web.mailsuite_helpers import audience, caught_messages, open_all
from tests.web.outbox_helpers import caught_email
from tests.webhooks.helpers import poll

DOCS = Path(__file__).resolve().parents[2] / "docs" / "dashboard"
VIEWPORT = ViewportSize(width=1280, height=800)
WAIT_MS = 30_000
# Nothing listens on the discard port: deliveries to it fail and open an issue.
FAILING_RECEIVER = "http://127.0.0.1:9/billing"


async def _shot(page: Page, path: str, heading: str, name: str) -> Path:
    await page.goto(path)
    await expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(
        timeout=WAIT_MS
    )
    target = DOCS / f"{name}.png"
    await page.screenshot(path=target)
    return target


@dataclass(frozen=True)
class DeliveredWebhook:
    endpoint_page: str
    delivery_page: str
    event: Json

    @property
    def event_heading(self) -> str:
        return f"{self.event['type']} #{self.event['seq']}"


async def _delivered_webhook(hub: Hub, url: str) -> DeliveredWebhook:
    """An endpoint for new contacts, and a contact's event delivered to it."""
    body = {"url": url, "eventTypes": ["ContactCreate"], "description": "Billing sync"}
    endpoint = (await hub.post("/webhooks", body))["endpoint"]
    contact = await hub.crm_contact(firstName="Tess", email="tess@example.org")
    deliveries = f"/webhooks/{endpoint['id']}/deliveries"
    [delivery] = await poll(
        lambda: _deliveries(hub, deliveries),
        lambda rows: [row["state"] for row in rows] == ["succeeded"],
        within=WAIT_MS / 1000,
    )
    [event] = [e for e in (await hub.get("/events"))["events"] if e["subjectId"] == contact["id"]]
    page = f"/app/l/{hub.tenant.location_id}/webhooks/{endpoint['id']}"
    return DeliveredWebhook(page, f"{page}/deliveries/{delivery['id']}", event)


async def _failing_webhook(hub: Hub, url: str) -> str:
    """An endpoint whose receiver is not there, and the id of the issue its deliveries open."""
    await hub.post("/webhooks", {"url": url, "eventTypes": ["ContactCreate"]})
    await hub.crm_contact(firstName="Uma", email="uma@example.org")
    [issue] = await poll(lambda: _issues(hub, url), bool, within=WAIT_MS / 1000)
    issue_id: str = issue["id"]
    return issue_id


async def _issues(hub: Hub, subject: str) -> list[Json]:
    """The issues about `subject` (the demo's other endpoints may fail too)."""
    rows: list[Json] = (await hub.get("/issues"))["issues"]
    return [row for row in rows if row["subject"] == subject]


async def _deliveries(hub: Hub, path: str) -> list[Json]:
    rows: list[Json] = (await hub.get(path))["deliveries"]
    return rows


async def _sent_campaign(base_url: str, mail: Mail) -> Json:
    """A campaign sent to a list of five, each of whom opened it."""
    people = await audience(mail, 5)
    body = {
        "name": "Spring sale",
        "senderId": people.sender["id"],
        "templateId": people.template["id"],
        "listId": people.group["id"],
    }
    campaign = (await mail.post("/campaigns", body))["campaign"]
    await mail.post(f"/campaigns/{campaign['id']}/send", status=200)
    messages = await caught_messages(mail, 6)  # the outbox's email, then the campaign's
    recipients = [item for item in messages if item["message"]["subject"].startswith("Spring")]
    opened: Json = await open_all(base_url, mail, campaign["id"], recipients)
    return opened


async def _tasks(mail: Mail) -> None:
    """Open tasks, one of them overdue, and a done one."""
    now = datetime.now(UTC)
    for title, due in (("Call Tess back", -1), ("Send the quote", 1), ("Book the demo", 3)):
        body = {"title": title, "dueAt": (now + timedelta(days=due)).isoformat()}
        await mail.post("/tasks", body)
    done = (await mail.post("/tasks", {"title": "Welcome Ada"}))["task"]
    await mail.call("PUT", f"/tasks/{done['id']}", 200, json={"status": "done"})


async def photograph(base_url: str, database_url: str) -> list[Path]:
    db = Database(database_url)
    try:
        # A sandbox location, so that its outbox has a caught email.
        caught = await caught_email(base_url, db, "Welcome aboard, Tess")
        tenant = caught.tenant
        person = await make_person(db, tenant.location_id)
        async with db.unit_of_work() as uow:
            key, _ = await create_key(
                uow, tenant.location_id, ["contacts.readonly", "contacts.write"], "CRM sync"
            )
            key_id = key.id
            location = await uow.session.get(Location, tenant.location_id)
            assert location is not None
            _, invitation = await invitations.invite(
                uow,
                location,
                email="sam.lee@example.org",
                first_name="Sam",
                last_name="Lee",
                role="user",
                actor="cli",
            )
    finally:
        await db.dispose()
    async with api_client(base_url, tenant.headers, timeout=30) as http:
        hub = Hub(http, tenant)
        flow = await hub.flow(MANUAL, name="Call new contacts")
        run = (await hub.post(f"/flows/{flow['id']}/run", {"name": "Ada"}))["run"]
        await hub.finished_runs(flow["id"])
        await hub.post(
            "/connections",
            {"name": "Billing API", "kind": "http", "auth": "none", "baseUrl": base_url},
        )
        job = (await hub.post("/flows/runs/bulk-retry", {"flowId": flow["id"]}))["bulkRetry"]
        with running_receiver() as receiver:
            hook = await _delivered_webhook(hub, receiver.url())
        campaign = await _sent_campaign(base_url, Mail(http, tenant))
        await _tasks(Mail(http, tenant))
        issue_id = await _failing_webhook(hub, FAILING_RECEIVER)
    here = f"/app/l/{tenant.location_id}"
    DOCS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(base_url=base_url, viewport=VIEWPORT)
            shots = [await _shot(page, "/app/login", "Sign in to contactflow", "login")]
            await page.get_by_label("Email").fill(person.email)
            await page.get_by_label("Password").fill(person.password)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("heading", name="Overview")).to_be_visible(
                timeout=WAIT_MS
            )
            for path, heading, name in (
                (f"{here}/overview?window=24h", "Overview", "overview"),
                (f"{here}/flows", "Flows", "flows"),
                (f"{here}/flows/{flow['id']}/builder", "Call new contacts", "builder"),
                (f"{here}/templates", "Flow templates", "templates"),
                (f"{here}/runs", "Runs", "runs"),
                (f"{here}/runs/{run['id']}", "Run of “Call new contacts”", "run"),
                (f"{here}/flows/{flow['id']}", "Call new contacts", "flow"),
                (f"{here}/bulk-retries/{job['id']}", "Bulk retry of failed runs", "bulk-retry"),
                (f"{here}/outbox", "Sandbox outbox", "outbox"),
                (f"{here}/outbox/{caught.message['id']}", "Welcome aboard, Tess", "outbox-email"),
                (f"{here}/emails", "Emails", "emails"),
                (f"{here}/emails/{caught.message['emailId']}", "Welcome aboard, Tess", "email"),
                (f"{here}/campaigns", "Campaigns", "campaigns"),
                (f"{here}/campaigns/new", "New campaign", "campaign-new"),
                (f"{here}/campaigns/{campaign['id']}", "Spring sale", "campaign"),
                (f"{here}/mail-templates", "Email templates", "mail-templates"),
                (
                    f"{here}/mail-templates/{campaign['templateId']}",
                    "Spring",
                    "mail-template",
                ),
                (f"{here}/tasks", "Tasks", "tasks"),
                (f"{here}/senders", "Senders", "senders"),
                (f"{here}/lists", "Lists", "lists"),
                (f"{here}/suppressions", "Unsubscribes and bounces", "suppressions"),
                (f"{here}/connections", "Connections", "connections"),
                (f"{here}/webhooks", "Webhooks", "webhooks"),
                (f"{here}/webhooks/new", "Add an endpoint", "webhook-new"),
                (hook.endpoint_page, "Webhook endpoint", "webhook"),
                (hook.delivery_page, "Delivery of ContactCreate", "webhook-delivery"),
                (f"{here}/contacts", "Contacts sandbox", "contacts"),
                (f"{here}/contacts/{hook.event['subjectId']}", "Tess sandbox", "contact"),
                (f"{here}/events", "Events", "events"),
                (f"{here}/events/{hook.event['id']}", hook.event_heading, "event"),
                (f"{here}/keys", "API keys", "keys"),
                (f"{here}/keys/new", "Create a key", "key-new"),
                (f"{here}/keys/{key_id}", "API key", "key"),
                (f"{here}/apps", "OAuth apps", "oauth-apps"),
                (f"{here}/apps/new", "Register an app", "oauth-app-new"),
                (f"{here}/audit", "Audit log", "audit"),
                (f"{here}/users", "Users", "users"),
                (f"/app/invite/{invitation}", "Set your password", "invitation"),
                (f"{here}/issues", "Issues", "issues"),
                (f"{here}/issues/{issue_id}", FAILING_RECEIVER, "issue"),
                ("/app/account", "Where you are signed in", "account"),
            ):
                shots.append(await _shot(page, path, heading, name))
        finally:
            await browser.close()
    return shots


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        migrated_database("sqlite", Path(directory)) as url,
        live_server(server_settings(url)) as server,
    ):
        for shot in asyncio.run(photograph(server.base_url, url)):
            print(f"{shot.relative_to(DOCS.parents[1])}: {shot.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
