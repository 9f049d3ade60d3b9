"""Webhooks from a remote HighLevel account: verified with the provider's Ed25519 key, then
appended to the location's event log under the same type names as local events, with the
connection as their origin, so that flows listening to that connection fire on them.

HighLevel signs each body with its private key and sends the base64 signature in
`x-ghl-signature`; its payloads name the event in `type` and carry a unique `webhookId`,
which a receipt records so that a redelivery is acknowledged and not logged again.
"""

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy.dialects import postgresql, sqlite

from contactflow.flows.connections.models import Connection, ConnectionReceipt, remote_origin
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import BadRequest, Unauthorized
from contactflow.platform.event_types import EVENT_TYPES
from contactflow.platform.events import append

SIGNATURE_HEADER = "x-ghl-signature"


def _verified(row: Connection | None, body: bytes, signature: str | None) -> None:
    if row is None or row.webhook_public_key is None or not signature:
        raise Unauthorized("Missing or invalid x-ghl-signature")
    key = load_pem_public_key(row.webhook_public_key.encode())
    assert isinstance(key, Ed25519PublicKey)
    try:
        key.verify(base64.b64decode(signature, validate=True), body)
    except (InvalidSignature, binascii.Error, ValueError) as error:
        raise Unauthorized("Missing or invalid x-ghl-signature") from error


async def first_receipt(uow: UnitOfWork, connection_id: str, key: str) -> bool:
    """Record `key` for the connection; False when it was recorded before."""
    dialect = postgresql if uow.dialect == "postgresql" else sqlite
    inserted = await uow.session.execute(
        dialect.insert(ConnectionReceipt)
        .values(connection_id=connection_id, key=key[:160])
        .on_conflict_do_nothing()
        .returning(ConnectionReceipt.key)
    )
    return inserted.first() is not None


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise BadRequest("body: not JSON") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise BadRequest("type: required, the event's type name")
    return payload


async def receive(uow: UnitOfWork, connection_id: str, body: bytes, signature: str | None) -> bool:
    """Take in one webhook; True when it was appended (False: a repeat, or a type that no
    local event has, acknowledged and dropped)."""
    row = await uow.session.get(Connection, connection_id)
    _verified(row, body, signature)
    assert row is not None
    payload = _payload(body)
    webhook_id = payload.get("webhookId")
    receipt = str(webhook_id) if webhook_id else hashlib.sha256(body).hexdigest()
    if payload["type"] not in EVENT_TYPES:
        return False
    if not await first_receipt(uow, row.id, f"webhook:{receipt}"):
        return False
    uow.origin = remote_origin(row.id)
    subject = payload.get("contactId") or payload.get("id")
    await append(
        uow,
        row.location_id,
        payload["type"],
        payload,
        subject_id=str(subject)[:64] if subject else None,
    )
    return True
