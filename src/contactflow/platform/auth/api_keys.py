"""Location-bound API keys: shown once, stored as SHA-256 hashes.

A key reads `cf_live_` (or `cf_test_` for sandbox locations), 32 random base62 characters,
then a 6-character CRC32 checksum, so scanners can recognise leaked keys and a mistyped
key is refused before any database look-up.
"""

from datetime import datetime, timedelta

from sqlalchemy import JSON, ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform import audit
from contactflow.platform.auth import credential_format
from contactflow.platform.auth.credential_cache import forget_everywhere
from contactflow.platform.auth.ip import validate_networks
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import COMPANY_SCOPES, KNOWN_SCOPES
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, Database, UnitOfWork, UTCDateTime
from contactflow.platform.errors import BadRequest, NotFound, Unauthorized
from contactflow.platform.ids import new_id
from contactflow.platform.tenancy import Location

LIVE_PREFIX = "cf_live_"
TEST_PREFIX = "cf_test_"
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
    # CIDRs the key may be used from; empty means anywhere.
    allowed_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set on the old key when it is rotated: the key that replaces it.
    replaced_by: Mapped[str | None] = mapped_column(String(32))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_ip: Mapped[str | None] = mapped_column(String(64))


def generate_key(*, sandbox: bool) -> str:
    return credential_format.generate(TEST_PREFIX if sandbox else LIVE_PREFIX)


def is_well_formed(key: str) -> bool:
    return credential_format.is_well_formed(key, LIVE_PREFIX, TEST_PREFIX)


def hash_key(key: str) -> str:
    return credential_format.digest(key)


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown:
        raise BadRequest(f"scope: unknown scope(s) {', '.join(unknown)}")
    if not scopes:
        raise BadRequest("scope: at least one scope is required")
    return sorted(set(scopes))


def _location_scopes(scopes: list[str]) -> list[str]:
    company = sorted(set(scopes) & COMPANY_SCOPES)
    if company:
        # A key belongs to one location: these would grant it nothing.
        raise BadRequest(f"scope: {', '.join(company)} are for company OAuth tokens only")
    return validate_scopes(scopes)


MAX_ROTATION_GRACE = timedelta(days=7)
MAX_NAME_LENGTH = 255


async def create_key(
    uow: UnitOfWork,
    location_id: str,
    scopes: list[str],
    name: str = "",
    *,
    expires_at: datetime | None = None,
    allowed_ips: list[str] | None = None,
    actor: str = "cli",
) -> tuple[ApiKey, str]:
    """Returns the stored key and its plaintext, which exists only in this return value."""
    location = await uow.session.get(Location, location_id)
    if location is None:
        raise NotFound(f"location: {location_id} not found")
    if expires_at is not None and expires_at <= utcnow():
        raise BadRequest("expires: must be in the future")
    if len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise BadRequest(f"name: at most {MAX_NAME_LENGTH} printable characters")
    plaintext = generate_key(sandbox=location.sandbox)
    key = ApiKey(
        location_id=location_id,
        name=name,
        hint=plaintext[: len(LIVE_PREFIX) + 4],
        key_hash=hash_key(plaintext),
        scopes=_location_scopes(scopes),
        allowed_ips=validate_networks(allowed_ips or [], "allowedIps"),
        expires_at=expires_at,
    )
    uow.session.add(key)
    await uow.session.flush()
    audit.record(
        uow,
        audit.CREDENTIAL_CREATED,
        actor=actor,
        location_id=location_id,
        company_id=location.company_id,
        credential=f"api_key:{key.id}",
        scopes=key.scopes,
    )
    return key, plaintext


async def rotate_key(
    uow: UnitOfWork, key_id: str, grace: timedelta, *, actor: str = "cli"
) -> tuple[ApiKey, str]:
    """A new key with the same grants and the same lifetime (a key that expired a year after
    its creation is replaced by one that expires a year from now); the old one keeps working
    for `grace` (at most 7 days). An expired key is not rotated: it grants nothing any more."""
    if grace < timedelta(0) or grace > MAX_ROTATION_GRACE:
        raise BadRequest("grace: must be between 0 and 7 days")
    old = await uow.session.get(ApiKey, key_id)
    if old is None or old.revoked_at is not None:
        raise NotFound(f"key: {key_id} not found or revoked")
    now = utcnow()
    if old.expires_at is not None and old.expires_at <= now:
        raise BadRequest(f"key: {key_id} has expired; create a new key instead")
    lifetime = None if old.expires_at is None else old.expires_at - old.created_at
    new, plaintext = await create_key(
        uow,
        old.location_id,
        list(old.scopes),
        old.name,
        expires_at=None if lifetime is None else now + lifetime,
        allowed_ips=list(old.allowed_ips or []),
        actor=actor,
    )
    ends = now + grace
    old.expires_at = ends if old.expires_at is None else min(old.expires_at, ends)
    old.replaced_by = new.id
    forget_everywhere()
    audit.record(
        uow,
        audit.CREDENTIAL_ROTATED,
        actor=actor,
        location_id=old.location_id,
        credential=f"api_key:{old.id}",
        replacedBy=f"api_key:{new.id}",
        oldKeyExpiresAt=old.expires_at.isoformat(),
    )
    return new, plaintext


async def list_keys(session: AsyncSession, location_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if location_id is not None:
        query = query.where(ApiKey.location_id == location_id)
    return list(await session.scalars(query))


async def find_key(session: AsyncSession, location_id: str, key_id: str) -> ApiKey:
    """The location's key with this id; another location's is not found."""
    key = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.location_id == location_id)
    )
    if key is None:
        raise NotFound(f"key: {key_id} not found")
    return key


async def set_allowed_ips(
    uow: UnitOfWork, key_id: str, entries: list[str], *, actor: str = "cli"
) -> ApiKey:
    """Where the key may be used from from now on (empty: anywhere); a bad entry is a 422
    naming it, and the key keeps its list."""
    key = await uow.session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound(f"key: {key_id} not found or revoked")
    networks = validate_networks(entries, "allowedIps")
    if networks != list(key.allowed_ips or []):
        key.allowed_ips = networks
        forget_everywhere()
        audit.record(
            uow,
            audit.CREDENTIAL_ALLOWLIST_CHANGED,
            actor=actor,
            location_id=key.location_id,
            credential=f"api_key:{key.id}",
            allowedIps=networks,
        )
    return key


async def revoke_key(uow: UnitOfWork, key_id: str, *, actor: str = "cli") -> ApiKey:
    key = await uow.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"key: {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        forget_everywhere()
        audit.record(
            uow,
            audit.CREDENTIAL_REVOKED,
            actor=actor,
            location_id=key.location_id,
            credential=f"api_key:{key.id}",
        )
    return key


async def record_use(db: Database, principal: Principal, ip: str | None) -> None:
    """Remember when and from where a key was used; a first use from a new address is audited."""
    async with db.unit_of_work() as uow:
        key = await uow.session.get(ApiKey, principal.credential_id)
        if key is None:
            return
        if ip is not None and ip != key.last_used_ip:
            audit.record(
                uow,
                audit.CREDENTIAL_NEW_IP,
                actor=principal.actor,
                location_id=key.location_id,
                ip=ip,
                previousIp=key.last_used_ip,
            )
        key.last_used_at = utcnow()
        key.last_used_ip = ip


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
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise Unauthorized("The token has expired")
    if token.startswith(TEST_PREFIX) != location.sandbox:
        # A sandbox key reaches only sandbox locations, a live key only live ones.
        raise Unauthorized(INVALID_TOKEN)
    return Principal(
        credential_id=key.id,
        credential_kind="api_key",
        company_id=location.company_id,
        location_id=location.id,
        scopes=frozenset(key.scopes),
        sandbox=location.sandbox,
        app_id=f"api_key:{key.id}",
        allowed_ips=tuple(key.allowed_ips or ()),
        expires_at=key.expires_at,
    )
