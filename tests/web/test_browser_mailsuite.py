"""In a real browser, the Mailsuite pages: the emails list filtered to the failed one, its
page with the SMTP server's refusal and its HTML framed, Resend followed to the sent email;
a campaign made from a list and a template, sent to 50 sandbox contacts in three batches,
its progress bar followed to the end and its report to the opens the test fetches; a
template written with its live preview; a task completed from the board, another completed
elsewhere arriving without a reload. Every page is checked as in test_browser.py."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, expect

from contactflow.platform.db import Database
from tests.flows.helpers import Hub
from tests.mailsuite.smtpd import running_mailbox
from tests.support import LiveServer, Tenant
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import make_person
from tests.web.mailsuite_helpers import audience, caught_messages, mail_location, open_all
from tests.web.test_emails import REFUSAL, finished, send

# Three of the dashboard server's sending batches (tests/web/conftest.py): the bar and the
# report add up what several batches sent.
AUDIENCE = 50
DAY = timedelta(days=1)


async def test_a_failed_email_is_found_and_resent(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    web_tenant: Tenant,
    web_hub: Hub,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    person = await make_person(web_db, web_tenant.location_id)
    with running_mailbox() as smtp:
        smtp.refuse("lin@example.com", REFUSAL)
        sender = await web_hub.mail_sender(smtp.host, smtp.port)
        email = await send(web_hub, sender["id"], "lin@example.com")
        await finished(web_hub, email["id"], "failed")
        smtp.accept("lin@example.com")
        async with watched_page(chromium, web_server) as (page, watched):
            await sign_in(page, person)
            await page.get_by_role("link", name="Emails", exact=True).click()
            await expect(page.get_by_role("heading", name="Emails")).to_be_visible(timeout=WAIT_MS)
            await page.get_by_label("Status").select_option("failed")
            await page.get_by_role("button", name="Filter").click()
            row = page.locator(f'tr[data-email-id="{email["id"]}"]')
            await expect(row).to_have_attribute("data-status", "failed", timeout=WAIT_MS)
            await checked(page, watched, shots, "emails")
            await row.get_by_role("link", name="Open").click()
            await expect(page.get_by_text(REFUSAL)).to_be_visible(timeout=WAIT_MS)
            frame = page.frame_locator("iframe.email-html")
            await expect(frame.get_by_text("Hello", exact=True)).to_be_visible(timeout=WAIT_MS)
            await checked(page, watched, shots, "email-failed")
            await page.get_by_role("button", name="Resend").click()
            await expect(page.get_by_role("status")).to_have_text(
                "Queued to be sent again now.", timeout=WAIT_MS
            )
            # The page follows the log: the send arrives without a reload.
            tracking = page.locator("#email-tracking")
            await expect(tracking).to_have_attribute("data-status", "sent", timeout=WAIT_MS)
            await checked(page, watched, shots, "email")
        assert len(smtp.to("lin@example.com")) == 1


async def test_a_campaign_sent_in_batches_is_followed_to_its_opens(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    async with mail_location(web_server, web_db) as (mail, person):
        people = await audience(mail, AUDIENCE)
        async with watched_page(chromium, web_server) as (page, watched):
            await sign_in(page, person)
            await page.get_by_role("link", name="Campaigns", exact=True).click()
            await expect(page.get_by_role("heading", name="No campaigns yet")).to_be_visible(
                timeout=WAIT_MS
            )
            await checked(page, watched, shots, "campaigns-empty")
            await page.get_by_role("link", name="New campaign").click()
            await page.get_by_label("Name").fill("Spring sale")
            await page.get_by_label("List").select_option(people.group["id"])
            await checked(page, watched, shots, "campaign-new")
            await page.get_by_role("button", name="Save as a draft").click()
            await expect(page.get_by_role("status")).to_contain_text(
                "saved as a draft", timeout=WAIT_MS
            )
            await checked(page, watched, shots, "campaign-draft")
            await page.get_by_role("button", name="Send", exact=True).click()
            report = page.locator("#campaign-report")
            # The report follows the log: the bar moves to its end without a reload.
            await expect(page.locator("#campaign-bar")).to_have_attribute(
                "value", "100", timeout=WAIT_MS
            )
            await expect(report).to_have_attribute("data-sent", str(AUDIENCE), timeout=WAIT_MS)
            await expect(report).to_contain_text("Done: every email has gone out.")
            campaign_id = page.url.split("/")[-1].split("?")[0]
            messages = await caught_messages(mail, AUDIENCE)
            await open_all(web_server.base_url, mail, campaign_id, messages)
            await expect(report).to_have_attribute("data-opened", str(AUDIENCE), timeout=WAIT_MS)
            await checked(page, watched, shots, "campaign")
            sections = page.get_by_role("navigation", name="Sections")
            await sections.get_by_role("link", name="Campaigns").click()
            row = page.locator(f'tr[data-campaign-id="{campaign_id}"]')
            await expect(row).to_contain_text(str(AUDIENCE), timeout=WAIT_MS)
            await checked(page, watched, shots, "campaigns")


async def test_a_template_is_written_with_its_live_preview(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    async with mail_location(web_server, web_db) as (mail, person):
        await mail.contact("tess@example.com", firstName="Tess")
    async with watched_page(chromium, web_server) as (page, watched):
        await sign_in(page, person)
        sections = page.get_by_role("navigation", name="Sections")
        await sections.get_by_role("link", name="Email templates").click()
        await expect(page.get_by_role("heading", name="No email templates yet")).to_be_visible(
            timeout=WAIT_MS
        )
        await checked(page, watched, shots, "mail-templates-empty")
        await page.get_by_role("link", name="New template").click()
        await page.get_by_label("Name", exact=True).fill("Welcome")
        await page.get_by_label("Subject", exact=True).fill("Hi {{first_name|there}}")
        await page.get_by_label("HTML", exact=True).fill(
            "<p>Hello {{ first_name }}, {{ mood }}</p>"
        )
        preview = page.locator("#template-preview")
        await expect(preview).to_have_attribute("data-unknown", "mood", timeout=WAIT_MS)
        await expect(preview.get_by_role("alert")).to_contain_text("{{ mood }}")
        await checked(page, watched, shots, "mail-template-flagged")
        await page.get_by_label("HTML", exact=True).fill("<p>Hello {{ first_name }}</p>")
        await expect(preview).to_contain_text("Hi Tess", timeout=WAIT_MS)
        frame = page.frame_locator("#template-preview iframe")
        await expect(frame.get_by_text("Hello Tess")).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "mail-template-preview")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("status")).to_have_text("Saved.", timeout=WAIT_MS)
        await expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
        await checked(page, watched, shots, "mail-template")


async def test_a_task_is_completed_from_the_board(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    now = datetime.now(UTC)
    async with mail_location(web_server, web_db, sandbox=False) as (mail, person):
        late = (
            await mail.post("/tasks", {"title": "Call Tess", "dueAt": (now - DAY).isoformat()})
        )["task"]
        soon = (
            await mail.post("/tasks", {"title": "Send the quote", "dueAt": (now + DAY).isoformat()})
        )["task"]
        async with watched_page(chromium, web_server) as (page, watched):
            await sign_in(page, person)
            sections = page.get_by_role("navigation", name="Sections")
            await sections.get_by_role("link", name="Tasks").click()
            overdue = page.locator(f'li[data-task-id="{late["id"]}"]')
            await expect(overdue).to_have_attribute("data-overdue", "yes", timeout=WAIT_MS)
            await expect(overdue).to_contain_text("Overdue")
            await checked(page, watched, shots, "tasks")
            await overdue.get_by_role("button", name="Complete").click()
            done = page.locator("section", has=page.locator("#done-heading"))
            await expect(done.locator(f'li[data-task-id="{late["id"]}"]')).to_be_visible(
                timeout=WAIT_MS
            )
            # Completed elsewhere: the board follows the log without a reload.
            await mail.call("PUT", f"/tasks/{soon['id']}", 200, json={"status": "done"})
            await expect(done.locator(f'li[data-task-id="{soon["id"]}"]')).to_be_visible(
                timeout=WAIT_MS
            )
            await checked(page, watched, shots, "tasks-done")


async def test_senders_lists_and_unsubscribes(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    async with mail_location(web_server, web_db) as (mail, person):
        people = await audience(mail, 3)
        await mail.contact("gone@example.com", subscriptionStatus="unsubscribed")
    async with watched_page(chromium, web_server) as (page, watched):
        await sign_in(page, person)
        sections = page.get_by_role("navigation", name="Sections")
        await sections.get_by_role("link", name="Senders").click()
        await page.get_by_role("button", name="Check the settings").click()
        await expect(page.get_by_role("status")).to_contain_text("sandbox", timeout=WAIT_MS)
        await checked(page, watched, shots, "senders")
        await page.get_by_label("Send a test to").fill("ops@example.com")
        await page.get_by_role("button", name="Send a test").click()
        tracking = page.locator("#email-tracking")
        await expect(tracking).to_have_attribute("data-status", "sent", timeout=WAIT_MS)
        await sections.get_by_role("link", name="Lists").click()
        await page.get_by_role("link", name=people.group["name"]).click()
        await expect(page.get_by_text("3 members")).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "list")
        await sections.get_by_role("link", name="Unsubscribes").click()
        await expect(page.get_by_role("cell", name="gone@example.com")).to_be_visible(
            timeout=WAIT_MS
        )
        await checked(page, watched, shots, "unsubscribes")
        await page.get_by_role("link", name="Bounced").click()
        await expect(page.get_by_text("No address has bounced hard")).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "bounces")
