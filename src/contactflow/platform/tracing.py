"""Tracing with OpenTelemetry, off unless an OTLP endpoint is configured (ADR 0031).

Off, nothing of the OpenTelemetry SDK is imported and nothing is done per request or per unit
of work beyond a call that returns a shared no-op: the HTTP middleware is not installed,
`span` hands back one do-nothing object, outbound calls carry no header. On (`configure`
with `Settings.traces_endpoint`), platform/tracing_sdk.py builds the tracer provider and its
batch exporter once per process, and the same calls start real spans.

Spans carry ids (location, delivery, run, step, email, sync) and outcomes, never a personal
field, a URL's path or query, or a secret: what a span says is what a log line may say.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fastapi import FastAPI

from contactflow.settings import Settings

if TYPE_CHECKING:
    from contactflow.platform.tracing_sdk import Tracing

AttributeValue = str | int | float | bool
Attributes = Mapping[str, AttributeValue | None]
Kind = Literal["internal", "client", "consumer"]
# The attribute naming the location a span's work is for (every tenant's data is by location).
LOCATION = "contactflow.location.id"


class Span(Protocol):
    """What the code that starts a span may tell it: an attribute, or that it failed."""

    def set(self, name: str, value: AttributeValue | None) -> None: ...

    def fail(self, error_type: str) -> None: ...


class SpanScope(Span, Protocol):
    def __enter__(self) -> Span: ...

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None: ...


class TracingUnavailable(RuntimeError):
    """Tracing is configured in a way this installation cannot serve: the OpenTelemetry
    packages are not installed, or another protocol than OTLP/HTTP with protobuf is asked."""


class _NoSpan:
    """The span of a process that does not trace: one object, every call does nothing."""

    def __enter__(self) -> "_NoSpan":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        return None

    def set(self, name: str, value: AttributeValue | None) -> None:
        return None

    def fail(self, error_type: str) -> None:
        return None


_NO_SPAN = _NoSpan()
_tracing: "Tracing | None" = None


def configure(settings: Settings) -> bool:
    """Start tracing when the settings name an endpoint (once per process: the API's app and
    a worker read the same settings); whether the process traces."""
    global _tracing
    endpoint = settings.traces_endpoint
    if _tracing is None and endpoint is not None:
        protocol = (
            settings.otel_exporter_otlp_traces_protocol or settings.otel_exporter_otlp_protocol
        )
        if protocol not in ("", "http/protobuf"):
            raise TracingUnavailable(
                f"OTEL_EXPORTER_OTLP_PROTOCOL is {protocol}: spans are exported over "
                "http/protobuf only (the collector's port 4318)"
            )
        try:
            from contactflow.platform import tracing_sdk
        except ImportError as error:
            raise TracingUnavailable(
                f"tracing is configured (spans to {endpoint}) but the OpenTelemetry packages "
                "are not installed: install contactflow[tracing]"
            ) from error
        _tracing = tracing_sdk.Tracing.start(endpoint)
    return _tracing is not None


def enabled() -> bool:
    return _tracing is not None


def span(name: str, attributes: Attributes | None = None, kind: Kind = "internal") -> SpanScope:
    """A span around a unit of work, a child of the current one (`with tracing.span(...) as
    span:`); the no-op when tracing is off. Attributes whose value is None are left out."""
    if _tracing is None:
        return _NO_SPAN
    return _tracing.span(name, attributes or {}, kind)


def trace_id() -> str:
    """The current span's trace id (32 hex digits), or "" when tracing is off or no span
    runs: the id HTTP answers and log lines carry, so that they lead to the trace."""
    if _tracing is None:
        return ""
    return _tracing.trace_id()


def inject(headers: dict[str, str]) -> None:
    """Add the current span's `traceparent` (and `tracestate`) to an outbound request's
    headers; nothing when tracing is off."""
    if _tracing is not None:
        _tracing.inject(headers)


def install(app: FastAPI) -> None:
    """Make a span of each HTTP request `app` answers, when tracing is on; off, no
    middleware is added."""
    if _tracing is not None:
        _tracing.install(app)


def client_hooks() -> dict[str, list[Any]]:
    """httpx event hooks that add the current span's `traceparent` to each request: none
    when tracing is off."""
    if _tracing is None:
        return {}
    return {"request": [_tracing.inject_into_request]}
