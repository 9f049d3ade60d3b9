"""The email templates pages over HTTP: the list, the editor's preview (the draft merged for
a chosen contact as a send merges it, escaped, its HTML in a frame without scripts; unknown
placeholders flagged; a template that does not parse named beside its field), saving a new
template and changing it through the templates service, CSRF, and the tenancy of every page
and action."""

import html
import re

from contactflow.platform.db import Database
from tests.support import LiveServer, make_tenant
from tests.web.forms import form_fields
from tests.web.helpers import browser, make_person, second_location, signed_in
from tests.web.mailsuite_helpers import mail_location

XSS = "<script>alert(1)</script>"


async def test_a_template_is_previewed_for_a_contact_flagged_and_saved(
    web_server: LiveServer, web_db: Database
) -> None:
    async with mail_location(web_server, web_db) as (mail, person):
        tenant = mail.tenant
        sibling = await second_location(web_db, tenant)
        here = f"/app/l/{tenant.location_id}/mail-templates"
        tess = await mail.contact("tess@example.com", firstName=f"Tess{XSS}")
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, person)
            assert "No email templates yet" in (await http.get(here)).text
            new = await http.get(f"{here}/new")
            fields = form_fields(new.text, "template-form")
            assert fields["contactId"] == tess["id"]
            assert XSS not in new.text
            draft = {
                **fields,
                "name": "Welcome",
                "subject": "Hi {{first_name|there}}",
                "html": "<p>Hello {{ first_name }}</p><p>{{ shoe_size }} {{ mood }}</p>",
            }
            flagged = await http.post(f"{here}/preview", data=draft)
            assert flagged.status_code == 200
            assert 'data-unknown="mood shoe_size"' in flagged.text
            assert "{{ shoe_size }}" in html.unescape(flagged.text)
            merged = await http.post(
                f"{here}/preview", data={**draft, "html": "<p>Hello {{ first_name }}</p>"}
            )
            assert 'data-unknown=""' in merged.text
            assert XSS not in merged.text
            assert f"Hi Tess{html.escape(XSS, quote=False)}" in merged.text
            frame = re.search(r'<iframe[^>]* sandbox="" srcdoc="([^"]*)"', merged.text)
            assert frame is not None
            # The merged HTML escapes the contact's value; the attribute escapes it again.
            assert html.unescape(frame.group(1)) == (
                f"<p>Hello Tess{html.escape(XSS, quote=True)}</p>"
            )
            broken = await http.post(f"{here}/preview", data={**draft, "subject": "Hi {{"})
            assert broken.status_code == 200
            assert "subject:" in broken.text
            assert (
                await http.post(f"{here}/preview", data=draft, headers={"X-CSRF-Token": ""})
            ).status_code == 403

            assert (
                await http.post(f"{here}/new", data={**draft, "csrf_token": ""})
            ).status_code == 403
            refused = await http.post(f"{here}/new", data={**draft, "name": "", "subject": "{{"})
            assert refused.status_code == 422
            assert 'id="subject-error"' in refused.text
            saved = await http.post(f"{here}/new", data={**draft, "name": f"Welcome {XSS}"})
            assert saved.status_code == 303, saved.text
            page_url = saved.headers["location"]
            template_id = page_url.split("/")[-1].split("?")[0]
            page = await http.get(page_url)
            assert "Saved." in page.text
            assert XSS not in page.text
            assert 'data-unknown="mood shoe_size"' in page.text
            stored = (await mail.get(f"/templates/{template_id}"))["template"]
            assert stored["name"] == f"Welcome {XSS}"
            listing = await http.get(here)
            assert f'data-template-id="{template_id}"' in listing.text
            assert XSS not in listing.text
            changed = form_fields(page.text, "template-form")
            changed["html"] = "<p>Bye {{ first_name }}</p>"
            assert (
                await http.post(
                    f"/app/l/{tenant.location_id}/mail-templates/{template_id}", data=changed
                )
            ).status_code == 303
            assert (await mail.get(f"/templates/{template_id}"))["template"]["html"] == changed[
                "html"
            ]
            bad = await http.post(page_url.split("?")[0], data={**changed, "subject": ""})
            assert bad.status_code == 422
            assert 'id="subject-error"' in bad.text

            other = f"/app/l/{sibling}/mail-templates/{template_id}"
            assert (await http.get(other)).status_code == 404
            assert (
                await http.post(other, data={**changed, "csrf_token": token})
            ).status_code == 404
            assert (await http.get(f"{here}/nope")).status_code == 404
        stranger = await make_tenant(web_db)
        outsider = await make_person(web_db, stranger.location_id)
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, outsider)
            for path in (here, f"{here}/new", f"{here}/{template_id}"):
                assert (await http.get(path)).status_code == 404, path
            answer = await http.post(f"{here}/preview", data={**draft, "csrf_token": token})
            assert answer.status_code == 404
            theirs = await http.post(
                f"/app/l/{stranger.location_id}/mail-templates/preview",
                data={**draft, "csrf_token": token, "contactId": tess["id"], "html": "<p>x</p>"},
            )
            assert theirs.status_code == 200
            assert "contactId:" in theirs.text
            assert "Tess" not in theirs.text
