"""In a real browser: the overview a person lands on follows a flow run that fails without a
reload, and its failed-runs number leads to the run behind it. Every page is checked as in
test_browser.py."""

import re

import pytest
from playwright.async_api import Browser, expect

from contactflow.platform.db import Database
from tests.flows.helpers import Hub
from tests.support import LiveServer, Tenant
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import make_person
from tests.web.test_overview import PARSING


async def test_follow_a_failed_run_from_the_live_overview(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    web_tenant: Tenant,
    web_hub: Hub,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    person = await make_person(web_db, web_tenant.location_id)
    flow = await web_hub.flow(PARSING, name="Parse the order")
    async with watched_page(chromium, web_server) as (page, watched):
        await sign_in(page, person)
        failed = page.locator('tr[data-kind="FlowRunFailed"] a[data-window="1h"]')
        await expect(failed).to_have_text(re.compile(r"^0 "))
        await checked(page, watched, shots, "overview-empty")

        await page.evaluate("window.notReloaded = true")
        run = (await web_hub.post(f"/flows/{flow['id']}/run", {"text": "{not json"}))["run"]
        await expect(failed).to_have_text(re.compile(r"^1 "), timeout=WAIT_MS)
        events = page.locator('tr[data-kind="events"] a[data-window="1h"]')
        await expect(events).not_to_have_text(re.compile(r"^0 "))
        assert await page.evaluate("window.notReloaded === true")
        await checked(page, watched, shots, "overview")

        await failed.click()
        rows = page.locator("#runs tr[data-run-id]")
        await expect(rows).to_have_count(1, timeout=WAIT_MS)
        await expect(rows.first).to_have_attribute("data-run-id", run["id"])
        await expect(rows.first).to_have_attribute("data-state", "failed")
        await expect(page.get_by_label("Status")).to_have_value("failed")
        await checked(page, watched, shots, "overview-failed-runs")
