"""Built-in steps that call other systems: an HTTP request, and a webhook (JSON POST signed
the Standard Webhooks way). Every address goes through the webhooks' URL policy first, so a
flow cannot reach loopback, private or metadata addresses the operator did not allow."""

import base64
import binascii
import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from contactflow.flows.catalog.registry import ID, Entry, Json, Outbound
from contactflow.flows.connections.oauth_client import ConnectionAuth
from contactflow.flows.connections.outbound import remote_base, url_under, with_auth
from contactflow.platform.errors import DomainError, invalid
from contactflow.platform.webhooks.signing import SECRET_PREFIX, standard_signature
from contactflow.platform.webhooks.ssrf import UnsafeUrl

APP = "core"
USER_AGENT = "contactflow-flows/1"
# Characters of a response body kept in the step's output.
BODY_LIMIT = 65_536
DEFAULT_TIMEOUT = 15.0


class HttpFailed(DomainError):
    """The other side answered with an error status, or could not be reached."""


def _headers(values: Json) -> dict[str, str]:
    headers = {str(name).lower(): str(value) for name, value in values.get("headers", {}).items()}
    auth = values.get("auth") or {"type": "none"}
    kind = auth.get("type", "none")
    if kind == "bearer":
        headers["authorization"] = f"Bearer {_given(auth, 'token')}"
    elif kind == "basic":
        pair = f"{_given(auth, 'username')}:{auth.get('password', '')}".encode()
        headers["authorization"] = f"Basic {base64.b64encode(pair).decode()}"
    elif kind == "header":
        headers[_given(auth, "name").lower()] = _given(auth, "value")
    headers.setdefault("user-agent", USER_AGENT)
    return headers


def _given(auth: Json, name: str) -> str:
    value = auth.get(name)
    if not isinstance(value, str) or not value:
        raise invalid(f"auth.{name}", f"required by {auth.get('type')} authentication")
    return value


def _answer(response: httpx.Response) -> Json:
    text = response.text
    truncated = len(text) > BODY_LIMIT
    body: Any = text[:BODY_LIMIT]
    if not truncated and "json" in response.headers.get("content-type", ""):
        with contextlib.suppress(json.JSONDecodeError):
            body = json.loads(text)
    return {
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": body,
        "truncated": truncated,
    }


async def _sent(
    outbound: Outbound, url: str, build: Callable[[str], httpx.Request]
) -> httpx.Response:
    """The answer to the request built for the URL, once the URL policy lets it through."""
    try:
        await outbound.policy.check(url)
    except UnsafeUrl as error:
        raise invalid("url", f"refused: {str(error).removeprefix('url: ')}") from None
    try:
        return await outbound.http.send(build(url))
    except httpx.HTTPError as error:
        raise HttpFailed(f"{type(error).__name__}: {error or 'no answer'}") from None


def _checked(values: Json, response: httpx.Response) -> Json:
    answer = _answer(response)
    if values.get("failOnError", True) and not 200 <= response.status_code < 300:
        raise HttpFailed(f"HTTP {response.status_code}: {response.text[:500]}")
    return answer


def _timeout(outbound: Outbound, values: Json) -> float:
    return min(float(values.get("timeout", DEFAULT_TIMEOUT)), outbound.max_timeout_seconds)


async def http_request(outbound: Outbound, values: Json) -> Json:
    if "json" in values and "body" in values:
        raise invalid("body", "give json or body, not both")
    content = json.dumps(values["json"]).encode() if "json" in values else None
    headers = _headers(values)
    if content is not None:
        headers.setdefault("content-type", "application/json")
    elif "body" in values:
        content = values["body"].encode()

    def build(more_headers: dict[str, str]) -> Callable[[str], httpx.Request]:
        return lambda url: outbound.http.build_request(
            values.get("method", "GET"),
            url,
            params={name: str(value) for name, value in values.get("query", {}).items()},
            headers={**headers, **{name.lower(): value for name, value in more_headers.items()}},
            content=content,
            timeout=_timeout(outbound, values),
        )

    if "connectionId" not in values:
        return _checked(values, await _sent(outbound, values["url"], build({})))
    if "auth" in values:
        raise invalid("auth", "give auth or connectionId, not both")
    authorize = outbound.connection(values["connectionId"])
    auth = await authorize(None)
    url = url_under(remote_base(auth), values["url"])

    async def send(current: ConnectionAuth) -> httpx.Response:
        return await _sent(outbound, url, build(current.headers))

    return _checked(values, await with_auth(authorize, auth, send))


def _secret(value: str) -> str:
    try:
        base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise invalid("secret", "must be whsec_ followed by base64") from None
    return value


async def send_webhook(outbound: Outbound, values: Json) -> Json:
    """POST the payload as JSON; with a secret, signed as Standard Webhooks sign (the same
    message id on every retry of this step, so a receiver can drop repeats)."""
    body = json.dumps(values["payload"], separators=(",", ":"), ensure_ascii=False).encode()
    digest = hashlib.sha256(outbound.idempotency_key.encode()).hexdigest()[:32]
    message_id, timestamp = f"msg_{digest}", int(time.time())
    headers = {
        **{str(name).lower(): str(value) for name, value in values.get("headers", {}).items()},
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
    }
    if values.get("secret"):
        secret = _secret(values["secret"])
        headers["webhook-signature"] = standard_signature(secret, message_id, timestamp, body)

    def build(url: str) -> httpx.Request:
        timeout = _timeout(outbound, values)
        return outbound.http.build_request(
            "POST", url, headers=headers, content=body, timeout=timeout
        )

    answer = _checked(values, await _sent(outbound, values["url"], build))
    return {**answer, "messageId": message_id}


URL = {"type": "string", "minLength": 1, "maxLength": 2000, "format": "uri"}
HEADERS = {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 50}
TIMEOUT = {"type": "number", "exclusiveMinimum": 0, "maximum": 120, "default": DEFAULT_TIMEOUT}
FAIL_ON_ERROR = {
    "type": "boolean",
    "default": True,
    "description": "Fail the step (its error policy retries it) on a status outside 2xx.",
}
SECRET_TEXT = {"type": "string", "minLength": 1, "maxLength": 4000}
AUTH: Json = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {"enum": ["none", "bearer", "basic", "header"]},
        "token": SECRET_TEXT,
        "username": SECRET_TEXT,
        "password": SECRET_TEXT,
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "value": SECRET_TEXT,
    },
}
ANSWER: Json = {
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "headers": {"type": "object"},
        "body": {},
        "truncated": {"type": "boolean"},
    },
}
ANSWER_SAMPLE: Json = {
    "status": 200,
    "headers": {"content-type": "application/json"},
    "body": {"ok": True},
    "truncated": False,
}

ENTRIES = (
    Entry(
        key="core.http.request",
        app=APP,
        kind="action",
        title="HTTP request",
        description=(
            "Call any HTTP API: method, URL, headers, query, a JSON or text body, and "
            "authentication (bearer token, basic, or a header), or a connection's "
            "(`connectionId`; `url` is then a path under its base URL, and an OAuth token is "
            "refreshed and the call made once more after a 401). The output has the status, "
            "headers and body (data when the answer is JSON; cut at 64 KiB). A status outside "
            "2xx fails the step unless `failOnError` is false."
        ),
        scopes=(),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": ["url"],
            "properties": {
                "method": {
                    "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
                    "default": "GET",
                },
                "url": {**URL, "format": "uri-reference"},
                "headers": HEADERS,
                "query": {"type": "object", "maxProperties": 100},
                "json": {"type": ["object", "array"]},
                "body": {"type": "string", "maxLength": 1_000_000},
                "timeout": TIMEOUT,
                "auth": AUTH,
                "connectionId": ID,
                "failOnError": FAIL_ON_ERROR,
            },
        },
        output=ANSWER,
        sample=ANSWER_SAMPLE,
        call=http_request,
    ),
    Entry(
        key="core.webhook.send",
        app=APP,
        kind="action",
        title="Send webhook",
        description=(
            "POST a JSON payload to a URL; with a `secret` (whsec_...), signed as Standard "
            "Webhooks sign (webhook-id, webhook-timestamp, webhook-signature)."
        ),
        scopes=(),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": ["url", "payload"],
            "properties": {
                "url": URL,
                "payload": {"type": ["object", "array"]},
                "secret": SECRET_TEXT,
                "headers": HEADERS,
                "timeout": TIMEOUT,
                "failOnError": FAIL_ON_ERROR,
            },
        },
        output={**ANSWER, "properties": {**ANSWER["properties"], "messageId": {"type": "string"}}},
        sample={**ANSWER_SAMPLE, "messageId": "msg_0f3c"},
        call=send_webhook,
    ),
)
