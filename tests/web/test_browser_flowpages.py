"""In a real browser, in a sandbox location: a failing run retried from its failed step on
its page; a bulk retry of 50 failed runs followed to the end on its progress bar; the flow's
page; a caught email in the outbox (its HTML in the sandboxed frame, text, headers). Every
page is checked as in test_browser.py."""

import pytest
from playwright.async_api import Browser, expect

from contactflow.platform.db import Database
from contactflow.web.runs import RUNS_PER_PAGE
from tests.flows.helpers import Hub
from tests.receiver import running_receiver
from tests.support import LiveServer, api_client
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import make_person
from tests.web.outbox_helpers import caught_email
from tests.web.test_bulk_retry import calling, failed_runs

BULK = 50


async def test_retry_bulk_retry_flow_page_and_outbox(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    caught = await caught_email(web_server.base_url, web_db, "Welcome aboard, Tess")
    here = f"/app/l/{caught.tenant.location_id}"
    person = await make_person(web_db, caught.tenant.location_id)
    with running_receiver() as receiver:
        # Each run fails at its call until the receiver's 500s are used up: then calls pass.
        receiver.fail_next(*[500] * (BULK + 1))
        async with api_client(web_server.base_url, caught.tenant.headers, timeout=30) as http:
            hub = Hub(http, caught.tenant)
            flow = await hub.flow(calling(receiver.url("/n")), name="Call the CRM")
            await failed_runs(hub, flow["id"], BULK + 1)
        async with watched_page(chromium, web_server) as (page, watched):
            await sign_in(page, person)
            await page.get_by_role("link", name="Flows", exact=True).click()
            await page.get_by_role("link", name="Call the CRM", exact=True).click()
            await expect(page.locator('li[data-version="1"]')).to_be_visible(timeout=WAIT_MS)
            await checked(page, watched, shots, "flow")
            await page.get_by_role("link", name="Its runs").click()
            failed = page.locator('#runs tr[data-state="failed"]')
            # The list's first page: the newest 50 of the 51.
            await expect(failed).to_have_count(RUNS_PER_PAGE, timeout=WAIT_MS)
            await failed.first.get_by_role("link").click()
            await page.get_by_role("button", name="Retry from the failed step").click()
            await expect(page.locator('dd[data-state="succeeded"]')).to_be_visible(timeout=WAIT_MS)
            await checked(page, watched, shots, "run-retried")

            await page.goto(f"{here}/runs?flow={flow['id']}&state=failed")
            await expect(failed).to_have_count(BULK, timeout=WAIT_MS)
            await page.get_by_role("button", name="Retry every failed run").click()
            progress = page.locator("#bulk-progress")
            await expect(progress).to_be_visible(timeout=WAIT_MS)
            await checked(page, watched, shots, "bulk-retry")
            await expect(progress).to_have_attribute("data-state", "finished", timeout=WAIT_MS)
            await expect(progress).to_contain_text(f"Retried {BULK} of {BULK}")
            await checked(page, watched, shots, "bulk-retry-finished")
            await page.get_by_role("link", name="The runs it retries").click()
            succeeded = page.locator('#runs tr[data-state="succeeded"]')
            await expect(succeeded).to_have_count(RUNS_PER_PAGE, timeout=WAIT_MS)

            await page.get_by_role("link", name="Outbox").click()
            row = page.locator(f'tr[data-message-id="{caught.message["id"]}"]')
            await expect(row).to_be_visible(timeout=WAIT_MS)
            await checked(page, watched, shots, "outbox")
            await row.get_by_role("link").click()
            frame = page.frame_locator("iframe.email-html")
            await expect(frame.locator("b")).to_have_text("Tess", timeout=WAIT_MS)
            await expect(page.locator(".email-text")).to_contain_text("welcome aboard")
            await expect(page.locator(".email-headers")).to_contain_text("X-Contactflow-Email-Id")
            await checked(page, watched, shots, "outbox-email")
