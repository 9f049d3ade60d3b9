"""The dashboard in a real browser (Debian's chromium through Playwright): sign in, install a
template from the gallery, watch a run arrive on the runs page without a reload when a
contact is created through the API, and open it; install `task-sync` and watch, still
without a reload, a task's change go from the Contacts API to Mailsuite and back. Every page
visited is checked for console errors, failed requests and serious or critical axe-core
findings, and photographed into the test run's temporary folder (screenshots/)."""

import pytest
from playwright.async_api import Browser, Page, expect

from contactflow.platform.db import Database
from tests.flows.helpers import Hub, Json
from tests.support import LiveServer, Tenant
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import make_person


async def _synced_run(page: Page, flow: str) -> None:
    """Wait for the flow's run to arrive, succeeded, on the runs list."""
    row = page.locator('#runs tr[data-state="succeeded"]', has_text=f"Task sync: {flow}")
    await expect(row).to_have_count(1, timeout=WAIT_MS)


async def _sync_a_task_both_ways(page: Page, hub: Hub, contact_id: str) -> None:
    """Install `task-sync` from the gallery, then on the runs list, never reloaded, watch a
    task of the welcomed contact go to Mailsuite, a change of it follow, and its completion
    in Mailsuite come back."""
    await page.get_by_role("link", name="Templates", exact=True).click()
    await page.locator("#template-task-sync").get_by_role("button", name="Install").click()
    await expect(page.get_by_role("status")).to_contain_text("Installed the template")
    await page.get_by_role("link", name="Runs", exact=True).click()
    await expect(page.get_by_role("heading", name="Runs")).to_be_visible(timeout=WAIT_MS)
    await page.evaluate("window.notReloaded = true")
    task_path = f"/contacts/{contact_id}/tasks"
    body = {"title": "Send quote", "dueDate": "2026-12-10T15:00:00.000Z", "completed": False}
    task = (await hub.post(task_path, body))["task"]
    await _synced_run(page, "added in the Contacts API")

    async def copy() -> Json:
        (found,) = [each for each in await hub.mail_tasks() if each["sourceId"] == task["id"]]
        return found

    async def task_now() -> Json:
        now: Json = (await hub.get(f"{task_path}/{task['id']}"))["task"]
        return now

    await hub.call("PUT", f"{task_path}/{task['id']}", 200, json={"title": "Send the quote"})
    await _synced_run(page, "changed in the Contacts API")
    assert (await copy())["title"] == "Send the quote"

    await hub.call(
        "PUT", f"/mailsuite/v1/tasks/{(await copy())['id']}", 200, json={"status": "done"}
    )
    await _synced_run(page, "changed in Mailsuite")
    assert (await task_now())["completed"] is True
    assert await page.evaluate("window.notReloaded === true")


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
    async with watched_page(chromium, web_server) as (page, watched):
        await page.goto("/app/login")
        await checked(page, watched, shots, "login")
        await sign_in(page, person)
        await page.get_by_role("link", name="Flows", exact=True).click()
        await expect(page.get_by_role("heading", name="No flows yet")).to_be_visible()
        await checked(page, watched, shots, "flows-empty")

        await page.get_by_role("link", name="Templates", exact=True).click()
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
        ada = await web_hub.crm_contact(firstName="Ada", email="ada@example.org")
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
        await _sync_a_task_both_ways(page, web_hub, ada["id"])
        await checked(page, watched, shots, "runs-task-sync")

        await page.get_by_role("link", name="Connections").click()
        await expect(page.get_by_role("heading", name="Connections")).to_be_visible()
        await expect(page.locator("tr[data-connection-id]")).to_have_count(2)
        await checked(page, watched, shots, "connections")

        await page.get_by_role("link", name=person.email).click()
        await expect(page.get_by_role("heading", name="Where you are signed in")).to_be_visible()
        await checked(page, watched, shots, "account")
