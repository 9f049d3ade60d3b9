"""What the browser tests share: axe-core, the watch on a page's errors, and the check each
page visited passes (no console error, no failed request, no serious accessibility finding),
and a page of its own signed in as a person."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, Response, expect

from contactflow.platform.auth.sessions import SIGN_IN_PATH
from tests.support import LiveServer
from tests.web.helpers import Person

AXE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text(encoding="utf-8")
# Generous: the machine is shared; a slow answer is not what is tested.
WAIT_MS = 90_000
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(" "))}));
}"""


# How chromium reports an email's remote image refused by the email's policy (see below),
# and a script in an email's HTML not run in its sandboxed frame: both are the frame doing
# its job.
EMAIL_IMAGE_REFUSED = 'Content Security Policy directive: "img-src data:"'
EMAIL_SCRIPT_BLOCKED = re.compile(
    r"^Blocked script execution in '[^']+/html' because the document's frame is sandboxed"
)


class Watched:
    """What went wrong in a page: console errors, uncaught errors, failed requests."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if EMAIL_IMAGE_REFUSED in message.text or EMAIL_SCRIPT_BLOCKED.match(message.text):
            return
        if message.type == "error":
            self.problems.append(f"console: {message.text}")

    def _failed(self, request: Request) -> None:
        # Leaving a page closes its live stream and stops the frames it still loads (an
        # email's HTML): the browser reports those as aborted.
        if request.failure == "net::ERR_ABORTED" and (
            "/live?" in request.url or request.url.endswith("/html")
        ):
            return
        # A caught email's HTML names remote images (its open pixel): its policy refuses them,
        # so reading an email neither calls out nor counts as an open.
        if request.failure == "csp" and request.frame.url.endswith("/html"):
            return
        self.problems.append(f"request failed: {request.url} {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status}: {response.url}")


async def checked(page: Page, watched: Watched, shots: Path, name: str) -> None:
    """The page as it stands: no problem so far, no serious accessibility finding."""
    await page.evaluate(AXE)
    violations: list[dict[str, Any]] = await page.evaluate(AXE_RUN)
    grave = [v for v in violations if v["impact"] in ("serious", "critical")]
    await page.screenshot(path=shots / f"{name}.png", full_page=True)
    assert grave == [], (name, grave)
    assert watched.problems == [], (name, watched.problems)


def shots_dir(server: LiveServer, factory: pytest.TempPathFactory) -> Path:
    """Where a test run's screenshots of this backend go."""
    backend = server.settings.database_url.split(":", 1)[0].split("+", 1)[0]
    shots = factory.getbasetemp() / "screenshots" / backend
    shots.mkdir(parents=True, exist_ok=True)
    return shots


@asynccontextmanager
async def watched_page(
    chromium: Browser, server: LiveServer
) -> AsyncIterator[tuple[Page, Watched]]:
    """A page of the server in a browser context of its own (no cookie shared), watched."""
    context = await chromium.new_context(base_url=server.base_url)
    try:
        page = await context.new_page()
        yield page, Watched(page)
    finally:
        await context.close()


async def sign_in(page: Page, person: Person, *, lands_on: str = "Overview") -> None:
    """Sign in through the login page (opened unless the page shows it already); the page is
    then the one headed `lands_on`: the location's overview, unless the login page was sent to
    with another page to go back to."""
    if urlsplit(page.url).path != SIGN_IN_PATH:
        await page.goto(SIGN_IN_PATH)
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password").fill(person.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name=lands_on, exact=True)).to_be_visible(
        timeout=WAIT_MS
    )
