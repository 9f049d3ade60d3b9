"""In a real browser: install `notes-timeline` from the gallery, search the contacts with a
tag filter built in the form and open the one found, add a note on its page and see the note
on its Mailsuite timeline. Every page is checked as in test_browser.py."""

import re

import pytest
from playwright.async_api import Browser, expect

from contactflow.platform.db import Database
from tests.flows.helpers import Hub, Json
from tests.support import LiveServer, Tenant
from tests.web.browsing import WAIT_MS, checked, shots_dir, sign_in, watched_page
from tests.web.helpers import make_person
from tests.web.test_contacts import linked_mail_contact
from tests.webhooks.helpers import poll


async def test_search_by_tag_open_and_note_onto_the_timeline(
    chromium: Browser,
    web_server: LiveServer,
    web_db: Database,
    web_tenant: Tenant,
    web_hub: Hub,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = shots_dir(web_server, tmp_path_factory)
    person = await make_person(web_db, web_tenant.location_id)
    ada = await web_hub.crm_contact(firstName="Ada", email="ada.b@example.org", tags=["vip"])
    await web_hub.crm_contact(firstName="Bob", email="bob.b@example.org", tags=["lead"])
    mail_id = await linked_mail_contact(
        web_db, web_tenant.location_id, ada["id"], "ada.b@example.org"
    )
    async with watched_page(chromium, web_server) as (page, watched):
        await sign_in(page, person)
        await page.get_by_role("link", name="Templates", exact=True).click()
        await page.locator("#template-notes-timeline").get_by_role("button", name="Install").click()
        await expect(page.get_by_role("status")).to_contain_text("Installed the template")

        await page.get_by_role("link", name="Contacts", exact=True).click()
        listed = page.locator("#contacts tr[data-contact-id]")
        await expect(listed).to_have_count(2, timeout=WAIT_MS)
        await checked(page, watched, shots, "contacts")
        await page.get_by_label("Field").select_option("tags")
        await page.get_by_label("Operator").select_option("eq")
        await page.get_by_label("Value").fill("vip")
        await page.get_by_role("button", name="Search").click()
        await expect(page).to_have_url(re.compile(r"field=tags&op=eq&value=vip"))
        await expect(listed).to_have_count(1, timeout=WAIT_MS)
        await page.get_by_role("button", name="Add a filter").click()
        await expect(page.get_by_label("Field")).to_have_count(2, timeout=WAIT_MS)
        await expect(listed).to_have_count(1)
        await checked(page, watched, shots, "contacts-filtered")

        await listed.get_by_role("link", name="Ada").click()
        await expect(page.get_by_role("heading", name="Ada", exact=True)).to_be_visible(
            timeout=WAIT_MS
        )
        await checked(page, watched, shots, "contact")
        await page.get_by_label("New note").fill("Prefers the phone")
        await page.get_by_role("button", name="Add the note").click()
        await expect(page.get_by_role("status")).to_contain_text("Added the note.")
        await expect(page.locator("#notes")).to_contain_text("Prefers the phone")

        # The note reaches the timeline through the template's flow, after the page answered.
        async def notes() -> list[Json]:
            return [entry for entry in await web_hub.timeline(mail_id) if entry["kind"] == "note"]

        await poll(notes, lambda found: len(found) == 1, within=WAIT_MS / 1000)
        await page.reload()
        entry = page.locator('#timeline li[data-kind="note"]')
        await expect(entry).to_contain_text("Prefers the phone", timeout=WAIT_MS)
        await checked(page, watched, shots, "contact-timeline")
