"""In a real browser: open a sync, edit one field's conflict policy and the delete policy,
save, and see the change on the sync's page. Every page is checked as in test_browser.py."""

import pytest
from playwright.async_api import Browser, expect

from contactflow.platform.db import Database
from tests.support import LiveServer, Tenant
from tests.sync.helpers import paused_sync
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import make_person


async def test_a_person_edits_a_sync_and_sees_the_change_on_its_page(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    web_tenant: Tenant,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    person = await make_person(web_db, web_tenant.location_id)
    sync = await paused_sync(web_db, web_tenant.location_id, "Everyone")
    async with watched_page(chromium, web_server) as (page, watched):
        await sign_in(page, person)
        await page.get_by_role("link", name="Syncs", exact=True).click()
        await page.get_by_role("link", name="Everyone").click()
        await page.get_by_role("link", name="Edit", exact=True).click()
        await expect(page.get_by_role("heading", name="Edit Everyone")).to_be_visible(
            timeout=WAIT_MS
        )
        await checked(page, watched, shots, "sync-edit")

        await page.get_by_label("Who wins a conflict, row 3").select_option(label="a person picks")
        await page.get_by_label("Hold", exact=True).check()
        await page.get_by_role("button", name="Save changes").click()
        await expect(page.get_by_role("status")).to_contain_text("Settings saved", timeout=WAIT_MS)
        email = page.locator("#sync-mapping tr", has_text="email")
        await expect(email).to_contain_text("a person picks")
        await expect(page.get_by_text("held until a person approves")).to_be_visible()
        assert page.url.endswith(f"/syncs/{sync.id}?done=changed")
        await checked(page, watched, shots, "sync-edited")
