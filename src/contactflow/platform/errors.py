"""Domain errors and the one error envelope every API family answers with.

Services raise these; the HTTP layer turns them into
`{statusCode, message, error?, traceId, meta?}` bodies.
"""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

# Upstream omits the `error` phrase on 400 and 403 bodies; clients match on the shape.
_NO_ERROR_PHRASE = frozenset({400, 403})


class DomainError(Exception):
    status_code = 400

    def __init__(
        self,
        message: str | list[str],
        *,
        meta: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.message = message
        self.meta = meta
        # Response headers the error comes with (Retry-After).
        self.headers = headers


class BadRequest(DomainError):
    status_code = 400


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class PayloadTooLarge(DomainError):
    status_code = 413


class TooManyRequests(DomainError):
    status_code = 429


class ServiceUnavailable(DomainError):
    status_code = 503


class Unprocessable(DomainError):
    """Validation failures: `message` is a list of "field: reason" lines."""

    status_code = 422

    def __init__(self, messages: list[str], *, meta: dict[str, Any] | None = None) -> None:
        super().__init__(messages, meta=meta)


def invalid(field: str, reason: str) -> Unprocessable:
    return Unprocessable([f"{field}: {reason}"])


def error_body(
    status_code: int,
    message: str | list[str],
    trace_id: str,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"statusCode": status_code, "message": message}
    if status_code not in _NO_ERROR_PHRASE:
        body["error"] = HTTPStatus(status_code).phrase
    if meta is not None:
        body["meta"] = meta
    body["traceId"] = trace_id
    return body
