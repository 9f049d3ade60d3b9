"""The dashboard in a real browser (Debian's chromium through Playwright): sign in, install a
template from the gallery, watch a run arrive on the runs page without a reload when a
contact is created through the API, and open it. Every page visited is checked for console
errors, failed requests and serious or critical axe-core findings, and photographed into the
test run's temporary folder (screenshots/)."""

import pytest
from playwright.async_api import (
    Browser,
    expect,
)

from contactflow.platform.db import Database
from tests.flows.helpers import Hub
from tests.support import LiveServer, Tenant
from tests.web.browsing import WAIT_MS, Watched, checked, shots_dir
from tests.web.helpers import make_person


async def test_sign_in_install_and_watch_a_run_arrive(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    web_tenant: Tenant,
    web_hub: Hub,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    await web_hub.mail_sender("127.0.0.1", 2525)
    person = await make_person(web_db, web_tenant.location_id)
    context = await chromium.new_context(base_url=web_server.base_url)
    try:
        page = await context.new_page()
        watched = Watched(page)
        await page.goto("/app/login")
        await checked(page, watched, shots, "login")
        await page.get_by_label("Email").fill(person.email)
        await page.get_by_label("Password").fill(person.password)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="No flows yet")).to_be_visible(
            timeout=WAIT_MS
        )
        await checked(page, watched, shots, "flows-empty")

        await page.get_by_role("link", name="Templates").click()
        welcome = page.locator("#template-welcome")
        await expect(welcome).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "templates")
        await welcome.get_by_role("button", name="Install").click()
        await expect(page.get_by_role("status")).to_contain_text("Installed the template")
        await expect(
            page.get_by_role("link", name="Welcome new contacts", exact=True)
        ).to_be_visible()
        await checked(page, watched, shots, "flows")

        await page.get_by_role("link", name="Runs", exact=True).click()
        await expect(page.get_by_text("No runs yet")).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "runs-empty")
        # A mark on this document: it is still there if the page was never reloaded.
        await page.evaluate("window.notReloaded = true")
        await web_hub.crm_contact(firstName="Ada", email="ada@example.org")
        arrived = page.locator('#runs tr[data-state="succeeded"]')
        await expect(arrived).to_have_count(1, timeout=WAIT_MS)
        assert await page.evaluate("window.notReloaded === true")
        await checked(page, watched, shots, "runs")
        await page.set_viewport_size({"width": 390, "height": 844})
        await checked(page, watched, shots, "runs-phone")
        await page.set_viewport_size({"width": 1280, "height": 720})

        await arrived.get_by_role("link").click()
        for step in ("contact", "welcome", "task"):
            await expect(page.locator(f'li[data-step-id="{step}"]')).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "run")

        await page.get_by_role("link", name="Connections").click()
        await expect(page.get_by_role("heading", name="Connections")).to_be_visible()
        await expect(page.locator("tr[data-connection-id]")).to_have_count(2)
        await checked(page, watched, shots, "connections")

        await page.get_by_role("link", name=person.email).click()
        await expect(page.get_by_role("heading", name="Where you are signed in")).to_be_visible()
        await checked(page, watched, shots, "account")
    finally:
        await context.close()
