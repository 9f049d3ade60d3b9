"""The dashboard in a real browser (Debian's chromium through Playwright): sign in, install a
template from the gallery, watch a run arrive on the runs page without a reload when a
contact is created through the API, and open it. Every page visited is checked for console
errors, failed requests and serious or critical axe-core findings, and photographed into the
test run's temporary folder (screenshots/)."""

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    async_playwright,
    expect,
)

from contactflow.platform.db import Database
from tests.flows.helpers import Hub
from tests.support import LiveServer, Tenant
from tests.web.helpers import CHROMIUM, CHROMIUM_ARGS, make_person

CHROMIUM_PRESENT = CHROMIUM.exists()
AXE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text(encoding="utf-8")
# Generous: the machine is shared; a slow answer is not what is tested.
WAIT_MS = 30_000
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(" "))}));
}"""


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM_PRESENT:
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is missing (make test installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


class Watched:
    """What went wrong in a page: console errors, uncaught errors, failed requests."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console: {message.text}")

    def _failed(self, request: Request) -> None:
        # Leaving a page closes its live stream: the browser reports that as aborted.
        if "/live?" in request.url and request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(f"request failed: {request.url} {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status}: {response.url}")


async def _checked(page: Page, watched: Watched, shots: Path, name: str) -> None:
    """The page as it stands: no problem so far, no serious accessibility finding."""
    await page.evaluate(AXE)
    violations: list[dict[str, Any]] = await page.evaluate(AXE_RUN)
    grave = [v for v in violations if v["impact"] in ("serious", "critical")]
    await page.screenshot(path=shots / f"{name}.png", full_page=True)
    assert grave == [], (name, grave)
    assert watched.problems == [], (name, watched.problems)


async def test_sign_in_install_and_watch_a_run_arrive(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    web_tenant: Tenant,
    web_hub: Hub,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    backend = web_server.settings.database_url.split(":", 1)[0].split("+", 1)[0]
    shots = tmp_path_factory.getbasetemp() / "screenshots" / backend
    shots.mkdir(parents=True, exist_ok=True)
    await web_hub.mail_sender("127.0.0.1", 2525)
    person = await make_person(web_db, web_tenant.location_id)
    context = await chromium.new_context(base_url=web_server.base_url)
    try:
        page = await context.new_page()
        watched = Watched(page)
        await page.goto("/app/login")
        await _checked(page, watched, shots, "login")
        await page.get_by_label("Email").fill(person.email)
        await page.get_by_label("Password").fill(person.password)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="No flows yet")).to_be_visible(
            timeout=WAIT_MS
        )
        await _checked(page, watched, shots, "flows-empty")

        await page.get_by_role("link", name="Templates").click()
        welcome = page.locator("#template-welcome")
        await expect(welcome).to_be_visible(timeout=WAIT_MS)
        await _checked(page, watched, shots, "templates")
        await welcome.get_by_role("button", name="Install").click()
        await expect(page.get_by_role("status")).to_contain_text("Installed the template")
        await expect(page.get_by_role("link", name="Welcome new contacts")).to_be_visible()
        await _checked(page, watched, shots, "flows")

        await page.get_by_role("link", name="Runs", exact=True).click()
        await expect(page.get_by_text("No runs yet")).to_be_visible(timeout=WAIT_MS)
        await _checked(page, watched, shots, "runs-empty")
        # A mark on this document: it is still there if the page was never reloaded.
        await page.evaluate("window.notReloaded = true")
        await web_hub.crm_contact(firstName="Ada", email="ada@example.org")
        arrived = page.locator('#runs tr[data-state="succeeded"]')
        await expect(arrived).to_have_count(1, timeout=WAIT_MS)
        assert await page.evaluate("window.notReloaded === true")
        await _checked(page, watched, shots, "runs")
        await page.set_viewport_size({"width": 390, "height": 844})
        await _checked(page, watched, shots, "runs-phone")
        await page.set_viewport_size({"width": 1280, "height": 720})

        await arrived.get_by_role("link").click()
        for step in ("contact", "welcome", "task"):
            await expect(page.locator(f'li[data-step-id="{step}"]')).to_be_visible(timeout=WAIT_MS)
        await _checked(page, watched, shots, "run")

        await page.get_by_role("link", name="Connections").click()
        await expect(page.get_by_role("heading", name="Connections")).to_be_visible()
        await expect(page.locator("tr[data-connection-id]")).to_have_count(2)
        await _checked(page, watched, shots, "connections")

        await page.get_by_role("link", name=person.email).click()
        await expect(page.get_by_role("heading", name="Where you are signed in")).to_be_visible()
        await _checked(page, watched, shots, "account")
    finally:
        await context.close()
