"""The OpenTelemetry side of tracing (platform/tracing.py imports it only when tracing is on):
the tracer provider with its batch OTLP/HTTP exporter, the spans, and the HTTP server spans.

The SDK reads the rest of its configuration from the standard variables: the service name
(`OTEL_SERVICE_NAME`, else `contactflow`), the sampler (`OTEL_TRACES_SAMPLER`, parent-based
always-on by default), the exporter's headers, timeout and compression, and the batch
processor's delay and sizes (`OTEL_BSP_*`). Incoming and outgoing context is W3C trace context
(`traceparent`, `tracestate`) through the configured propagators (`OTEL_PROPAGATORS`).
"""

from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry import context, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode, format_trace_id
from starlette.types import ASGIApp, Receive, Scope, Send

from contactflow.platform.health import OPERATOR_PATHS
from contactflow.platform.http import location_id_var
from contactflow.platform.metrics import METHODS, UNMATCHED, StatusWatch, route_template
from contactflow.platform.tracing import LOCATION, Attributes, AttributeValue, Kind

SERVICE = "contactflow"
KINDS = {"internal": SpanKind.INTERNAL, "client": SpanKind.CLIENT, "consumer": SpanKind.CONSUMER}


class Tracing:
    """The process's tracer, exporting in batches to one OTLP/HTTP endpoint."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(SERVICE)

    @classmethod
    def start(cls, endpoint: str) -> "Tracing":
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: SERVICE}))
        # The provider flushes what is queued when the process exits.
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        # Global, so that any instrumentation an operator adds joins the same traces.
        trace.set_tracer_provider(provider)
        return cls(provider)

    def span(self, name: str, attributes: Attributes, kind: Kind) -> "StartedSpan":
        return StartedSpan(self.tracer.start_span(name, kind=KINDS[kind], **_quiet(attributes)))

    def trace_id(self) -> str:
        found = trace.get_current_span().get_span_context()
        return format_trace_id(found.trace_id) if found.is_valid else ""

    def inject(self, headers: dict[str, str]) -> None:
        propagate.inject(headers)

    async def inject_into_request(self, request: httpx.Request) -> None:
        propagate.inject(request.headers)

    def install(self, app: FastAPI) -> None:
        app.add_middleware(ServerSpans, tracer=self.tracer)


def _quiet(attributes: Attributes) -> dict[str, Any]:
    """A span's start: its attributes present, and exceptions never recorded by message or
    stack (a driver's message may quote a row); `StartedSpan` records their type."""
    return {
        "attributes": {key: value for key, value in attributes.items() if value is not None},
        "record_exception": False,
        "set_status_on_exception": False,
    }


def _failed(span: trace.Span, error_type: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(StatusCode.ERROR)


class StartedSpan:
    """A started span, current while its `with` block runs and ended after it; an exception
    out of the block marks it failed by the exception's type."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._token: object = None

    def __enter__(self) -> "StartedSpan":
        self._token = context.attach(trace.set_span_in_context(self._span))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            _failed(self._span, exc_type.__qualname__)
        context.detach(self._token)  # type: ignore[arg-type]
        self._span.end()

    def set(self, name: str, value: AttributeValue | None) -> None:
        if value is not None:
            self._span.set_attribute(name, value)

    def fail(self, error_type: str) -> None:
        _failed(self._span, error_type)


class ServerSpans:
    """A server span per HTTP request, a child of the caller's `traceparent` when it sends
    one: named by method and route template (never the raw path, whose ids would make a name
    per record), with the status and the caller's location. 5xx answers are errors. The
    operator endpoints, probed every few seconds, make none."""

    def __init__(self, app: ASGIApp, *, tracer: trace.Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPERATOR_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        method = scope["method"] if scope["method"] in METHODS else "_OTHER"
        span = self.tracer.start_span(
            method,
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            **_quiet({"http.request.method": method, "url.scheme": scope["scheme"]}),
        )
        token = context.attach(trace.set_span_in_context(span))
        answer = StatusWatch(send)
        try:
            await self.app(scope, receive, answer)
        finally:
            status = answer.status
            route = route_template(scope)
            if route != UNMATCHED:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            location = location_id_var.get()
            if location:
                span.set_attribute(LOCATION, location)
            if status >= 500:
                _failed(span, str(status))
            context.detach(token)
            span.end()
