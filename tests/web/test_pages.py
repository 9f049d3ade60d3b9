"""The dashboard's pages over HTTP: what each shows, the tenancy of every page (another
location's flow or run is a 404), user content escaped, forms refusing bad input beside
the field, installs through the flows service, and the runs list's live stream."""

import re

import httpx

from contactflow.platform.db import Database
from tests.flows.helpers import MANUAL_TASK_FLOW as MANUAL
from tests.flows.helpers import Hub, Json
from tests.support import LiveServer, Tenant, make_tenant
from tests.web.helpers import browser, make_person, second_location, signed_in

HOSTILE = '"><img src=x onerror=alert(1)>'
FAILING: Json = {
    "trigger": {"key": "core.manual"},
    "steps": [
        {
            "type": "action",
            "id": "note",
            "action": "contacts.note.create",
            "input": {"contactId": "no-such-contact", "body": "Hello"},
        }
    ],
}


async def test_a_user_sees_only_their_locations_and_an_admin_the_companys(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    other_company = await make_tenant(web_db)
    sibling = await second_location(web_db, web_tenant)
    flow = await web_hub.flow(MANUAL, name="Ours")
    run = (await web_hub.post(f"/flows/{flow['id']}/run", {"name": "Ada"}))["run"]
    user = await make_person(web_db, sibling, role="user")
    admin = await make_person(web_db, web_tenant.location_id, role="admin")
    ours = f"/app/l/{web_tenant.location_id}"
    async with browser(web_server.base_url) as http:
        await signed_in(http, user)
        for path in (
            f"{ours}/flows",
            f"{ours}/runs",
            f"{ours}/templates",
            f"{ours}/connections",
            f"{ours}/runs/{run['id']}",
            f"/app/l/{sibling}/runs/{run['id']}",
            f"/app/l/{other_company.location_id}/flows",
            f"/app/switch?location={web_tenant.location_id}",
        ):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert "Ours" not in response.text
        assert (await http.get(f"/app/l/{sibling}/flows")).status_code == 200
        assert "Switch" not in (await http.get(f"/app/l/{sibling}/flows")).text
    async with browser(web_server.base_url) as http:
        await signed_in(http, admin)
        flows = await http.get(f"{ours}/flows")
        assert "Ours" in flows.text
        assert 'name="location"' in flows.text
        assert "Second Location" in flows.text
        switched = await http.get(f"/app/switch?location={sibling}")
        assert switched.headers["location"] == f"/app/l/{sibling}/overview"
        assert (await http.get(f"/app/l/{sibling}/runs/{run['id']}")).status_code == 404
        assert (await http.get(f"/app/l/{other_company.location_id}/flows")).status_code == 404
        assert (await http.get(f"{ours}/runs/{run['id']}")).status_code == 200


async def test_user_content_is_escaped_on_every_page(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    flow = await web_hub.flow(MANUAL, name=HOSTILE)
    run = (await web_hub.post(f"/flows/{flow['id']}/run", {"name": HOSTILE}))["run"]
    connection = {"name": HOSTILE, "kind": "http", "auth": "none", "baseUrl": "http://127.0.0.1:9/"}
    await web_hub.post("/connections", connection)
    await web_hub.finished_runs(flow["id"])
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        for path in (
            f"{ours}/flows",
            f"{ours}/runs",
            f"{ours}/runs/{run['id']}",
            f"{ours}/connections",
        ):
            page = await http.get(path)
            assert page.status_code == 200, path
            assert "<img" not in page.text, path
            assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text, path
        # In a filter's value too.
        found = await http.get(f"{ours}/runs", params={"q": HOSTILE})
        assert "<img" not in found.text
        assert "onerror=alert(1)&gt;" in found.text


async def test_runs_are_listed_filtered_and_opened_with_their_steps(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    calls = await web_hub.flow(MANUAL, name="Calls")
    failing = await web_hub.flow(FAILING, name="Broken")
    ada = (await web_hub.post(f"/flows/{calls['id']}/run", {"name": "Ada Lovelace"}))["run"]
    bob = (await web_hub.post(f"/flows/{calls['id']}/run", {"name": "Bob"}))["run"]
    broken = (await web_hub.post(f"/flows/{failing['id']}/run", {"name": "Cy"}))["run"]
    await web_hub.finished_runs(calls["id"], count=2)
    await web_hub.finished_runs(failing["id"])
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)

        async def listed(**params: str) -> list[str]:
            page = await http.get(f"{ours}/runs", params=params)
            assert page.status_code == 200, page.text
            return re.findall(r'data-run-id="([^"]+)"', page.text)

        assert await listed() == [broken["id"], bob["id"], ada["id"]]
        flows = (await http.get(f"{ours}/flows")).text

        def counts(flow_id: str) -> list[str]:
            row = flows.split(f'data-flow-id="{flow_id}"', 1)[1].split("</tr>", 1)[0]
            assert "never" not in row  # it has a last run
            return re.findall(r'<td class="number">(\d+)</td>', row)

        assert counts(calls["id"]) == ["2", "0"]
        assert counts(failing["id"]) == ["1", "1"]
        assert await listed(flow=calls["id"]) == [bob["id"], ada["id"]]
        assert await listed(state="failed") == [broken["id"]]
        assert await listed(q="lovelace") == [ada["id"]]
        assert await listed(q='LOVELACE"') == [ada["id"]]  # the JSON text's closing quote
        assert await listed(q="bO") == [bob["id"]]  # shorter than the index's trigrams
        assert await listed(q="%") == []
        assert await listed(since="2000-01-01T00:00", until="2001-01-01T00:00") == []
        bad = await http.get(f"{ours}/runs", params={"since": "yesterday"})
        assert bad.status_code == 422
        assert 'id="filter-since-error"' in bad.text
        assert "a date and time" in bad.text

        page = await http.get(f"{ours}/runs/{broken['id']}")
        assert page.status_code == 200
        assert 'data-step-id="note"' in page.text
        assert "Retry from the failed step" in page.text
        succeeded = await http.get(f"{ours}/runs/{ada['id']}")
        assert 'data-step-id="task"' in succeeded.text
        assert "Call Ada Lovelace" in succeeded.text
        # Retry is for failed runs: asking for it on another is answered on the page.
        refused = await http.post(f"{ours}/runs/{ada['id']}/retry", data={"csrf_token": token})
        assert refused.status_code == 409
        assert "only a failed run can be retried" in refused.text
        retried = await http.post(f"{ours}/runs/{broken['id']}/retry", data={"csrf_token": token})
        assert retried.headers["location"] == f"{ours}/runs/{broken['id']}"
        replayed = await http.post(f"{ours}/runs/{ada['id']}/replay", data={"csrf_token": token})
        assert replayed.status_code == 303
        new_run = replayed.headers["location"].rsplit("/", 1)[1]
        assert new_run != ada["id"]
        assert (await web_hub.run(new_run))["run"]["replayOf"] == ada["id"]


async def test_the_gallery_installs_a_template_and_names_bad_fields(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    sender = await web_hub.mail_sender("127.0.0.1", 2525)
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        gallery = await http.get(f"{ours}/templates")
        assert gallery.status_code == 200
        assert "Welcome new contacts" in gallery.text
        assert f'value="{sender["id"]}"' in gallery.text
        install = f"{ours}/templates/welcome/install"
        bad = await http.post(
            install, data={"csrf_token": token, "senderId": sender["id"], "dueInDays": "soon"}
        )
        assert bad.status_code == 422
        assert 'id="welcome-dueInDays-error"' in bad.text
        assert "must be a whole number" in bad.text
        too_far = await http.post(
            install, data={"csrf_token": token, "senderId": sender["id"], "dueInDays": "400"}
        )
        assert too_far.status_code == 422
        assert "at most 365" in too_far.text
        assert (await web_hub.get("/flows"))["flows"] == []
        done = await http.post(
            install, data={"csrf_token": token, "senderId": sender["id"], "dueInDays": "3"}
        )
        assert done.status_code == 303
        flows = await http.get(done.headers["location"])
        assert "Installed the template" in flows.text
        assert "Welcome new contacts" in flows.text
        assert "enabled" in flows.text
        (flow,) = (await web_hub.get("/flows"))["flows"]
        assert flow["published"]["definition"]["steps"][2]["input"]["dueAt"].endswith(
            "add(days=3) }}"
        )
        # Installed already: refused beside the form, naming the flow; nothing is added.
        again = await http.post(install, data={"csrf_token": token, "senderId": sender["id"]})
        assert again.status_code == 409
        assert f"already installed in this location: Welcome new contacts ({flow['id']})" in (
            again.text
        )
        assert [row["id"] for row in (await web_hub.get("/flows"))["flows"]] == [flow["id"]]
        unknown = await http.post(f"{ours}/templates/nope/install", data={"csrf_token": token})
        assert unknown.status_code == 404


async def test_new_runs_arrive_on_the_live_stream(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    calls = await web_hub.flow(MANUAL, name="Calls")
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        page = await http.get(f"{ours}/runs")
        live = re.search(r'sse-connect="([^"]+)"', page.text)
        assert live is not None
        url = live.group(1).replace("&amp;", "&")
        # A position past the log's 64-bit sequences is refused, not read from the database.
        beyond = await http.get(f"{ours}/runs/live", params={"after": str(2**63)})
        assert beyond.status_code == 422
        async with http.stream("GET", url, timeout=httpx.Timeout(30)) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            run = (await web_hub.post(f"/flows/{calls['id']}/run", {"name": "Ada"}))["run"]
            received = ""
            lines = stream.aiter_lines()
            async for line in lines:
                received += line + "\n"
                if f'data-run-id="{run["id"]}" data-state="succeeded"' in received:
                    break
            assert "event: runs" in received
            # Signed out everywhere: the stream ends at the next event of the location.
            async with browser(web_server.base_url) as other:
                token = await signed_in(other, person)
                await other.post("/app/account/sign-out-everywhere", data={"csrf_token": token})
            await web_hub.post(f"/flows/{calls['id']}/run", {"name": "Bob"})
            after_sign_out = [line async for line in lines]
        assert "Bob" not in "".join(after_sign_out)


async def test_the_live_stream_sends_only_a_changed_drawing(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    """Events that leave the runs list as it was (a contact added) swap nothing in: a swap
    of the same rows would only cost the reader a click made while it happened."""
    calls = await web_hub.flow(MANUAL, name="Quiet calls")
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        page = await http.get(f"{ours}/runs")
        live = re.search(r'sse-connect="([^"]+)"', page.text)
        assert live is not None
        url = live.group(1).replace("&amp;", "&")
        async with http.stream("GET", url, timeout=httpx.Timeout(30)) as stream:
            first = (await web_hub.post(f"/flows/{calls['id']}/run", {"name": "Ada"}))["run"]
            lines = stream.aiter_lines()
            received = ""
            async for line in lines:
                received += line + "\n"
                if f'data-run-id="{first["id"]}" data-state="succeeded"' in received:
                    break
            for number in range(3):
                await web_hub.crm_contact(firstName=f"Quiet {number}", email=f"q{number}@x.org")
            second = (await web_hub.post(f"/flows/{calls['id']}/run", {"name": "Bo"}))["run"]
            later = ""
            async for line in lines:
                later += line + "\n"
                if f'data-run-id="{second["id"]}" data-state="succeeded"' in later:
                    break
    drawings = later.split("event: runs")[1:]
    assert drawings
    assert all(f'data-run-id="{second["id"]}"' in drawing for drawing in drawings)
