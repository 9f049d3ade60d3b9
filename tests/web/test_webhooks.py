"""The webhooks pages over HTTP, against the real receiver: an endpoint added with picked
event types (a bad URL named beside its field), its signing secret shown once after adding
and after rotating, deliveries listed (filtered, paged) with their attempts, resend, recover
since a time, a test event, a disabled endpoint's reason and re-enabling, and the tenancy and
CSRF of every page and action."""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks.webhooks import Webhook

from contactflow.platform.db import Database
from contactflow.web.webhook_deliveries import DELIVERIES_PER_PAGE
from tests.flows.helpers import Hub, Json
from tests.receiver import Receiver, running_receiver
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, make_tenant
from tests.web.helpers import browser, make_person, second_location, signed_in
from tests.webhooks.helpers import arrivals_at, create_contacts, poll

HOSTILE = '"><img src=x onerror=alert(1)>'
SECRET = re.compile(r'<code id="signing-secret">(whsec_[^<]+)</code>')
WITHIN = 60.0


def delivery_ids(html: str) -> list[str]:
    return re.findall(r'data-delivery-id="([^"]+)"', html)


async def deliveries(hub: Hub, endpoint_id: str, **params: str) -> list[Json]:
    rows: list[Json] = (await hub.get(f"/webhooks/{endpoint_id}/deliveries", **params))[
        "deliveries"
    ]
    return rows


async def settled(hub: Hub, endpoint_id: str, count: int, state: str) -> list[Json]:
    """The endpoint's deliveries once `count` of them are in `state`."""
    return await poll(
        lambda: deliveries(hub, endpoint_id, limit="100"),
        lambda rows: sum(row["state"] == state for row in rows) == count,
        within=WITHIN,
    )


async def add_endpoint(
    http: httpx.AsyncClient, token: str, location_id: str, url: str, *types: str
) -> tuple[str, str]:
    """Add an endpoint through the form; its id and the secret shown."""
    form: dict[str, str | list[str]] = {"url": url, "eventTypes": list(types), "csrf_token": token}
    added = await http.post(f"/app/l/{location_id}/webhooks/new", data=form)
    assert added.status_code == 200, added.text
    secret = SECRET.search(added.text)
    assert secret is not None
    endpoint_id = added.headers["hx-push-url"].rsplit("/", 1)[1]
    return endpoint_id, secret.group(1)


def verified(receiver: Receiver, path: str, number: int, secret: str) -> Json:
    """The payload of the `number`th arrival at `path`, its signature checked with `secret`."""
    arrival = arrivals_at(receiver.arrivals, path)[number]
    payload: Json = Webhook(secret).verify(arrival.body, arrival.headers)
    return payload


async def arrived(
    receiver: Receiver, path: str, done: Callable[[list[bytes]], bool]
) -> list[bytes]:
    """The bodies that arrived at `path`, once `done` accepts them."""

    async def bodies() -> list[bytes]:
        return receiver.bodies(path)

    return await poll(bodies, done, within=WITHIN)


async def test_an_endpoint_is_added_with_picked_types_and_its_secret_shown_once(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}/webhooks"
    with running_receiver() as receiver:
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, person)
            empty = await http.get(ours)
            assert "No endpoints yet" in empty.text
            form = await http.get(f"{ours}/new")
            assert "<legend>Contacts</legend>" in form.text
            assert "<legend>Mailsuite emails</legend>" in form.text
            assert 'name="eventTypes" value="TaskComplete"' in form.text

            refused = await http.post(
                f"{ours}/new",
                data={"url": "ftp://x.example", "description": HOSTILE, "csrf_token": token},
            )
            assert refused.status_code == 422
            assert 'id="endpoint-url-error">must be an https URL<' in refused.text
            assert "&#34;&gt;&lt;img src=x" in refused.text  # what was typed stays, escaped
            unknown = await http.post(
                f"{ours}/new",
                data={"url": receiver.url(), "eventTypes": ["Nope"], "csrf_token": token},
            )
            assert unknown.status_code == 422
            assert 'id="endpoint-eventTypes-error">unknown event types' in unknown.text
            assert (await web_hub.get("/webhooks"))["endpoints"] == []

            form_data = {
                "url": receiver.url("/picked"),
                "description": HOSTILE,
                "eventTypes": ["TaskCreate", "ContactCreate"],
                "ordered": "on",
                "csrf_token": token,
            }
            added = await http.post(f"{ours}/new", data=form_data)
            assert added.status_code == 200, added.text
            endpoint_id = added.headers["hx-push-url"].rsplit("/", 1)[1]
            assert added.headers["hx-push-url"] == f"{ours}/{endpoint_id}"
            found = SECRET.search(added.text)
            assert found is not None
            secret = found.group(1)
            assert "<img" not in added.text
            endpoint = (await web_hub.get(f"/webhooks/{endpoint_id}"))["endpoint"]
            assert endpoint["eventTypes"] == ["ContactCreate", "TaskCreate"]
            assert endpoint["description"] == HOSTILE

            page = await http.get(f"{ours}/{endpoint_id}")
            assert page.status_code == 200
            assert secret not in page.text
            assert "signing-secret" not in page.text
            assert "No deliveries yet" in page.text
            listed = await http.get(ours)
            assert f'data-endpoint-id="{endpoint_id}"' in listed.text
            assert "ContactCreate, TaskCreate" in listed.text
            assert "none yet" in listed.text
            assert "<img" not in listed.text

            contact = await web_hub.crm_contact(firstName="Ada")
            await arrived(receiver, "/picked", lambda bodies: len(bodies) == 1)
            assert verified(receiver, "/picked", 0, secret)["id"] == contact["id"]
            [delivery] = await settled(web_hub, endpoint_id, 1, "succeeded")
            listed = await http.get(ours)
            assert 'state-succeeded">succeeded</span> 200' in listed.text

            rotated = await http.post(
                f"{ours}/{endpoint_id}/rotate-secret", data={"csrf_token": token}
            )
            assert rotated.status_code == 200
            assert rotated.headers["hx-push-url"] == f"{ours}/{endpoint_id}"
            found = SECRET.search(rotated.text)
            assert found is not None
            new_secret = found.group(1)
            assert new_secret != secret
            assert "The previous secret keeps signing beside it until" in rotated.text
            again = await http.get(f"{ours}/{endpoint_id}")
            assert new_secret not in again.text
            assert delivery_ids(again.text) == [delivery["id"]]

            await web_hub.crm_contact(firstName="Bob")
            await arrived(receiver, "/picked", lambda bodies: len(bodies) == 2)
            # Signed with both during the overlap: a receiver with either secret accepts it.
            assert verified(receiver, "/picked", 1, new_secret)["firstName"] == "Bob"
            assert verified(receiver, "/picked", 1, secret)["firstName"] == "Bob"

            one = await http.get(f"{ours}/{endpoint_id}/deliveries/{delivery['id']}")
            assert one.status_code == 200
            assert 'data-state="succeeded"' in one.text
            assert 'state-succeeded">200</span>' in one.text
            assert "<pre>ok</pre>" in one.text
            assert f"/events/{delivery['eventId']}" in one.text


async def test_deliveries_are_listed_resent_recovered_and_tested(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    with running_receiver() as receiver:
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, person)
            endpoint_id, _ = await add_endpoint(
                http, token, web_tenant.location_id, receiver.url("/failing"), "ContactCreate"
            )
            here = f"/app/l/{web_tenant.location_id}/webhooks/{endpoint_id}"
            # Every attempt fails (5 of them, retries compressed to milliseconds) for two.
            receiver.fail_next(*[500] * 10)
            await create_contacts(web_db, web_tenant.location_id, ["Ada", "Bob"])
            failed = await settled(web_hub, endpoint_id, 2, "failed")
            page = await http.get(here, params={"state": "failed"})
            assert delivery_ids(page.text) == [row["id"] for row in failed]
            assert 'hx-trigger="every 2s"' not in page.text  # nothing pending: no polling
            assert delivery_ids((await http.get(here, params={"state": "succeeded"})).text) == []
            bogus = await http.get(here, params={"state": "bogus"})
            assert bogus.status_code == 422
            assert 'id="filter-state-error"' in bogus.text

            newest, oldest = failed
            one = f"{here}/deliveries/{newest['id']}"
            shown = await http.get(one)
            assert shown.text.count('state-failed">500</span>') == 5
            assert "<pre>nope</pre>" in shown.text

            resent = await http.post(f"{one}/resend", data={"csrf_token": token})
            assert resent.status_code == 303
            assert resent.headers["location"] == f"{one}?done=resent"
            await settled(web_hub, endpoint_id, 1, "succeeded")
            shown = await http.get(one)
            assert 'data-state="succeeded" data-attempts="6"' in shown.text
            assert 'state-succeeded">200</span>' in shown.text

            bad = await http.post(
                f"{here}/recover", data={"since": "yesterday", "csrf_token": token}
            )
            assert bad.status_code == 422
            assert 'id="recover-since-error">a date and time' in bad.text
            assert 'value="yesterday"' in bad.text
            missing = await http.post(f"{here}/recover", data={"csrf_token": token})
            assert 'id="recover-since-error">required' in missing.text
            since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
            recovered = await http.post(
                f"{here}/recover", data={"since": since, "csrf_token": token}
            )
            assert recovered.status_code == 303
            assert recovered.headers["location"] == f"{here}?recovered=1"
            told = await http.get(recovered.headers["location"])
            assert "Queued 1 failed delivery to be sent again." in told.text
            await settled(web_hub, endpoint_id, 2, "succeeded")

            tested = await http.post(f"{here}/test", data={"csrf_token": token})
            assert tested.status_code == 303
            test_page = tested.headers["location"]
            assert test_page.endswith("?done=test")
            await arrived(
                receiver, "/failing", lambda bodies: any(b"WebhookTest" in body for body in bodies)
            )
            told = await http.get(test_page)
            assert "A WebhookTest event is on its way" in told.text
            assert "Delivery of WebhookTest" in told.text
            assert oldest["id"] in (await http.get(here)).text


async def test_deliveries_page_by_keyset(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    with running_receiver() as receiver:
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, person)
            endpoint_id, _ = await add_endpoint(
                http, token, web_tenant.location_id, receiver.url("/many"), "ContactCreate"
            )
            count = DELIVERIES_PER_PAGE + 1
            await create_contacts(web_db, web_tenant.location_id, [f"C{n}" for n in range(count)])
            every = await settled(web_hub, endpoint_id, count, "succeeded")
            here = f"/app/l/{web_tenant.location_id}/webhooks/{endpoint_id}"
            first = await http.get(here)
            assert delivery_ids(first.text) == [row["id"] for row in every[:DELIVERIES_PER_PAGE]]
            older = re.search(r'<a href="([^"]+)">Older deliveries</a>', first.text)
            assert older is not None
            second = await http.get(older.group(1).replace("&amp;", "&"))
            assert delivery_ids(second.text) == [every[-1]["id"]]
            assert "Older deliveries" not in second.text
            # A cursor that is not one of ours starts at the newest.
            assert len(delivery_ids((await http.get(here, params={"cursor": "x_"})).text)) == 50


async def test_a_disabled_endpoint_shows_why_and_is_enabled_again(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}/webhooks"
    with running_receiver() as receiver:
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, person)
            endpoint_id, _ = await add_endpoint(
                http, token, web_tenant.location_id, receiver.url("/gone"), "ContactCreate"
            )
            receiver.fail_next(410)
            await web_hub.crm_contact(firstName="Ada")
            await poll(
                lambda: web_hub.get(f"/webhooks/{endpoint_id}"),
                lambda body: body["endpoint"]["enabled"] is False,
                within=WITHIN,
            )
            here = f"{ours}/{endpoint_id}"
            page = await http.get(here)
            assert "contactflow disabled it: the endpoint answered 410 Gone." in page.text
            assert ">Re-enable</button>" in page.text
            assert "Send a test event" not in page.text
            listed = await http.get(ours)
            assert 'state-disabled">disabled</span> <span class="muted">the endpoint' in (
                listed.text
            )
            [delivery] = await deliveries(web_hub, endpoint_id)
            stalled = await http.get(f"{here}/deliveries/{delivery['id']}")
            assert "re-enable it on" in stalled.text

            enabled = await http.post(f"{here}/enable", data={"csrf_token": token})
            assert enabled.headers["location"] == f"{here}?done=enabled"
            endpoint = (await web_hub.get(f"/webhooks/{endpoint_id}"))["endpoint"]
            assert (endpoint["enabled"], endpoint["disabledReason"]) == (True, None)
            assert "Re-enable" not in (await http.get(here)).text

            await http.post(f"{here}/disable", data={"csrf_token": token})
            assert "It was disabled by hand." in (await http.get(here)).text
            deleted = await http.post(f"{here}/delete", data={"csrf_token": token})
            assert deleted.headers["location"] == f"{ours}?done=deleted"
            assert (await http.get(here)).status_code == 404
            assert (await web_hub.get("/webhooks"))["endpoints"] == []


async def test_webhook_pages_are_404_across_locations_and_refuse_without_csrf(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    other = await make_tenant(web_db)
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=web_server.base_url, headers=other.headers
    ) as api:
        body = {"url": "http://127.0.0.1:9/theirs", "eventTypes": ["ContactCreate"]}
        theirs = (await api.post("/webhooks", json=body)).json()["endpoint"]["id"]
        tested = (await api.post(f"/webhooks/{theirs}/test")).json()["delivery"]["id"]
    mine = (await web_hub.post("/webhooks", {"url": "http://127.0.0.1:9/mine"}))["endpoint"]["id"]
    sibling = await second_location(web_db, web_tenant)
    user = await make_person(web_db, sibling, role="user")
    admin = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}/webhooks"
    elsewhere = [
        f"{ours}/{theirs}",
        f"{ours}/{theirs}/edit",
        f"{ours}/{theirs}/deliveries",
        f"{ours}/{theirs}/deliveries/{tested}",
        f"{ours}/{theirs}/deliveries/{tested}/progress",
        f"{ours}/{mine}/deliveries/{tested}",
        f"/app/l/{other.location_id}/webhooks",
        f"/app/l/{other.location_id}/webhooks/{theirs}",
    ]
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, admin)
        for path in elsewhere:
            assert (await http.get(path)).status_code == 404, path
        for action in ("edit", "rotate-secret", "enable", "disable", "delete", "test", "recover"):
            data = {"url": "http://127.0.0.1:9/x", "since": "2020-01-01T00:00", "csrf_token": token}
            response = await http.post(f"{ours}/{theirs}/{action}", data=data)
            assert response.status_code == 404, action
            refused = await http.post(f"{ours}/{mine}/{action}", data={"since": "2020-01-01T00:00"})
            assert refused.status_code == 403, action
        resend = f"{ours}/{theirs}/deliveries/{tested}/resend"
        assert (await http.post(resend, data={"csrf_token": token})).status_code == 404
        assert (
            await http.post(f"{ours}/new", data={"url": "http://127.0.0.1:9/"})
        ).status_code == 403
        assert (await http.get(f"/app/l/{sibling}/webhooks")).status_code == 200
    async with browser(web_server.base_url) as http:
        await signed_in(http, user)
        for path in (ours, f"{ours}/new", f"{ours}/{mine}"):
            assert (await http.get(path)).status_code == 404, path
        assert (await http.get(f"/app/l/{sibling}/webhooks")).status_code == 200
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=web_server.base_url, headers=other.headers
    ) as api:
        endpoint = (await api.get(f"/webhooks/{theirs}")).json()["endpoint"]
    assert endpoint["url"] == "http://127.0.0.1:9/theirs"
    assert endpoint["enabled"] is True
    assert (await web_hub.get(f"/webhooks/{mine}"))["endpoint"]["enabled"] is True
