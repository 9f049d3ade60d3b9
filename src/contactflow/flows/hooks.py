"""Incoming webhooks (`core.webhook`): each flow with that trigger has a hook URL,
`/hooks/flows/{flowId}/{token}`, whose random token is the authority to call it; with a
`secret` option the body must also be signed. A call becomes a run whose trigger data is the
JSON body, the headers and the query; a refused call stores nothing, and a call repeating a
delivery id already received within a day (a sender's retry) starts no second run."""

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contactflow.flows import keyvalue
from contactflow.flows.catalog import find
from contactflow.flows.conditions import holds
from contactflow.flows.models import Flow, FlowRun, find_flow, new_hook_token, queued_run
from contactflow.flows.run_state import definition_of
from contactflow.flows.service import published_of
from contactflow.platform import topics
from contactflow.platform.clock import to_iso
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Conflict, NotFound, Unauthorized, invalid

HOOK_NOT_FOUND = "Hook not found"
SIGNATURE_HEADER = "x-signature-256"
# Credentials of the caller never land in a run's record.
UNRECORDED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# Headers naming a delivery, which a sender keeps when it retries: Standard Webhooks' id, and
# the usual idempotency key; a repeat within the window is answered without a second run.
DELIVERY_ID_HEADERS = ("webhook-id", "idempotency-key")
REPEAT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Received:
    """What a call to a hook URL started: a run, or none (the flow's conditions do not hold,
    or the call repeats a delivery already received)."""

    run: FlowRun | None
    duplicate: bool = False


async def regenerate_token(uow: UnitOfWork, location_id: str, flow_id: str) -> Flow:
    """A new hook token: the old URL answers 404 from now on."""
    flow = await find_flow(uow.session, location_id, flow_id)
    if flow.trigger_key != "core.webhook":
        raise Conflict("The flow's running version has no incoming webhook trigger")
    flow.hook_token = new_hook_token()
    return flow


def _signed(options: dict[str, Any], body: bytes, headers: Mapping[str, str]) -> bool:
    secret = options["secret"]
    if options.get("signature", "hmac-sha256") == "standard-webhooks":
        try:
            Webhook(secret).verify(body, dict(headers), json_parse=False)
        except (WebhookVerificationError, ValueError):
            return False
        return True
    given = headers.get(SIGNATURE_HEADER, "").strip().removeprefix("sha256=")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.lower(), expected)


async def receive(
    uow: UnitOfWork,
    flow_id: str,
    token: str,
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    now: datetime,
) -> Received:
    """What a call to a hook URL starts. Unknown flow or token: 404; a required signature
    missing or wrong: 401; a body that is not JSON: 422; a disabled flow: 409."""
    flow = await uow.session.get(Flow, flow_id)
    if (
        flow is None
        or flow.hook_token is None
        or not hmac.compare_digest(flow.hook_token.encode(), token.encode())
    ):
        raise NotFound(HOOK_NOT_FOUND)
    version = await published_of(uow.session, flow)
    trigger = find(flow.trigger_key or "")
    if version is None or trigger is None or trigger.fires != "webhook":
        raise NotFound(HOOK_NOT_FOUND)
    definition = definition_of(version)
    options = definition.trigger.options
    if options.get("secret") and not _signed(options, body, headers):
        raise Unauthorized("signature: missing or does not match the body")
    if not flow.enabled:
        raise Conflict("The flow is disabled; enable it to receive calls")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise invalid("body", "not JSON") from None
    data = {
        "body": parsed,
        "headers": {
            name: value for name, value in headers.items() if name not in UNRECORDED_HEADERS
        },
        "query": dict(query),
        "receivedAt": to_iso(now),
    }
    delivery = next((headers[name] for name in DELIVERY_ID_HEADERS if headers.get(name)), None)
    if delivery is not None:
        key = f"hook:{delivery}"[: keyvalue.KEY_LENGTH]
        if not await keyvalue.first_sighting(uow, flow.id, key, REPEAT_WINDOW):
            return Received(run=None, duplicate=True)
    if not holds(definition.conditions, {"trigger": data}, now):
        return Received(run=None)
    run = queued_run(version, data)
    uow.session.add(run)
    await uow.session.flush()
    uow.wake(topics.FLOW_RUNS)
    return Received(run=run)
