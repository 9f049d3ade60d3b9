"""The sandbox outbox page (a caught email's HTML served apart with a policy that runs no
script, its text, headers and raw bytes; subjects escaped; only sandbox locations have one)
and a flow's page (its version history with changes, YAML export, enable and disable)."""

import re

import yaml

from contactflow.platform.db import Database
from tests.flows.helpers import MANUAL_TASK_FLOW as MANUAL
from tests.flows.helpers import Hub
from tests.support import LiveServer, Tenant, make_tenant
from tests.web.helpers import browser, make_person, second_location, signed_in
from tests.web.outbox_helpers import caught_email

XSS = "<script>alert(1)</script>"


async def test_the_outbox_shows_a_caught_email_safely(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    caught = await caught_email(web_server.base_url, web_db, XSS)
    message_id = caught.message["id"]
    person = await make_person(web_db, caught.tenant.location_id)
    live_person = await make_person(web_db, web_tenant.location_id)
    here = f"/app/l/{caught.tenant.location_id}/outbox"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        listing = await http.get(here)
        assert listing.status_code == 200
        assert f'data-message-id="{message_id}"' in listing.text
        assert XSS not in listing.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing.text
        assert 'sse-connect="' in listing.text
        assert f'href="{here}"' in listing.text  # the nav links the outbox of a sandbox location
        page = await http.get(f"{here}/{message_id}")
        assert page.status_code == 200
        assert XSS not in page.text
        assert "frame-src 'self'" in page.headers["content-security-policy"]
        assert re.search(r"<iframe[^>]* sandbox[ >]", page.text)
        assert "Hello Tess, welcome aboard." in page.text or "Hello *Tess*" in page.text
        assert "X-Contactflow-Email-Id" in page.text
        body = await http.get(f"{here}/{message_id}/html")
        assert body.status_code == 200
        policy = body.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "sandbox" in policy
        assert "script-src" not in policy
        assert body.headers["x-frame-options"] == "SAMEORIGIN"
        assert "<b>Tess</b>" in body.text
        raw = await http.get(f"{here}/{message_id}/raw")
        assert raw.headers["content-type"] == "message/rfc822"
        assert raw.headers["content-disposition"].startswith("attachment")
        assert b"X-Contactflow-Email-Id" in raw.content
        assert (await http.get(f"{here}/nope")).status_code == 404
    async with browser(web_server.base_url) as http:
        # Another company's person, and a live location, have no such outbox.
        await signed_in(http, live_person)
        for path in (here, f"{here}/{message_id}", f"{here}/{message_id}/html"):
            assert (await http.get(path)).status_code == 404, path
        live = await http.get(f"/app/l/{web_tenant.location_id}/outbox")
        assert live.status_code == 404
        assert "/outbox" not in (await http.get(f"/app/l/{web_tenant.location_id}/flows")).text


async def test_an_empty_outbox_says_what_to_do_first(
    web_server: LiveServer, web_db: Database
) -> None:
    tenant = await make_tenant(web_db, sandbox=True)
    person = await make_person(web_db, tenant.location_id)
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        page = await http.get(f"/app/l/{tenant.location_id}/outbox")
        assert "No email yet. Add a sender" in page.text


async def test_a_flows_page_shows_its_versions_exports_and_switches(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    flow = await web_hub.flow(MANUAL, name="Calls")
    changed = {
        **MANUAL,
        "steps": [
            {**MANUAL["steps"][0], "input": {"title": "Ring {{ trigger.name }}"}},
            {
                "type": "action",
                "id": "note",
                "action": "mailsuite.task.create",
                "input": {"title": "x"},
            },
        ],
    }
    await web_hub.call("PUT", f"/flows/{flow['id']}", 200, json={"definition": changed})
    await web_hub.post(f"/flows/{flow['id']}/publish", status=200)
    person = await make_person(web_db, web_tenant.location_id)
    sibling = await second_location(web_db, web_tenant)
    here = f"/app/l/{web_tenant.location_id}/flows/{flow['id']}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        page = await http.get(here)
        assert page.status_code == 200
        assert 'data-version="2"' in page.text
        assert 'data-version="1"' in page.text
        assert "step note (mailsuite.task.create)" in page.text
        assert (
            "input.title: &#34;Call {{ trigger.name }}&#34; → &#34;Ring {{ trigger.name }}&#34;"
            in page.text
        )
        assert f'href="/app/l/{web_tenant.location_id}/runs?flow={flow["id"]}"' in page.text
        exported = await http.get(f"{here}/export.yaml")
        assert exported.headers["content-disposition"].startswith("attachment")
        assert yaml.safe_load(exported.text) == changed
        first = await http.get(f"{here}/export.yaml", params={"version": "1"})
        assert yaml.safe_load(first.text) == MANUAL
        assert (await http.get(f"{here}/export.yaml", params={"version": "9"})).status_code == 404
        disabled = await http.post(f"{here}/disable", data={"csrf_token": token})
        assert disabled.status_code == 303
        assert (await web_hub.get(f"/flows/{flow['id']}"))["flow"]["enabled"] is False
        assert (await http.post(f"{here}/enable", data={})).status_code == 403
        await http.post(f"{here}/enable", data={"csrf_token": token})
        assert (await web_hub.get(f"/flows/{flow['id']}"))["flow"]["enabled"] is True
        other = f"/app/l/{sibling}/flows/{flow['id']}"
        assert (await http.get(other)).status_code == 404
        assert (await http.post(f"{other}/disable", data={"csrf_token": token})).status_code == 404
