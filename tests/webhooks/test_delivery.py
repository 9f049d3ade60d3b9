"""Deliveries to a real receiver on loopback, through the live server's embedded workers:
both signatures verify with the packages receivers use, retries follow the (compressed)
schedule and are logged, failed deliveries come back by resend and recover, 410 disables,
per-contact order holds across retries, a rotated secret overlaps, redirects are not
followed, an endpoint failing for longer than the threshold is disabled with a notice."""

import itertools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

import httpx
import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import Database
from contactflow.platform.webhooks.models import WebhookEndpoint
from contactflow.platform.webhooks.signing import new_secret
from tests.receiver import Receiver, wait_for
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, invoke_cli
from tests.webhooks.helpers import (
    Json,
    Verifier,
    add_endpoint,
    arrivals_at,
    attempts,
    create_contact,
    deliveries,
    json_of,
    log_events,
    poll,
    public_key,
    update_contact,
    webhook_ids,
)

DELAYS = (0.05, 0.1, 0.2, 0.4)  # server_settings' compressed schedule
JITTER = 0.2
DELIVERED_EXTRAS = ("webhookId", "timestamp", "versionId")


async def only_delivery(client: httpx.AsyncClient, endpoint_id: str, state: str) -> Json:
    rows = await poll(
        lambda: deliveries(client, endpoint_id),
        lambda rows: len(rows) == 1 and rows[0]["state"] == state,
    )
    return rows[0]


async def test_every_delivery_verifies_with_standard_webhooks_and_the_highlevel_sdk(
    client: httpx.AsyncClient, tenant: Tenant, hook: Receiver
) -> None:
    endpoint, secret = await add_endpoint(client, hook.url())
    verifier = Verifier([secret], await public_key(client))
    contact = await create_contact(client, firstName="Ann", email="ann@example.com")
    contact_id = contact["id"]
    await update_contact(client, contact_id, lastName="Lee", tags=["vip"], dnd=True)
    note = await client.post(f"/contacts/{contact_id}/notes", json={"body": "called"})
    assert note.status_code == 201, note.text
    task = await client.post(
        f"/contacts/{contact_id}/tasks",
        json={"title": "Call", "dueDate": "2030-01-01T10:00:00Z", "completed": False},
    )
    assert task.status_code == 201, task.text
    deleted = await client.delete(f"/contacts/{contact_id}")
    assert deleted.status_code == 200, deleted.text
    test = await client.post(f"/webhooks/{endpoint['id']}/test")
    assert test.status_code == 202, test.text

    logged = await log_events(client)
    types = [event["type"] for event in logged]
    assert types[:4] == ["ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactDndUpdate"]
    assert {"NoteCreate", "TaskCreate", "TaskDelete", "NoteDelete", "ContactDelete"} <= set(types)
    assert types[-1] == "WebhookTest"
    await wait_for(lambda: len(hook.arrivals) >= len(logged))

    by_id = {event["id"]: event for event in logged}
    now = time.time()
    assert sorted(webhook_ids(hook.arrivals)) == sorted(by_id)
    for arrival in hook.arrivals:
        payload = verifier.verify(arrival)
        event = by_id[payload["webhookId"]]
        assert payload["type"] == event["type"]
        assert {key: payload[key] for key in payload if key not in DELIVERED_EXTRAS} == event[
            "payload"
        ]
        assert payload["versionId"] == "1"
        assert payload["timestamp"] == event["createdAt"]
        assert abs(int(arrival.headers["webhook-timestamp"]) - now) < 60
        assert arrival.headers["content-type"] == "application/json"
        # Ed25519 only: HighLevel's older RSA signature is not sent.
        assert "x-wh-signature" not in arrival.headers
        assert payload["locationId"] == tenant.location_id
    contact_events = [json.loads(a.body) for a in hook.arrivals if json.loads(a.body).get("id")]
    assert any(p["type"] == "ContactCreate" and p["id"] == contact_id for p in contact_events)


async def test_the_public_key_is_served_without_a_token(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url
    ) as anonymous:
        served = await anonymous.get("/webhooks/public-key")
    assert served.status_code == 200, served.text
    body = json_of(served)
    assert set(body) == {"algorithm", "header", "publicKey"}
    assert (body["algorithm"], body["header"]) == ("Ed25519", "x-ghl-signature")
    assert body["publicKey"].startswith("-----BEGIN PUBLIC KEY-----\n")
    assert body["publicKey"] == await public_key(client)


async def test_a_tampered_delivery_fails_both_verifications(
    client: httpx.AsyncClient, hook: Receiver
) -> None:
    _, secret = await add_endpoint(client, hook.url())
    key = await public_key(client)
    await create_contact(client, firstName="Tam")
    await wait_for(lambda: len(hook.arrivals) == 1)
    arrival = hook.arrivals[0]
    tampered = arrival.body.replace(b'"Tam"', b'"Tom"')
    assert tampered != arrival.body
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, arrival.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(arrival.body, arrival.headers)
    sdk = Verifier([secret], key).sdk
    assert not sdk.verify_ed25519_signature(
        tampered.decode(), arrival.headers["x-ghl-signature"], key
    )


def assert_gaps_follow_schedule(times: list[float], retry_after: float | None = None) -> None:
    for number, (earlier, later) in enumerate(itertools.pairwise(times)):
        gap = later - earlier
        planned = DELAYS[number]
        floor = max(planned * (1 - JITTER), retry_after or 0) - 0.01
        assert floor <= gap <= planned + (retry_after or 0) + 5, (number, gap)


async def test_503s_are_retried_on_the_schedule_and_every_attempt_is_logged(
    client: httpx.AsyncClient, hook: Receiver
) -> None:
    hook.fail_next(503, 503, 503)
    endpoint, _ = await add_endpoint(client, hook.url())
    await create_contact(client, firstName="Retry")
    await wait_for(lambda: len(hook.arrivals) == 4)
    assert [a.status for a in hook.arrivals] == [503, 503, 503, 200]
    assert len(set(webhook_ids(hook.arrivals))) == 1
    assert_gaps_follow_schedule([a.at for a in hook.arrivals])

    delivery = await only_delivery(client, endpoint["id"], "succeeded")
    assert delivery["attempts"] == 4
    assert delivery["lastStatus"] == 200
    assert delivery["nextAttemptAt"] is None
    assert delivery["deliveredAt"] is not None
    assert delivery["eventId"] == hook.arrivals[0].headers["webhook-id"]
    logged = await attempts(client, endpoint["id"], delivery["id"])
    assert [a["statusCode"] for a in logged] == [503, 503, 503, 200]
    assert [a["responseBody"] for a in logged] == ["nope", "nope", "nope", "ok"]
    assert all(a["latencyMs"] > 0 and a["error"] is None for a in logged)
    assert all(a["responseHeaders"]["content-length"] for a in logged)
    assert [a["attemptedAt"] for a in logged] == sorted(a["attemptedAt"] for a in logged)
    current = json_of(await client.get(f"/webhooks/{endpoint['id']}"))["endpoint"]
    assert current["failingSince"] is None
    assert current["enabled"] is True


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_429_waits_for_retry_after(
    client: httpx.AsyncClient, hook: Receiver, form: str
) -> None:
    not_before = time.time() + 3
    hook.retry_after = "1" if form == "seconds" else formatdate(not_before, usegmt=True)
    hook.fail_next(429)
    endpoint, _ = await add_endpoint(client, hook.url())
    await create_contact(client, firstName="Slow")
    await wait_for(lambda: len(hook.arrivals) == 2, within=15)
    assert [a.status for a in hook.arrivals] == [429, 200]
    if form == "seconds":
        assert_gaps_follow_schedule([a.at for a in hook.arrivals], retry_after=1.0)
    else:
        # Not before the date (whole seconds, so up to a second earlier than `not_before`).
        assert hook.arrivals[1].at >= int(not_before) - 0.01
    delivery = await only_delivery(client, endpoint["id"], "succeeded")
    logged = await attempts(client, endpoint["id"], delivery["id"])
    assert [a["statusCode"] for a in logged] == [429, 200]
    assert logged[0]["responseHeaders"]["retry-after"] == hook.retry_after


async def test_exhausted_deliveries_fail_then_resend_and_recover_bring_them_back(
    client: httpx.AsyncClient, hook: Receiver
) -> None:
    attempts_in_schedule = len(DELAYS) + 1
    hook.fail_next(*[503] * attempts_in_schedule)
    endpoint, _ = await add_endpoint(client, hook.url())
    endpoint_id = endpoint["id"]
    await create_contact(client, firstName="Dead")
    failed = await only_delivery(client, endpoint_id, "failed")
    assert failed["attempts"] == attempts_in_schedule
    assert failed["lastStatus"] == 503
    assert failed["nextAttemptAt"] is None
    assert [a.status for a in hook.arrivals] == [503] * attempts_in_schedule
    assert_gaps_follow_schedule([a.at for a in hook.arrivals])
    logged = await attempts(client, endpoint_id, failed["id"])
    assert [a["statusCode"] for a in logged] == [503] * attempts_in_schedule
    current = json_of(await client.get(f"/webhooks/{endpoint_id}"))["endpoint"]
    assert current["failingSince"] is not None
    assert current["enabled"] is True
    listed = await deliveries(client, endpoint_id, state="failed")
    assert [row["id"] for row in listed] == [failed["id"]]

    resent = await client.post(f"/webhooks/{endpoint_id}/deliveries/{failed['id']}/resend")
    assert resent.status_code == 202, resent.text
    assert json_of(resent)["delivery"]["state"] in ("pending", "succeeded")
    delivered = await only_delivery(client, endpoint_id, "succeeded")
    assert delivered["attempts"] == attempts_in_schedule + 1
    assert hook.arrivals[-1].status == 200
    assert len(set(webhook_ids(hook.arrivals))) == 1

    # Two more contacts fail their whole schedule; "recover since T" requeues both.
    since = datetime.now(UTC) - timedelta(seconds=1)
    hook.fail_next(*[503] * (2 * attempts_in_schedule))
    await create_contact(client, firstName="Dead2")
    await create_contact(client, firstName="Dead3")
    await poll(lambda: deliveries(client, endpoint_id, state="failed"), lambda rows: len(rows) == 2)
    later = datetime.now(UTC) + timedelta(minutes=1)
    none = await client.post(f"/webhooks/{endpoint_id}/recover", json={"since": later.isoformat()})
    assert none.status_code == 200, none.text
    assert json_of(none) == {"requeued": 0}
    recovered = await client.post(
        f"/webhooks/{endpoint_id}/recover", json={"since": since.isoformat()}
    )
    assert recovered.status_code == 200, recovered.text
    assert json_of(recovered) == {"requeued": 2}
    rows = await poll(
        lambda: deliveries(client, endpoint_id),
        lambda rows: [row["state"] for row in rows] == ["succeeded"] * 3,
    )
    assert sorted(row["attempts"] for row in rows) == [6, 6, 6]
    assert len(set(webhook_ids(hook.arrivals))) == 3
    current = json_of(await client.get(f"/webhooks/{endpoint_id}"))["endpoint"]
    assert current["failingSince"] is None


async def test_410_gone_disables_the_endpoint_at_once(
    client: httpx.AsyncClient, receivers: Callable[[], Receiver]
) -> None:
    gone, watcher = receivers(), receivers()
    gone.fail_next(410)
    endpoint, _ = await add_endpoint(client, gone.url())
    endpoint_id = endpoint["id"]
    other, _ = await add_endpoint(client, watcher.url())
    first = await create_contact(client, firstName="Gone")

    failed = await only_delivery(client, endpoint_id, "failed")
    assert failed["attempts"] == 1
    assert failed["lastStatus"] == 410
    current = json_of(await client.get(f"/webhooks/{endpoint_id}"))["endpoint"]
    assert current["enabled"] is False
    assert "410" in current["disabledReason"]
    disabled = await log_events(client, types="WebhookEndpointDisabled")
    assert len(disabled) == 1
    payload = disabled[0]["payload"]
    assert payload["endpointId"] == endpoint_id
    assert payload["url"] == gone.url()
    assert "410" in payload["reason"]
    assert disabled[0]["subjectId"] == endpoint_id

    # Later events reach the healthy endpoint (the disabling event included), never this one.
    second = await create_contact(client, firstName="After")
    await wait_for(lambda: len(watcher.arrivals) == 3)
    seen = sorted((p["type"], p.get("id")) for p in map(json.loads, watcher.bodies()))
    assert seen == sorted(
        [
            ("ContactCreate", first["id"]),
            ("ContactCreate", second["id"]),
            ("WebhookEndpointDisabled", None),
        ]
    )
    assert len(gone.arrivals) == 1
    assert await deliveries(client, endpoint_id) == [failed]
    assert len(await deliveries(client, other["id"])) == 3

    # Re-enabled, "recover since T" sends what it missed while failing.
    enabled = await client.put(f"/webhooks/{endpoint_id}", json={"enabled": True})
    assert enabled.status_code == 200, enabled.text
    assert json_of(enabled)["endpoint"]["disabledReason"] is None
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    recovered = await client.post(f"/webhooks/{endpoint_id}/recover", json={"since": since})
    assert json_of(recovered) == {"requeued": 1}
    await wait_for(lambda: len(gone.arrivals) == 2)
    assert gone.arrivals[-1].status == 200
    assert json.loads(gone.arrivals[-1].body)["id"] == first["id"]


async def test_one_contacts_events_arrive_in_sequence_while_an_early_one_is_retried(
    client: httpx.AsyncClient, hook: Receiver
) -> None:
    # The first event is accepted, the second fails four times (one a 429 asking for a
    # second's pause): the rest must wait for it.
    hook.retry_after = "1"
    hook.fail_next(200, 503, 429, 503, 503)
    endpoint, _ = await add_endpoint(client, hook.url())
    contact = await create_contact(client, firstName="Order")
    for number in range(5):
        await update_contact(client, contact["id"], lastName=f"V{number}")
    # The failures also log the endpoint's issue, which the endpoint does not pick.
    logged = await log_events(client, types="ContactCreate,ContactUpdate")
    assert [event["type"] for event in logged] == ["ContactCreate"] + ["ContactUpdate"] * 5
    expected = [event["id"] for event in logged]
    await wait_for(lambda: sum(a.status == 200 for a in hook.arrivals) == len(expected))

    accepted = [a for a in hook.arrivals if a.status == 200]
    assert webhook_ids(accepted) == expected
    assert [a.status for a in hook.arrivals] == [200, 503, 429, 503, 503, 200, 200, 200, 200, 200]
    assert webhook_ids(hook.arrivals)[1:6] == [expected[1]] * 5
    assert [json.loads(a.body)["lastName"] for a in accepted[1:]] == [f"V{n}" for n in range(5)]
    # The next update existed while the second event was still being retried.
    third_written = datetime.fromisoformat(logged[2]["createdAt"]).timestamp()
    assert third_written < accepted[1].at
    rows = await poll(
        lambda: deliveries(client, endpoint["id"]),
        lambda rows: [row["state"] for row in rows] == ["succeeded"] * len(expected),
    )
    assert sorted(row["attempts"] for row in rows) == [1, 1, 1, 1, 1, 5]


async def test_an_unordered_endpoint_does_not_hold_later_events_back(
    client: httpx.AsyncClient, hook: Receiver
) -> None:
    # The create is told to come back in an hour: the updates must not wait for it.
    hook.retry_after = "3600"
    hook.fail_next(429)
    endpoint, _ = await add_endpoint(client, hook.url(), ordered=False)
    assert endpoint["ordered"] is False
    contact = await create_contact(client, firstName="Fast")
    await wait_for(lambda: len(hook.arrivals) == 1)
    for number in range(3):
        await update_contact(client, contact["id"], lastName=f"U{number}")
    await wait_for(lambda: len(hook.arrivals) == 4, within=60)
    bodies = [json.loads(a.body) for a in hook.arrivals]
    assert [(b["type"], a.status) for b, a in zip(bodies, hook.arrivals, strict=True)] == [
        ("ContactCreate", 429),
        ("ContactUpdate", 200),
        ("ContactUpdate", 200),
        ("ContactUpdate", 200),
    ]
    rows = await deliveries(client, endpoint["id"])
    (create,) = [row for row in rows if row["eventType"] == "ContactCreate"]
    assert (create["state"], create["attempts"], create["lastStatus"]) == ("pending", 1, 429)
    assert create["nextAttemptAt"] is not None


async def test_after_rotation_both_secrets_verify_during_the_overlap(
    client: httpx.AsyncClient, hook: Receiver
) -> None:
    endpoint, old = await add_endpoint(client, hook.url())
    key = await public_key(client)
    await create_contact(client, firstName="Before")
    await wait_for(lambda: len(hook.arrivals) == 1)
    before = hook.arrivals[0]
    assert len(before.headers["webhook-signature"].split(" ")) == 1
    Verifier([old], key).verify(before)

    rotated = await client.post(f"/webhooks/{endpoint['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    body = json_of(rotated)
    new = body["secret"]
    assert new.startswith("whsec_")
    assert new != old
    overlap_ends = datetime.fromisoformat(body["previousSecretExpiresAt"])
    assert timedelta(hours=23) < overlap_ends - datetime.now(UTC) <= timedelta(hours=24)

    await create_contact(client, firstName="After")
    await wait_for(lambda: len(hook.arrivals) == 2)
    after = hook.arrivals[1]
    signatures = after.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(signature.startswith("v1,") for signature in signatures)
    payload = Verifier([new, old], key).verify(after)
    assert payload["firstName"] == "After"
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(before.body, before.headers)


async def test_redirects_are_not_followed(client: httpx.AsyncClient, hook: Receiver) -> None:
    hook.redirect_to = hook.url("/elsewhere")
    hook.fail_next(302)
    endpoint, _ = await add_endpoint(client, hook.url())
    await create_contact(client, firstName="Moved")
    failed = await only_delivery(client, endpoint["id"], "failed")
    assert failed["lastStatus"] == 302
    assert failed["attempts"] == 1
    logged = await attempts(client, endpoint["id"], failed["id"])
    assert [a["statusCode"] for a in logged] == [302]
    assert logged[0]["responseHeaders"]["location"] == hook.url("/elsewhere")
    assert [a.path for a in hook.arrivals] == ["/hook"]
    assert arrivals_at(hook.arrivals, "/elsewhere") == []


async def test_only_subscribed_event_types_are_delivered(
    client: httpx.AsyncClient, receivers: Callable[[], Receiver]
) -> None:
    tags_only, everything = receivers(), receivers()
    await add_endpoint(client, tags_only.url(), eventTypes=["ContactTagUpdate"])
    await add_endpoint(client, everything.url())
    contact = await create_contact(client, firstName="Tagged")
    await update_contact(client, contact["id"], tags=["a"])
    await update_contact(client, contact["id"], firstName="Renamed")
    await wait_for(lambda: len(everything.arrivals) == 4 and len(tags_only.arrivals) == 1)
    assert [json.loads(a.body)["type"] for a in everything.arrivals] == [
        "ContactCreate",
        "ContactUpdate",
        "ContactTagUpdate",
        "ContactUpdate",
    ]
    assert [json.loads(a.body)["type"] for a in tags_only.arrivals] == ["ContactTagUpdate"]
    assert json.loads(tags_only.arrivals[0].body)["tagsAdded"] == ["a"]


async def test_an_endpoint_failing_for_longer_than_the_threshold_is_disabled(
    client: httpx.AsyncClient,
    tenant: Tenant,
    server: LiveServer,
    db: Database,
    database_url: str,
    receivers: Callable[[], Receiver],
) -> None:
    down, young, watcher = receivers(), receivers(), receivers()
    down.fail_next(503)
    young.fail_next(503)
    endpoint, _ = await add_endpoint(client, down.url())
    endpoint_id = endpoint["id"]
    recent, _ = await add_endpoint(client, young.url())
    healthy, _ = await add_endpoint(client, watcher.url())
    # Earlier failures, as the delivery loop records them: the first failure's time.
    threshold = timedelta(hours=server.settings.webhook_disable_after_hours)
    long_ago = utcnow() - threshold - timedelta(minutes=1)
    not_so_long = utcnow() - threshold + timedelta(hours=1)
    async with db.unit_of_work() as uow:
        for endpoint_row, since in ((endpoint_id, long_ago), (recent["id"], not_so_long)):
            await uow.session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_row)
                .values(failing_since=since)
            )
    contact = await create_contact(client, firstName="Down")

    # One more failure disables it; the retry already planned is refused without a request.
    failed = await only_delivery(client, endpoint_id, "failed")
    assert failed["attempts"] == 2
    assert failed["lastStatus"] is None
    assert failed["lastError"] == "refused: endpoint is disabled"
    assert [a.status for a in down.arrivals] == [503]
    logged = await attempts(client, endpoint_id, failed["id"])
    assert [(a["statusCode"], a["error"]) for a in logged] == [
        (503, None),
        (None, "refused: endpoint is disabled"),
    ]
    current = json_of(await client.get(f"/webhooks/{endpoint_id}"))["endpoint"]
    assert current["enabled"] is False
    reason = "failing continuously for 120 hours"
    assert current["disabledReason"] == reason
    assert current["failingSince"] == to_iso(long_ago)

    # The notice: an event in the log, delivered to the location's other endpoints.
    [disabled] = await log_events(client, types="WebhookEndpointDisabled")
    assert disabled["subjectId"] == endpoint_id
    assert disabled["payload"] == {
        "type": "WebhookEndpointDisabled",
        "locationId": tenant.location_id,
        "endpointId": endpoint_id,
        "url": down.url(),
        "reason": reason,
    }
    await wait_for(lambda: len(watcher.arrivals) == 2)
    noticed = {json.loads(body)["type"]: json.loads(body) for body in watcher.bodies()}
    assert set(noticed) == {"ContactCreate", "WebhookEndpointDisabled"}
    assert noticed["WebhookEndpointDisabled"]["webhookId"] == disabled["id"]
    assert noticed["ContactCreate"]["id"] == contact["id"]

    # Failing for less than the threshold: one more failure leaves the endpoint enabled, and
    # the success after it stops the clock.
    rows = await poll(
        lambda: deliveries(client, recent["id"]),
        lambda rows: len(rows) == 2 and {row["state"] for row in rows} == {"succeeded"},
    )
    assert sorted(row["attempts"] for row in rows) == [1, 2]
    assert [a.status for a in young.arrivals] == [503, 200, 200]
    still = json_of(await client.get(f"/webhooks/{recent['id']}"))["endpoint"]
    assert (still["enabled"], still["disabledReason"], still["failingSince"]) == (True, None, None)
    assert [row["state"] for row in await deliveries(client, healthy["id"])] == ["succeeded"] * 2

    # The operator's listing says why; re-enabling starts the failure clock afresh.
    listed = await invoke_cli(database_url, "webhooks", "list", "--location", tenant.location_id)
    assert listed.exit_code == 0, listed.output
    [line] = [line for line in listed.stdout.splitlines() if endpoint_id in line]
    assert " no " in line
    assert reason in line
    assert current["failingSince"] in line
    enabled = await client.put(f"/webhooks/{endpoint_id}", json={"enabled": True})
    assert enabled.status_code == 200, enabled.text
    assert json_of(enabled)["endpoint"]["failingSince"] is None
    assert json_of(enabled)["endpoint"]["disabledReason"] is None
