"""In a real browser: create an API key with picked scopes, see it once (not after a reload),
call the API with it, rotate it and see the new key work beside the old one, revoke it and
see the API refuse it; register an OAuth app and see its secret once, read the audit log,
invite someone and, as them, set a password from the link and land signed in. Every page is
checked as in test_browser.py."""

import re

import pytest
from playwright.async_api import Browser, expect

from contactflow.platform.db import Database
from tests.support import LiveServer, Tenant
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import Person, make_person
from tests.web.test_api_keys import api_status


def key_page(location_id: str) -> re.Pattern[str]:
    return re.compile(rf"/app/l/{location_id}/keys/[A-Za-z0-9_-]+$")


async def test_create_see_once_use_rotate_and_revoke_a_key(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    web_tenant: Tenant,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    person = await make_person(web_db, web_tenant.location_id)
    async with watched_page(chromium, web_server) as (page, watched):
        await sign_in(page, person)
        await page.get_by_role("link", name="API keys", exact=True).click()
        await expect(page.get_by_role("heading", name="API keys")).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "keys")
        await page.get_by_role("link", name="Create a key").click()
        await page.get_by_label("Name", exact=True).fill("Reporting script")
        await page.get_by_label("audit.readonly", exact=True).check()
        await page.get_by_label("contacts.readonly", exact=True).check()
        await checked(page, watched, shots, "key-new")
        await page.get_by_role("button", name="Create the key").click()
        shown = page.locator("#api-key")
        await expect(shown).to_be_visible(timeout=WAIT_MS)
        first = await shown.inner_text()
        await expect(page).to_have_url(key_page(web_tenant.location_id))
        await checked(page, watched, shots, "key-shown")
        assert await api_status(web_server, first) == 200

        await page.reload()
        await expect(page.get_by_role("heading", name="API key", exact=True)).to_be_visible(
            timeout=WAIT_MS
        )
        await expect(shown).to_have_count(0)
        await expect(page.locator("#key-state")).to_contain_text("active")

        await page.get_by_label("Hours the old key keeps working").fill("2")
        await page.get_by_role("button", name="Rotate the key").click()
        await expect(page.get_by_text("The previous key keeps working")).to_be_visible(
            timeout=WAIT_MS
        )
        second = await shown.inner_text()
        assert second.startswith("cf_live_")
        assert second != first
        await checked(page, watched, shots, "key-rotated")
        assert await api_status(web_server, second) == 200
        assert await api_status(web_server, first) == 200  # within its grace

        await page.get_by_role("button", name="Revoke the key").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Revoked: the API refuses the key from now on.", timeout=WAIT_MS
        )
        await expect(page.locator("#key-state")).to_contain_text("revoked")
        await expect(shown).to_have_count(0)
        assert await api_status(web_server, second) == 401
        await checked(page, watched, shots, "key-revoked")

        await page.get_by_role("link", name="All keys").click()
        rows = page.locator("tr[data-key-id]")
        await expect(rows.filter(has_text="Reporting script")).to_have_count(2, timeout=WAIT_MS)
        await checked(page, watched, shots, "keys-listed")


async def test_register_an_app_read_the_log_and_invite_someone(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    web_tenant: Tenant,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    admin = await make_person(web_db, web_tenant.location_id)
    async with watched_page(chromium, web_server) as (page, watched):
        await sign_in(page, admin)
        await page.get_by_role("link", name="OAuth apps", exact=True).click()
        await expect(page.get_by_role("heading", name="OAuth apps")).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "oauth-apps")
        await page.get_by_role("link", name="Register an app").click()
        await page.get_by_label("Name", exact=True).fill("Reports")
        await page.get_by_label("Redirect URIs").fill("https://reports.example.org/callback")
        await page.get_by_label("contacts.readonly", exact=True).check()
        await checked(page, watched, shots, "oauth-app-new")
        await page.get_by_role("button", name="Register the app").click()
        secret = page.locator("#client-secret")
        await expect(secret).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "oauth-app-secret")
        await page.reload()
        await expect(page.get_by_role("heading", name="Reports")).to_be_visible(timeout=WAIT_MS)
        await expect(secret).to_have_count(0)

        await page.get_by_role("link", name="Audit log", exact=True).click()
        await expect(page.get_by_role("heading", name="Audit log")).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "audit")

        await page.get_by_role("link", name="Users", exact=True).click()
        await page.get_by_label("Email").fill("sam.lee@people.example.org")
        await page.get_by_label("First name").fill("Sam")
        await page.get_by_label("Last name").fill("Lee")
        await page.get_by_role("button", name="Invite").click()
        link = page.locator("#invite-link")
        await expect(link).to_be_visible(timeout=WAIT_MS)
        invitation = await link.inner_text()
        await checked(page, watched, shots, "users-invited")
        await page.get_by_role("link", name="Sam Lee").click()
        await expect(page.get_by_role("heading", name="Sam Lee")).to_be_visible(timeout=WAIT_MS)
        await checked(page, watched, shots, "user")

    invited = Person("sam.lee@people.example.org", "a long passphrase", "", "")
    async with watched_page(chromium, web_server) as (page, watched):
        await page.goto(invitation)
        await expect(page.get_by_role("heading", name="Set your password")).to_be_visible(
            timeout=WAIT_MS
        )
        await checked(page, watched, shots, "invitation")
        await page.get_by_label("Password", exact=True).fill(invited.password)
        await page.get_by_label("The same password again").fill(invited.password)
        await page.get_by_role("button", name="Set the password and sign in").click()
        await expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(
            timeout=WAIT_MS
        )
        await checked(page, watched, shots, "invited-overview")
    async with watched_page(chromium, web_server) as (page, watched):
        await sign_in(page, invited)
