"""HTTP request and send-webhook steps inside real flows on the live server, against a real
receiver on loopback (the test server allows 127.0.0.1/32 and nothing else private)."""

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.flows.helpers import Hub, Json
from tests.receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def _flow(*steps: Json) -> Json:
    return {"trigger": {"key": "contacts.contact.created"}, "steps": list(steps)}


def _request(step_id: str = "call", on_error: Json | None = None, **values: Any) -> Json:
    step = {"type": "action", "id": step_id, "action": "core.http.request", "input": values}
    return {**step, "onError": on_error} if on_error else step


async def _only_run(hub: Hub, flow: Json) -> Json:
    (run,) = await hub.finished_runs(flow["id"])
    return await hub.run(run["id"])


async def test_a_request_carries_its_auth_query_and_json_body(hub: Hub, receiver: Receiver) -> None:
    flow = await hub.flow(
        _flow(
            _request(
                method="POST",
                url=receiver.url("/api/contacts"),
                query={"source": "flows"},
                headers={"X-Trace": "{{ trigger.id }}"},
                json={"email": "{{ trigger.email }}", "vip": True},
                auth={"type": "bearer", "token": "s3cret"},
            ),
            _request(
                "basic",
                method="POST",
                url=receiver.url("/api/basic"),
                body="plain {{ steps.call.status }}",
                auth={"type": "basic", "username": "ada", "password": "pw"},
            ),
        )
    )
    crm = await hub.crm_contact(name="Ada", email="ada@example.com")

    detail = await _only_run(hub, flow)
    assert detail["run"]["state"] == "succeeded", detail
    call, basic = detail["steps"]
    assert basic["state"] == "succeeded"
    assert call["output"]["status"] == 200
    assert call["output"]["body"] == "ok"
    assert call["output"]["truncated"] is False
    first, second = receiver.arrivals
    assert first.path == "/api/contacts"
    assert first.headers["authorization"] == "Bearer s3cret"
    assert first.headers["x-trace"] == crm["id"]
    assert first.headers["content-type"] == "application/json"
    assert json.loads(first.body) == {"email": "ada@example.com", "vip": True}
    assert second.path == "/api/basic"
    assert second.headers["authorization"] == "Basic " + base64.b64encode(b"ada:pw").decode()
    assert second.body == b"plain 200"


async def test_an_error_status_fails_the_step_and_its_policy_retries_it(
    hub: Hub, receiver: Receiver
) -> None:
    receiver.fail_next(503)
    flow = await hub.flow(
        _flow(
            _request(
                method="POST",
                url=receiver.url(),
                on_error={"retries": 2, "backoffSeconds": 0.05},
            )
        )
    )
    await hub.crm_contact(name="Ada", email="ada@example.com")

    detail = await _only_run(hub, flow)
    assert detail["run"]["state"] == "succeeded", detail
    (step,) = detail["steps"]
    assert step["attempts"] == 2
    assert [arrival.status for arrival in receiver.arrivals] == [503, 200]


async def test_with_fail_on_error_off_the_status_is_the_output(
    hub: Hub, receiver: Receiver
) -> None:
    receiver.fail_next(404)
    flow = await hub.flow(_flow(_request(method="POST", url=receiver.url(), failOnError=False)))
    await hub.crm_contact(name="Ada", email="ada@example.com")

    detail = await _only_run(hub, flow)
    assert detail["run"]["state"] == "succeeded", detail
    (step,) = detail["steps"]
    assert step["output"]["status"] == 404
    assert step["output"]["body"] == "nope"


async def test_an_address_the_policy_refuses_is_never_called(hub: Hub, receiver: Receiver) -> None:
    # 127.0.0.2 is loopback too, but only 127.0.0.1/32 is allowed.
    port = receiver.base_url.rsplit(":", 1)[1]
    flow = await hub.flow(_flow(_request(method="POST", url=f"http://127.0.0.2:{port}/hook")))
    await hub.crm_contact(name="Ada", email="ada@example.com")

    detail = await _only_run(hub, flow)
    assert detail["run"]["state"] == "failed"
    (step,) = detail["steps"]
    assert step["error"].startswith("url: refused: 127.0.0.2 resolves to a non-public"), step
    assert receiver.arrivals == []


async def test_a_sent_webhook_verifies_with_its_secret(hub: Hub, receiver: Receiver) -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789").decode()
    step = {
        "type": "action",
        "id": "hook",
        "action": "core.webhook.send",
        "input": {
            "url": receiver.url("/incoming"),
            "payload": {"contact": "{{ trigger.id }}", "email": "{{ trigger.email }}"},
            "secret": secret,
        },
    }
    flow = await hub.flow(_flow(step))
    crm = await hub.crm_contact(name="Ada", email="ada@example.com")

    detail = await _only_run(hub, flow)
    assert detail["run"]["state"] == "succeeded", detail
    (arrival,) = receiver.arrivals
    verified = Webhook(secret).verify(arrival.body, arrival.headers)
    assert verified == {"contact": crm["id"], "email": "ada@example.com"}
    assert arrival.headers["webhook-id"] == detail["steps"][0]["output"]["messageId"]
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + base64.b64encode(b"another secret key!").decode()).verify(
            arrival.body, arrival.headers
        )


async def test_a_request_through_a_connection_goes_under_its_base_url_with_its_auth(
    hub: Hub, receiver: Receiver
) -> None:
    created = await hub.post(
        "/connections",
        {
            "name": "Billing API",
            "kind": "http",
            "auth": "header",
            "baseUrl": receiver.url("/billing/v1"),
            "headerName": "X-Api-Key",
            "headerValue": "billing-key",
        },
    )
    connection_id = created["connection"]["id"]
    builtin = (await hub.get("/connections"))["connections"][0]["id"]
    through = {"method": "POST", "connectionId": connection_id}
    flow = await hub.flow(
        _flow(
            _request(url="/invoices", json={"contact": "{{ trigger.id }}"}, **through),
            _request("full", url=receiver.url("/billing/v1/credits"), **through),
            _request("elsewhere", on_error={"then": "continue"}, url=receiver.url(), **through),
            _request(
                "both",
                on_error={"then": "continue"},
                url="/x",
                auth={"type": "bearer", "token": "t"},
                **through,
            ),
            _request(
                "local", on_error={"then": "continue"}, url="/contacts/", connectionId=builtin
            ),
        )
    )
    crm = await hub.crm_contact(name="Ada", email="ada@example.com")

    detail = await _only_run(hub, flow)
    steps = {step["stepId"]: step for step in detail["steps"]}
    assert steps["call"]["state"] == steps["full"]["state"] == "succeeded", detail
    invoices, credits = receiver.arrivals
    assert (invoices.path, credits.path) == ("/billing/v1/invoices", "/billing/v1/credits")
    assert invoices.headers["x-api-key"] == credits.headers["x-api-key"] == "billing-key"
    assert json.loads(invoices.body) == {"contact": crm["id"]}
    # The connection's key goes nowhere but under its base URL.
    assert steps["elsewhere"]["error"] == (
        f"url: must be a path, or a URL under the connection's {receiver.url('/billing/v1')}"
    )
    assert steps["both"]["error"] == "auth: give auth or connectionId, not both"
    assert steps["local"]["error"] == (
        f"Connection {builtin} is this workspace: it is not called over HTTP"
    )
