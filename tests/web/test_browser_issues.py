"""In a real browser: a webhook receiver on loopback that fails makes its endpoint's issue
appear in the inbox without a reload; its page names the failed deliveries; when the
receiver recovers, the issue resolves in the inbox on its own. Every page is checked as in
test_browser.py."""

import pytest
from playwright.async_api import Browser, expect

from contactflow.platform.db import Database
from tests.flows.helpers import Hub
from tests.receiver import running_receiver
from tests.support import LiveServer, Tenant
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import make_person
from tests.web.test_webhooks import settled
from tests.webhooks.helpers import create_contacts


async def test_a_failing_receiver_opens_an_issue_that_resolves_when_it_recovers(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    web_tenant: Tenant,
    web_hub: Hub,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    person = await make_person(web_db, web_tenant.location_id)
    with running_receiver() as receiver:
        body = {"url": receiver.url("/inbox"), "eventTypes": ["ContactCreate"]}
        endpoint_id = (await web_hub.post("/webhooks", body))["endpoint"]["id"]
        async with watched_page(chromium, web_server) as (page, watched):
            await sign_in(page, person)
            await page.get_by_role("link", name="Issues", exact=True).click()
            await expect(page.get_by_text("No issues: nothing has failed.")).to_be_visible(
                timeout=WAIT_MS
            )
            await checked(page, watched, shots, "issues-empty")

            receiver.fail_next(*[500] * 10)
            await create_contacts(web_db, web_tenant.location_id, ["Ada"])
            row = page.locator("#issues tr[data-issue-id]")
            await expect(row).to_have_attribute("data-status", "open", timeout=WAIT_MS)
            await expect(row.get_by_role("link")).to_have_text(receiver.url("/inbox"))
            await settled(web_hub, endpoint_id, 1, "failed")
            await checked(page, watched, shots, "issues")

            await row.get_by_role("link").click()
            await expect(page.get_by_role("heading", name="Recent failures")).to_be_visible(
                timeout=WAIT_MS
            )
            failures = page.locator("tr[data-record-id]")
            assert await failures.count() > 1
            await checked(page, watched, shots, "issue")
            await page.get_by_role("link", name="All issues").click()

            receiver.plan.clear()
            await create_contacts(web_db, web_tenant.location_id, ["Bob"])
            await expect(row).to_have_attribute("data-status", "resolved", timeout=WAIT_MS)
            await checked(page, watched, shots, "issues-resolved")
