"""Both signatures every delivery carries.

1. Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256("{id}.{ts}.{body}")>`, one
   entry per live secret (the old one too while a rotation overlaps).
2. HighLevel-compatible: `x-ghl-signature: <base64 Ed25519(body)>` with the installation key.
"""

import base64
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from contactflow.platform.db import Database
from contactflow.platform.webhooks.models import SigningKey

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def standard_signatures(secrets_: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(standard_signature(s, message_id, timestamp, body) for s in secrets_)


class Ed25519Signer:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self._key.sign(body)).decode()

    @property
    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )


async def installation_signer(db: Database) -> Ed25519Signer:
    """The installation's key, made on first use; every process of the installation shares it."""
    async with db.reader() as session:
        stored = await session.scalar(select(SigningKey).order_by(SigningKey.created_at).limit(1))
    if stored is None:
        async with db.unit_of_work() as uow:
            await uow.lock("signing-key")
            stored = await uow.session.scalar(
                select(SigningKey).order_by(SigningKey.created_at).limit(1)
            )
            if stored is None:
                key = Ed25519PrivateKey.generate()
                signer = Ed25519Signer(key)
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode()
                stored = SigningKey(private_key=pem, public_key=signer.public_key_pem)
                uow.session.add(stored)
    private = serialization.load_pem_private_key(stored.private_key.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return Ed25519Signer(private)
