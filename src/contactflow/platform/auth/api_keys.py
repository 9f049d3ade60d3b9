"""Location-bound API keys: shown once, stored as SHA-256 hashes.

A key reads `cf_live_` (or `cf_test_` for sandbox locations), 32 random base62 characters,
then a 6-character CRC32 checksum, so scanners can recognise leaked keys and a mistyped
key is refused before any database look-up.
"""

import hashlib
import secrets
import string
import zlib
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import KNOWN_SCOPES
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, UnitOfWork, UTCDateTime
from contactflow.platform.errors import BadRequest, NotFound, Unauthorized
from contactflow.platform.ids import new_id
from contactflow.platform.tenancy import Location

LIVE_PREFIX = "cf_live_"
TEST_PREFIX = "cf_test_"
_BASE62 = string.digits + string.ascii_letters
_SECRET_LENGTH = 32
_CHECKSUM_LENGTH = 6
INVALID_TOKEN = "Invalid JWT"  # noqa: S105 - an error message, not a secret


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), default="")
    # The first characters, kept so people can tell their keys apart in listings.
    hint: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(_BASE62[remainder])
    return "".join(reversed(digits))


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode()), _CHECKSUM_LENGTH)


def generate_key(*, sandbox: bool) -> str:
    prefix = TEST_PREFIX if sandbox else LIVE_PREFIX
    secret = "".join(secrets.choice(_BASE62) for _ in range(_SECRET_LENGTH))
    return f"{prefix}{secret}{_checksum(prefix + secret)}"


def is_well_formed(key: str) -> bool:
    if not key.startswith((LIVE_PREFIX, TEST_PREFIX)):
        return False
    if len(key) != len(LIVE_PREFIX) + _SECRET_LENGTH + _CHECKSUM_LENGTH:
        return False
    body, checksum = key[:-_CHECKSUM_LENGTH], key[-_CHECKSUM_LENGTH:]
    return secrets.compare_digest(_checksum(body), checksum)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown:
        raise BadRequest(f"scope: unknown scope(s) {', '.join(unknown)}")
    if not scopes:
        raise BadRequest("scope: at least one scope is required")
    return sorted(set(scopes))


async def create_key(
    uow: UnitOfWork, location_id: str, scopes: list[str], name: str = ""
) -> tuple[ApiKey, str]:
    """Returns the stored key and its plaintext, which exists only in this return value."""
    location = await uow.session.get(Location, location_id)
    if location is None:
        raise NotFound(f"location: {location_id} not found")
    plaintext = generate_key(sandbox=location.sandbox)
    key = ApiKey(
        location_id=location_id,
        name=name,
        hint=plaintext[: len(LIVE_PREFIX) + 4],
        key_hash=hash_key(plaintext),
        scopes=validate_scopes(scopes),
    )
    uow.session.add(key)
    await uow.session.flush()
    return key, plaintext


async def list_keys(session: AsyncSession, location_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if location_id is not None:
        query = query.where(ApiKey.location_id == location_id)
    return list(await session.scalars(query))


async def revoke_key(uow: UnitOfWork, key_id: str) -> ApiKey:
    key = await uow.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"key: {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


async def authenticate_key(session: AsyncSession, token: str) -> Principal:
    if not is_well_formed(token):
        raise Unauthorized(INVALID_TOKEN)
    row = (
        await session.execute(
            select(ApiKey, Location)
            .join(Location, Location.id == ApiKey.location_id)
            .where(ApiKey.key_hash == hash_key(token))
        )
    ).first()
    if row is None:
        raise Unauthorized(INVALID_TOKEN)
    key, location = row
    if key.revoked_at is not None:
        raise Unauthorized("The token has been revoked")
    return Principal(
        credential_id=key.id,
        credential_kind="api_key",
        company_id=location.company_id,
        location_id=location.id,
        scopes=frozenset(key.scopes),
        sandbox=location.sandbox,
    )
