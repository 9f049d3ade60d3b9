"""In a real browser: add a webhook endpoint with a picked event type, see its secret once,
rotate it, resend a failed delivery and follow it to its new attempt, send again what failed
since a time and watch the list catch up, then watch a new event arrive on the events page
without a reload and open its payload. Every page is checked as in test_browser.py."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, expect
from standardwebhooks.webhooks import Webhook

from contactflow.platform.db import Database
from tests.flows.helpers import Hub
from tests.receiver import running_receiver
from tests.support import LiveServer, Tenant
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import make_person
from tests.web.test_webhooks import settled
from tests.webhooks.helpers import arrivals_at, create_contacts


def endpoint_page(location_id: str) -> re.Pattern[str]:
    return re.compile(rf"/app/l/{location_id}/webhooks/[A-Za-z0-9_-]+$")


async def test_rotate_resend_recover_and_watch_the_events(
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
        async with watched_page(chromium, web_server) as (page, watched):
            await sign_in(page, person)
            await page.get_by_role("link", name="Webhooks", exact=True).click()
            await expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible(
                timeout=WAIT_MS
            )
            await checked(page, watched, shots, "webhooks-empty")
            await page.get_by_role("link", name="Add an endpoint").click()
            await page.get_by_label("URL", exact=True).fill(receiver.url("/browser"))
            await page.get_by_label("ContactCreate", exact=True).check()
            await checked(page, watched, shots, "webhook-new")
            await page.get_by_role("button", name="Add the endpoint").click()
            secret = page.locator("#signing-secret")
            await expect(secret).to_be_visible(timeout=WAIT_MS)
            first_secret = await secret.inner_text()
            await expect(page).to_have_url(endpoint_page(web_tenant.location_id))
            await checked(page, watched, shots, "webhook-secret")
            await page.reload()
            await expect(page.get_by_role("heading", name="Webhook endpoint")).to_be_visible(
                timeout=WAIT_MS
            )
            await expect(secret).to_have_count(0)
            endpoint_id = page.url.rsplit("/", 1)[1]

            # Two deliveries fail every attempt (retries are compressed to milliseconds).
            receiver.fail_next(*[500] * 10)
            await create_contacts(web_db, web_tenant.location_id, ["Ada", "Bob"])
            await settled(web_hub, endpoint_id, 2, "failed")
            await page.reload()
            failed = page.locator('#deliveries tr[data-state="failed"]')
            await expect(failed).to_have_count(2, timeout=WAIT_MS)

            await page.get_by_role("button", name="Rotate the secret").click()
            await expect(page.get_by_text("The previous secret keeps signing")).to_be_visible(
                timeout=WAIT_MS
            )
            new_secret = await secret.inner_text()
            assert new_secret.startswith("whsec_")
            assert new_secret != first_secret
            await checked(page, watched, shots, "webhook-rotated")

            await failed.first.get_by_role("link").click()
            delivery = page.locator("#delivery")
            await expect(delivery).to_have_attribute("data-attempts", "5", timeout=WAIT_MS)
            await page.get_by_role("button", name="Resend").click()
            await expect(page.get_by_role("status")).to_contain_text("Queued to be sent again")
            # The page follows the delivery until its new attempt is in.
            await expect(delivery).to_have_attribute("data-state", "succeeded", timeout=WAIT_MS)
            await expect(delivery).to_have_attribute("data-attempts", "6")
            resent = arrivals_at(receiver.arrivals, "/browser")[-1]
            assert Webhook(new_secret).verify(resent.body, resent.headers)["firstName"]
            await checked(page, watched, shots, "webhook-delivery")

            await page.get_by_role("link", name="The endpoint").click()
            since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
            await page.get_by_label("Send again what failed since (UTC)").fill(since)
            await page.get_by_role("button", name="Send again").click()
            await expect(page.get_by_role("status")).to_contain_text(
                "Queued 1 failed delivery to be sent again.", timeout=WAIT_MS
            )
            succeeded = page.locator('#deliveries tr[data-state="succeeded"]')
            await expect(succeeded).to_have_count(2, timeout=WAIT_MS)
            await checked(page, watched, shots, "webhook-recovered")

            await page.get_by_role("link", name="Events", exact=True).click()
            created = page.locator('#events tr[data-type="ContactCreate"]')
            await expect(created).to_have_count(2, timeout=WAIT_MS)
            await page.evaluate("window.notReloaded = true")
            cy = await web_hub.crm_contact(firstName="Cy")
            await expect(created).to_have_count(3, timeout=WAIT_MS)
            await expect(created.first).to_contain_text(cy["id"])
            assert await page.evaluate("window.notReloaded === true")
            await checked(page, watched, shots, "events")
            await created.first.get_by_role("link", name="Open").click()
            await expect(page.locator("pre.payload")).to_contain_text('"firstName": "Cy"')
            await checked(page, watched, shots, "event")
