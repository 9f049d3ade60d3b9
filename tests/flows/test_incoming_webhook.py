"""The incoming webhook trigger over the live server: publishing gives the flow a hook URL;
a JSON POST to it starts a run whose trigger data is the body, headers and query; a wrong
token is a 404, a missing or wrong signature a 401, a body that is not JSON a 422, and a
refused call runs nothing."""

import hashlib
import hmac
import json
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from contactflow.flows.definition import HIDDEN
from tests.flows.helpers import Hub, Json, hook_flow
from tests.mailsuite.helpers import error_lines
from tests.support import invoke_cli

SECRET = "a-shared-secret-of-some-length"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def _post(hub: Hub, path: str, body: bytes, **headers: str) -> tuple[int, Json]:
    # Without the tenant's credentials: the hook URL is public.
    response = await hub.http.post(
        path,
        content=body,
        params={"shop": "north"},
        headers={"Authorization": "", "Content-Type": "application/json", **headers},
    )
    return response.status_code, response.json() if response.content else {}


async def test_a_post_to_the_hook_url_runs_the_flow_on_its_body(hub: Hub) -> None:
    flow = await hub.flow(hook_flow())
    path = flow["hookPath"]
    assert path.startswith(f"/hooks/flows/{flow['id']}/")
    assert len(path.rsplit("/", 1)[1]) >= 24

    body = {"order": 1042, "lines": [{"sku": "A", "qty": 2}]}
    status, answer = await _post(hub, path, json.dumps(body).encode(), **{"X-Shop": "north"})
    assert status == 202, answer
    (run,) = await hub.finished_runs(flow["id"])
    assert run["id"] == answer["runId"]
    assert run["state"] == "succeeded", run
    trigger = run["input"]
    assert trigger["body"] == body
    assert trigger["query"] == {"shop": "north"}
    assert trigger["headers"]["x-shop"] == "north"
    assert "authorization" not in trigger["headers"]
    assert [task["title"] for task in await hub.mail_tasks()] == ["Order 1042 from north"]

    wrong_token = path.rsplit("/", 1)[0] + "/not-the-token"
    assert (await _post(hub, wrong_token, b"{}"))[0] == 404
    assert (await _post(hub, f"/hooks/flows/no-such-flow/{path.rsplit('/', 1)[1]}", b"{}"))[
        0
    ] == 404
    response = await hub.http.post(path, content=b"order=1", headers={"Authorization": ""})
    assert error_lines(response, 422) == ["body: not JSON"]
    assert len(await hub.runs(flow["id"])) == 1

    await hub.post(f"/flows/{flow['id']}/disable", status=200)
    status, answer = await _post(hub, path, b'{"order": 5}')
    assert (status, answer["message"]) == (409, "The flow is disabled; enable it to receive calls")
    await hub.post(f"/flows/{flow['id']}/enable", status=200)
    assert len(await hub.runs(flow["id"])) == 1

    # A new token: the old URL stops working, the new one runs.
    renewed = (await hub.post(f"/flows/{flow['id']}/hook-token", status=200))["flow"]
    assert renewed["hookPath"] != path
    assert (await _post(hub, path, b"{}"))[0] == 404
    assert (await _post(hub, renewed["hookPath"], b'{"order": 7}'))[0] == 202
    await hub.finished_runs(flow["id"], count=2)


async def test_a_flow_with_a_secret_requires_an_hmac_signature(hub: Hub) -> None:
    flow = await hub.flow(hook_flow(secret=SECRET))
    path = flow["hookPath"]
    body = b'{"order": 1}'
    good = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    bad = hmac.new(b"another secret entirely", body, hashlib.sha256).hexdigest()

    assert (await _post(hub, path, body))[0] == 401
    status, answer = await _post(hub, path, body, **{"X-Signature-256": f"sha256={bad}"})
    assert status == 401
    assert "signature" in answer["message"]
    # A signature of another body does not pass either.
    assert (await _post(hub, path, b'{"order": 2}', **{"X-Signature-256": good}))[0] == 401
    assert await hub.runs(flow["id"]) == []

    status, answer = await _post(hub, path, body, **{"X-Signature-256": f"sha256={good}"})
    assert status == 202, answer
    (run,) = await hub.finished_runs(flow["id"])
    assert run["id"] == answer["runId"]
    assert run["input"]["body"] == {"order": 1}


async def test_a_flow_can_require_standard_webhooks_signatures(hub: Hub) -> None:
    flow = await hub.flow(hook_flow(secret=WHSEC, signature="standard-webhooks"))
    path = flow["hookPath"]
    body = '{"order": 3}'
    signer = Webhook(WHSEC)
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signer.sign("msg_1", now, body),
    }
    tampered = {**headers, "webhook-id": "msg_2"}
    assert (await _post(hub, path, body.encode(), **tampered))[0] == 401
    assert (await _post(hub, path, body.encode()))[0] == 401
    status, answer = await _post(hub, path, body.encode(), **headers)
    assert status == 202, answer
    (run,) = await hub.finished_runs(flow["id"])
    assert run["input"]["body"] == {"order": 3}


async def test_hook_options_are_checked_at_publish(hub: Hub) -> None:
    for options, expected in (
        ({"secret": "short"}, "trigger.options.secret: a text of 16 characters or more"),
        (
            {"secret": "not base64 at all!!", "signature": "standard-webhooks"},
            "trigger.options.secret: a Standard Webhooks secret (whsec_ and base64)",
        ),
        ({"signature": "md5"}, "trigger.options.signature: one of hmac-sha256, standard-webhooks"),
    ):
        created = await hub.post("/flows", {"name": "Hook", "definition": hook_flow(**options)})
        response = await hub.http.post(f"/flows/{created['flow']['id']}/publish")
        assert error_lines(response, 422) == [expected]
        assert created["flow"]["hookPath"] is None


async def test_the_secret_is_write_only_and_kept_when_saved_back_hidden(
    hub: Hub, flows_database_url: str
) -> None:
    flow = await hub.flow(hook_flow(secret=SECRET))
    shown = (await hub.get(f"/flows/{flow['id']}"))["flow"]
    definition = shown["published"]["definition"]
    assert definition["trigger"]["options"]["secret"] == HIDDEN
    assert SECRET not in json.dumps(shown)
    exported = await invoke_cli(
        flows_database_url, "flows", "export", flow["id"], "--location", hub.tenant.location_id
    )
    assert exported.exit_code == 0, exported.output
    assert HIDDEN in exported.output
    assert SECRET not in exported.output

    # Saved back as it was read (with another task title), the flow keeps its secret.
    definition["steps"][0]["input"]["title"] = "Order {{ trigger.body.order }}"
    await hub.call("PUT", f"/flows/{flow['id']}", 200, json={"definition": definition})
    await hub.post(f"/flows/{flow['id']}/publish", status=200)
    body = b'{"order": 7}'
    good = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert (await _post(hub, flow["hookPath"], body))[0] == 401
    status, answer = await _post(hub, flow["hookPath"], body, **{"X-Signature-256": good})
    assert status == 202, answer

    # A new flow given the hidden value has no secret to keep: it does not publish.
    copied = (await hub.post("/flows", {"name": "Copy", "definition": definition}))["flow"]
    refused = await hub.http.post(f"/flows/{copied['id']}/publish")
    assert error_lines(refused, 422) == ["trigger.options.secret: a text of 16 characters or more"]


async def test_a_retried_delivery_starts_one_run(hub: Hub) -> None:
    flow = await hub.flow(hook_flow(secret=WHSEC, signature="standard-webhooks"))
    path = flow["hookPath"]
    body = '{"order": 5}'
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_retried",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(WHSEC).sign("msg_retried", now, body),
    }
    status, first = await _post(hub, path, body.encode(), **headers)
    assert (status, first["duplicate"]) == (202, False), first
    status, again = await _post(hub, path, body.encode(), **headers)
    assert (status, again) == (202, {"runId": None, "duplicate": True})
    (run,) = await hub.finished_runs(flow["id"])
    assert run["id"] == first["runId"]

    # Without a signature, an Idempotency-Key names the delivery; calls without one all run.
    plain = await hub.flow(hook_flow(), name="Plain")
    keyed = {"Idempotency-Key": "order-6"}
    assert (await _post(hub, plain["hookPath"], b'{"order": 6}', **keyed))[1]["runId"]
    assert (await _post(hub, plain["hookPath"], b'{"order": 6}', **keyed))[1]["duplicate"]
    for _ in range(2):
        assert (await _post(hub, plain["hookPath"], b'{"order": 7}'))[1]["runId"]
    assert len(await hub.finished_runs(plain["id"], count=3)) == 3
