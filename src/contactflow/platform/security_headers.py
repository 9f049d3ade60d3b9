"""Security headers on every response: the outermost middleware, so error envelopes, 413s and
500s get them too. Headers a response already set (a page with its own policy) are kept.

- `X-Content-Type-Options`, `X-Frame-Options`, `Referrer-Policy`: the OWASP REST set.
- `Content-Security-Policy`: API responses are JSON that loads nothing, so `default-src
  'none'`. The interactive docs (Swagger UI at /docs, ReDoc at /redoc) load their bundles,
  styles and icon from this server, inject styles, and start with one inline script: their
  pages get a policy that allows this origin and exactly those inline scripts, by hash,
  computed from the page as it is sent (so a change of FastAPI's page cannot break it), and
  nothing from anywhere else.
- `Strict-Transport-Security`: only on responses that went over TLS, here (uvicorn with a
  certificate) or at a trusted proxy (`X-Forwarded-Proto: https` with `trust_proxy`).
"""

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactflow.platform.auth.ip import over_tls

HSTS = b"max-age=31536000; includeSubDomains"
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)

_FIXED = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def docs_policy(html: bytes) -> str:
    """The policy of a docs page: this origin's bundles, and its inline scripts by hash. Styles
    may be inline (Swagger UI and ReDoc inject them); ReDoc runs its search in a blob:
    worker."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    return "; ".join(
        [
            "default-src 'none'",
            " ".join(["script-src 'self'", *hashes]),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "worker-src blob:",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, trust_proxy: bool, docs_paths: Iterable[str]) -> None:
        self.app = app
        self.trust_proxy = trust_proxy
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = list(_FIXED)
        if over_tls(Request(scope), trust_proxy=self.trust_proxy):
            added.append((b"strict-transport-security", HSTS))

        def with_headers(message: Message, policy: str) -> Message:
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            extra = [*added, (b"content-security-policy", policy.encode())]
            headers.extend((name, value) for name, value in extra if name not in present)
            return {**message, "headers": headers}

        if scope["path"] not in self.docs_paths:

            async def send_api(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = with_headers(message, API_POLICY)
                await send(message)

            await self.app(scope, receive, send_api)
            return

        # A docs page is small and whole: hold it until its body is known, to hash its scripts.
        start: Message | None = None
        body: list[bytes] = []

        async def send_docs(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            html = b"".join(body)
            await send(with_headers(start, docs_policy(html)))
            await send({"type": "http.response.body", "body": html})

        await self.app(scope, receive, send_docs)
