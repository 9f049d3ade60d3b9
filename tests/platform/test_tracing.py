"""Tracing: spans of a real server process reach an OTLP/HTTP collector on loopback, joined to
the caller's trace and carried on to webhook receivers and a flow step's HTTP call; without an
exporter, nothing of the SDK is loaded."""

import json
import secrets
import sys

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from contactflow.platform import tracing
from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.flows.helpers import Hub
from tests.platform.otlp_collector import Collector, running_collector
from tests.receiver import Receiver, wait_for
from tests.support import Tenant, api_client, live_server, make_tenant, serve_process
from tests.webhooks.helpers import add_endpoint

# What only a process that traces loads.
TRACING_MODULES = (
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter",
    "contactflow.platform.tracing_sdk",
)


def _arrived(collector: Collector, receiver: Receiver, path: str) -> bool:
    return bool(
        collector.named("GET /contacts/{contactId}")
        and collector.named("webhook delivery")
        and collector.named("flow run")
        and receiver.bodies(path)
        and receiver.bodies(f"{path}/flow")
    )


def _calling(url: str) -> dict[str, object]:
    """A flow that POSTs to `url` for each contact created."""
    step = {"type": "action", "id": "call", "action": "core.http.request"}
    return {
        "trigger": {"key": "contacts.contact.created"},
        "steps": [{**step, "input": {"method": "POST", "url": url}}],
    }


def _traceparent(receiver: Receiver, path: str) -> tuple[str, str]:
    """The trace and parent span ids of the one request that reached `path`."""
    (arrival,) = [arrival for arrival in receiver.arrivals if arrival.path == path]
    version, trace_id, parent_id, _flags = arrival.headers["traceparent"].split("-")
    assert version == "00"
    return trace_id, parent_id


async def test_spans_of_requests_deliveries_and_flow_runs_reach_the_collector(
    isolated_url: str, isolated_db: Database, receiver: Receiver
) -> None:
    tenant = await make_tenant(isolated_db)
    path = f"/traced/{tenant.location_id}"
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    with running_collector() as collector:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_SERVICE_NAME": "contactflow-under-test",
        }
        async with (
            serve_process(isolated_url, env) as base_url,
            api_client(base_url, tenant.headers) as http,
        ):
            await add_endpoint(http, receiver.url(path), eventTypes=["ContactCreate"])
            await Hub(http, tenant).flow(_calling(receiver.url(f"{path}/flow")))
            created = await http.post(
                "/contacts/", json={"locationId": tenant.location_id, "firstName": "Ada"}
            )
            assert created.status_code == 201, created.text
            contact_id = created.json()["contact"]["id"]
            read = await http.get(
                f"/contacts/{contact_id}",
                headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
            )
            assert read.status_code == 200
            # The id the answer (and its log lines) carry is the trace's.
            assert read.headers["x-trace-id"] == trace_id
            await wait_for(lambda: _arrived(collector, receiver, path), within=15)

    (served,) = collector.named("GET /contacts/{contactId}")
    assert served.kind == Span.SPAN_KIND_SERVER
    assert (served.trace_id, served.parent_span_id) == (trace_id, parent_id)
    assert served.attributes["http.route"] == "/contacts/{contactId}"
    assert served.attributes["http.response.status_code"] == 200
    assert served.attributes["contactflow.location.id"] == tenant.location_id
    assert served.service == "contactflow-under-test"
    assert not served.error
    # Ids only: the path with the contact's id, and the contact's fields, stay out.
    assert contact_id not in json.dumps(served.attributes)
    (creation,) = collector.named("POST /contacts/")
    assert creation.attributes["http.response.status_code"] == 201
    assert "Ada" not in json.dumps([span.attributes for span in collector.spans])

    (delivery,) = collector.named("webhook delivery")
    assert delivery.kind == Span.SPAN_KIND_CLIENT
    assert delivery.attributes["http.response.status_code"] == 200
    assert delivery.attributes["contactflow.location.id"] == tenant.location_id
    assert _traceparent(receiver, path) == (delivery.trace_id, delivery.span_id)

    # A flow's run, its step within it, and the step's call carrying the step's context.
    (run,) = collector.named("flow run")
    (step,) = collector.named("flow step")
    assert run.attributes["contactflow.location.id"] == tenant.location_id
    assert (step.trace_id, step.parent_span_id) == (run.trace_id, run.span_id)
    assert step.attributes["contactflow.flow.step.action"] == "core.http.request"
    assert _traceparent(receiver, f"{path}/flow") == (step.trace_id, step.span_id)


async def test_without_an_exporter_nothing_of_the_sdk_is_loaded(
    settings: Settings, tenant: Tenant
) -> None:
    """No OTEL_ variable here (the test above sets them in its server's process only): the
    app adds no span middleware, and neither the SDK's tracing nor the exporter is loaded
    (the SDK's metrics part may be: redis-py loads it whenever it is installed)."""
    assert settings.traces_endpoint is None
    with live_server(settings) as running:
        async with api_client(running.base_url, tenant.headers) as http:
            answer = await http.get("/contacts/", params={"locationId": tenant.location_id})
    assert answer.status_code == 200
    assert len(answer.headers["x-trace-id"]) == 32
    assert not tracing.enabled()
    loaded = [name for name in sys.modules if name.startswith(TRACING_MODULES)]
    assert loaded == []
