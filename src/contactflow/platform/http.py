"""HTTP plumbing shared by every router: trace ids, body limits, the error envelope.

Middlewares are pure ASGI (no BaseHTTPMiddleware) so they add no task or copy per request.
"""

import contextvars
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactflow.platform import tracing
from contactflow.platform.db import database_unreachable
from contactflow.platform.errors import DomainError, error_body

log = logging.getLogger("contactflow")
# Seconds a client is told to wait before trying again while the database is out of reach.
RETRY_AFTER_OUTAGE = "1"

trace_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="")
# The location of the request's caller, once authenticated: log lines name it (platform/logs).
location_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("location_id", default="")


def current_trace_id() -> str:
    return trace_id_var.get() or uuid.uuid4().hex


def error_response(
    status_code: int,
    message: str | list[str],
    *,
    meta: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    trace_id = current_trace_id()
    return JSONResponse(
        error_body(status_code, message, trace_id, meta),
        status_code=status_code,
        headers={"X-Trace-Id": trace_id, **(headers or {})},
    )


class _BodyTooLarge(StarletteHTTPException):
    """An HTTPException so FastAPI's body parser re-raises it (a 413) instead of
    turning it into a 400 "error parsing the body" (bodies sent without Content-Length)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: request body exceeds {limit} bytes")


class EdgeMiddleware:
    """Outermost layer: gives each request a trace id (the OpenTelemetry trace's when tracing
    is on, so that answers and log lines lead to it), caps the body size, and turns any
    unexpected exception into a 500 envelope that carries the trace id (logged with it). A
    client gone before sending its whole body is noted at info level, and answered nothing."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id = tracing.trace_id() or uuid.uuid4().hex
        trace_id_var.set(trace_id)
        location_id_var.set("")
        trace_header = (b"x-trace-id", trace_id.encode())
        started = False

        async def send_with_trace(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                # Error envelopes already carry it; a second copy reads "id, id".
                if not any(name.lower() == b"x-trace-id" for name, _ in headers):
                    headers.append(trace_header)
                message["headers"] = headers
            await send(message)

        nul_in = _nul_field(scope)
        if nul_in is not None:
            refused = error_response(422, [f"{nul_in}: must not contain NUL characters"])
            await refused(scope, receive, send_with_trace)
            return

        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, receive, send_with_trace)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge(self.max_body_bytes)
            return message

        try:
            await self.app(scope, limited_receive, send_with_trace)
        except _BodyTooLarge:
            if not started:
                await self._too_large(scope, receive, send_with_trace)
        except ClientDisconnect:
            # The client went away before sending its whole body: nobody is left to answer,
            # and nothing is wrong with the server.
            log.info("client disconnected before sending its body, traceId=%s", trace_id)
        except Exception as error:
            if database_unreachable(error):
                # The database is down or restarting: nothing to debug here, and the client
                # may try again shortly (the operator sees it on /readyz).
                log.warning("database unreachable, traceId=%s: %s", trace_id, _first_line(error))
                response = error_response(
                    503,
                    "database unavailable, try again shortly",
                    headers={"Retry-After": RETRY_AFTER_OUTAGE},
                )
            else:
                log.exception("unhandled error, traceId=%s", trace_id)
                response = error_response(500, "Internal server error")
            if not started:
                await response(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"body: request body exceeds {self.max_body_bytes} bytes"
        await error_response(413, message)(scope, receive, send)


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def _nul_field(scope: Scope) -> str | None:
    """Where the path or query string carries a NUL character (no text column can hold one:
    PostgreSQL refuses it), so the request is a 422 rather than a database error."""
    if "\x00" in scope["path"]:
        return "path"
    query: bytes = scope["query_string"]
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", "") or "query"
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _field_path(location: tuple[Any, ...]) -> str:
    # Drop only the leading source: a body field may itself be called `query` or `body`.
    sourced = bool(location) and location[0] in ("body", "query", "path", "header")
    parts = [str(part) for part in (location[1:] if sourced else location)]
    if not parts:
        return str(location[0]) if location else "body"
    return ".".join(parts)


def _validation_messages(exc: RequestValidationError) -> list[str]:
    messages = []
    for error in exc.errors():
        field = _field_path(tuple(error.get("loc", ())))
        if error.get("type") == "json_invalid":
            messages.append(
                f"body: malformed JSON ({error.get('ctx', {}).get('error', 'invalid')})"
            )
        else:
            messages.append(f"{field}: {error.get('msg', 'invalid value')}")
    return messages


async def on_domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_response(exc.status_code, exc.message, meta=exc.meta, headers=exc.headers)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, _validation_messages(exc))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(exc.status_code, str(exc.detail), headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method any route serves on this path; Starlette names only the first route's."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE and isinstance(route, APIRoute | Route):
            methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
