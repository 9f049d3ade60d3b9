"""The flow builder in a real browser (Debian's chromium through Playwright): the welcome flow
built from a blank flow (trigger, a condition, an email with the contact's first name mapped
in, a task due two days after the contact was added), tested on a past event, published and
enabled; then a contact created through the official HighLevel SDK runs it, the run arrives
on the runs page without a reload, and the email is in the sandbox outbox. Every state of the
page is checked for console errors, failed requests and serious axe-core findings."""

from collections.abc import AsyncIterator

import pytest
from highlevel import HighLevel
from playwright.async_api import Browser, Page, expect

from contactflow.platform.db import Database
from tests.flows.helpers import Hub, Json
from tests.mailsuite.helpers import poll
from tests.support import LiveServer, Tenant, api_client, make_tenant
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import make_person


@pytest.fixture
async def sandbox_hub(web_server: LiveServer, web_db: Database) -> AsyncIterator[Hub]:
    """A sandbox location's API calls: its mail stays in the sandbox outbox."""
    tenant = await make_tenant(web_db, sandbox=True)
    async with api_client(web_server.base_url, tenant.headers, timeout=30) as http:
        yield Hub(http, tenant)


@pytest.fixture
async def sdk(
    web_server: LiveServer, sandbox_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[HighLevel]:
    monkeypatch.setattr(HighLevel, "BASE_URL", web_server.base_url)
    client = HighLevel(private_integration_token=sandbox_hub.tenant.key, log_level="none")
    yield client
    await client.close()


async def _map(page: Page, target: str, source: str, formatter: str = "", n: str = "") -> None:
    """Map a field into an input with the field picker (and a formatter)."""
    field = page.locator(".field", has=page.locator(f"#{target}"))
    await field.locator("summary").click()
    await page.locator(f"#{target}-source").select_option(source)
    if formatter:
        await page.locator(f"#{target}-format").select_option(formatter)
    if n:
        await page.locator(f"#{target}-number").fill(n)
    await field.locator('[data-map="insert"]').click()


async def _pick(page: Page, picker: str, words: str, key: str) -> None:
    """Search a catalog picker by words and choose `key` once the list is narrowed to them
    (chosen earlier, the choice would go with the list the narrowed one replaces)."""
    await page.locator(f"#{picker}-q").fill(words)
    narrowed = page.locator(f'#{picker}[data-words="{words}"]')
    await expect(narrowed.locator(f'option[value="{key}"]')).to_have_count(1, timeout=WAIT_MS)
    await narrowed.select_option(key)


async def _add_action(page: Page, key: str, words: str, first_input: str) -> None:
    await _pick(page, "pick-steps", words, key)
    await page.get_by_role("button", name="Add this action").click()
    await expect(page.locator(f"#{first_input}")).to_be_visible(timeout=WAIT_MS)


async def _build(page: Page, sender_id: str) -> None:
    await page.get_by_label("Flow name").fill("Welcome, built by hand")
    await _pick(page, "pick-trigger", "contact created", "contacts.contact.created")
    await page.get_by_role("button", name="Use this trigger").click()
    await expect(page.locator(".chosen")).to_contain_text("Contact created", timeout=WAIT_MS)

    await page.get_by_role("button", name="Add condition").click()
    field = page.locator("#f-conditions-conditions-0-field")
    await expect(field).to_be_visible(timeout=WAIT_MS)
    await field.select_option("trigger.email")
    await page.locator("#f-conditions-conditions-0-operator").select_option("exists")

    await _add_action(page, "mailsuite.email.send", "send email", "f-steps-0-input-senderId")
    await page.locator("#f-steps-0-input-senderId").select_option(sender_id)
    await _map(page, "f-steps-0-input-to", "trigger.email")
    await page.locator("#f-steps-0-input-subject").fill("Welcome,")
    await _map(page, "f-steps-0-input-subject", "trigger.firstName")
    await page.locator("#f-steps-0-input-html").fill("Hello")
    await _map(page, "f-steps-0-input-html", "trigger.firstName", "trim")

    await _add_action(page, "contacts.task.create", "create task", "f-steps-1-input-title")
    await _map(page, "f-steps-1-input-contactId", "trigger.id")
    await page.locator("#f-steps-1-input-title").fill("Call")
    await _map(page, "f-steps-1-input-title", "trigger.name")
    await _map(page, "f-steps-1-input-dueDate", "trigger.dateAdded", "add(days={n})", "2")
    await page.locator("#f-steps-1-input-completed").select_option("false")


async def test_build_the_welcome_flow_from_a_blank_flow_and_watch_it_run(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    sandbox_hub: Hub,
    sdk: HighLevel,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    tenant: Tenant = sandbox_hub.tenant
    sender = (
        await sandbox_hub.post(
            "/mailsuite/v1/senders", {"name": "Team", "fromEmail": "team@acme.example.org"}
        )
    )["sender"]
    # A past contact-created event to test on.
    await sandbox_hub.crm_contact(firstName="Past", email="past@example.org")
    person = await make_person(web_db, tenant.location_id)
    async with watched_page(chromium, web_server) as (page, watched):
        await sign_in(page, person)
        await page.get_by_role("link", name="Flows", exact=True).click()
        await page.get_by_role("link", name="New flow").first.click()
        await expect(page.get_by_role("heading", name="New flow")).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "builder-blank")

        await _build(page, sender["id"])
        await checked(page, watched, shots, "builder")
        await page.locator("#f-sample-event").select_option(index=1)
        await page.get_by_role("button", name="Save and test").click()
        await expect(page.locator('[data-test-state="succeeded"]')).to_be_visible(timeout=WAIT_MS)
        for step in ("email_send", "task_create"):
            await expect(page.locator(f'[data-test-step="{step}"]')).to_be_visible()
        await expect(page.locator('[data-test-step="email_send"]')).to_contain_text("Welcome, Past")
        await checked(page, watched, shots, "builder-tested")
        await page.set_viewport_size({"width": 390, "height": 844})
        await checked(page, watched, shots, "builder-phone")
        await page.set_viewport_size({"width": 1280, "height": 720})

        await page.get_by_role("button", name="Save and publish").click()
        await expect(page.get_by_role("status")).to_contain_text("Published", timeout=WAIT_MS)
        await page.get_by_role("button", name="Enable").click()
        await expect(page.get_by_role("status")).to_contain_text("Enabled", timeout=WAIT_MS)
        await checked(page, watched, shots, "builder-enabled")

        await page.get_by_role("link", name="Runs", exact=True).click()
        await expect(page.get_by_role("heading", name="Runs")).to_be_visible(timeout=WAIT_MS)
        await page.evaluate("window.notReloaded = true")
        body: Json = {"locationId": tenant.location_id, "firstName": "Grace", "email": "g@x.org"}
        await sdk.contacts.create_contact(body)
        # The builder's test run is listed too, marked "(test)", from the page's first draw.
        arrived = page.locator('#runs tr[data-state="succeeded"]').filter(has_not_text="(test)")
        await expect(arrived).to_have_count(1, timeout=WAIT_MS)
        assert await page.evaluate("window.notReloaded === true")
        await arrived.get_by_role("link").click()
        for step in ("email_send", "task_create"):
            await expect(page.locator(f'li[data-step-id="{step}"]')).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "builder-run")

    async def outbox() -> list[Json]:
        messages: list[Json] = (await sandbox_hub.get("/mailsuite/v1/sandbox/messages"))["messages"]
        return messages

    messages = await poll(outbox, lambda found: len(found) >= 1, within=30)
    assert [message["subject"] for message in messages] == ["Welcome, Grace"]
