"""Idempotency-Key on every write: a retried request gets the first response, not a second effect.

Keys are scoped to the credential that sent them (a hash of the Authorization header), kept
for a retention window, and bound to the request they first came with: the same key with
another method, path or body is refused with 422. A key whose first request is still running
answers 409. Responses that did not take effect (401, 429, 5xx) are not kept, so the client
can retry them.
"""

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, Database, UTCDateTime
from contactflow.platform.http import error_response
from contactflow.platform.ids import new_id

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NOT_KEPT = frozenset({401, 429})
_REPLAYED_HEADERS = frozenset({b"content-type", b"location"})


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    scope_hash: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    # None while the first request is still running.
    status_code: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[list[list[str]] | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("scope_hash", "key"),)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for header, value in scope["headers"]:
        if header == name:
            return bytes(value)
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, db: Database, retention: timedelta) -> None:
        self.app = app
        self.db = db
        self.retention = retention

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key_header = _header(scope, HEADER) if scope["type"] == "http" else None
        authorization = _header(scope, b"authorization") if key_header else None
        # Keys are kept per credential: a call without one (a public hook URL) is not replayed.
        if key_header is None or not authorization or scope["method"] not in _WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        key = key_header.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            reason = f"Idempotency-Key: must be 1 to {MAX_KEY_LENGTH} characters"
            await error_response(422, [reason])(scope, receive, send)
            return
        body = await _read_body(receive)
        scope_hash = hashlib.sha256(authorization).hexdigest()
        request_hash = hashlib.sha256(
            b"\n".join(
                [scope["method"].encode(), scope["path"].encode(), scope["query_string"], body]
            )
        ).hexdigest()

        record = await self._claim(scope_hash, key, request_hash)
        if record is not None:
            await self._answer_existing(record, request_hash, scope, receive, send)
            return
        await self._run_and_keep(scope, send, body, scope_hash, key)

    async def _claim(
        self, scope_hash: str, key: str, request_hash: str
    ) -> IdempotencyRecord | None:
        """Insert a pending record for this key, or return the live one already there."""
        cutoff = utcnow() - self.retention
        try:
            async with self.db.unit_of_work() as uow:
                await uow.session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.scope_hash == scope_hash,
                        IdempotencyRecord.key == key,
                        IdempotencyRecord.created_at < cutoff,
                    )
                )
                uow.session.add(
                    IdempotencyRecord(scope_hash=scope_hash, key=key, request_hash=request_hash)
                )
        except IntegrityError:
            async with self.db.reader() as session:
                return await session.scalar(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.scope_hash == scope_hash, IdempotencyRecord.key == key
                    )
                )
        return None

    async def _answer_existing(
        self,
        record: IdempotencyRecord,
        request_hash: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        if record.request_hash != request_hash:
            reason = "Idempotency-Key: already used with a different request"
            await error_response(422, [reason])(scope, receive, send)
            return
        if record.status_code is None:
            reason = "A request with this Idempotency-Key is still in progress"
            await error_response(409, reason)(scope, receive, send)
            return
        headers = [(name.encode(), value.encode()) for name, value in record.headers or []]
        await send(
            {
                "type": "http.response.start",
                "status": record.status_code,
                "headers": [*headers, (b"idempotent-replayed", b"true")],
            }
        )
        await send({"type": "http.response.body", "body": record.body or b""})

    async def _run_and_keep(
        self, scope: Scope, send: Send, body: bytes, scope_hash: str, key: str
    ) -> None:
        delivered = False

        async def replay_body() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 500
        headers: list[list[str]] = []
        chunks: list[bytes] = []
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(
                    [name.decode("latin-1"), value.decode("latin-1")]
                    for name, value in message.get("headers", [])
                    if name.lower() in _REPLAYED_HEADERS
                )
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            messages.append(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            await self._keep(scope_hash, key, status, headers, b"".join(chunks))
        # Answered only once kept: a client that repeats the request the moment it has the
        # answer gets the replay, not a 409 saying the first one is still running.
        for message in messages:
            await send(message)

    async def _keep(
        self, scope_hash: str, key: str, status: int, headers: list[list[str]], body: bytes
    ) -> None:
        where: Any = (IdempotencyRecord.scope_hash == scope_hash, IdempotencyRecord.key == key)
        async with self.db.unit_of_work() as uow:
            record = await uow.session.scalar(select(IdempotencyRecord).where(*where))
            if record is None:
                return
            if status >= 500 or status in _NOT_KEPT:
                await uow.session.delete(record)
                return
            record.status_code = status
            record.headers = headers
            record.body = body
