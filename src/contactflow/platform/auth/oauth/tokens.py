"""OAuth tokens: their format, what is stored of them, and turning one into a caller.

Access tokens read `cf_oat_…` and refresh tokens `cf_ort_…` (credential_format: random,
checksummed, stored as SHA-256). A Location token becomes the same `Principal` an API key
does; a Company token is only good for the company routes (/oauth/locationToken,
/oauth/installedLocations).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from contactflow.platform.auth import credential_format
from contactflow.platform.auth.api_keys import INVALID_TOKEN
from contactflow.platform.auth.credential_cache import forget_everywhere
from contactflow.platform.auth.oauth.models import COMPANY, LOCATION, OAuthClient, OAuthToken
from contactflow.platform.auth.principal import Principal
from contactflow.platform.clock import utcnow
from contactflow.platform.errors import Unauthorized
from contactflow.platform.tenancy import Location
from contactflow.settings import Settings

ACCESS_PREFIX = "cf_oat_"
REFRESH_PREFIX = "cf_ort_"
CODE_PREFIX = "cf_oac_"
CLIENT_SECRET_PREFIX = "cf_ocs_"  # noqa: S105 - a prefix, not a secret

NEEDS_LOCATION_CALLER = (
    "This route needs a Location access token; exchange the Company token for one at "
    "POST /oauth/locationToken"
)
NEEDS_COMPANY_CALLER = "This route needs a Company access token (OAuth, userType Company)"


def is_access_token(token: str) -> bool:
    """Whether a bearer token is ours to check (rather than an API key's)."""
    return token.startswith(ACCESS_PREFIX)


@dataclass(frozen=True, slots=True)
class Grantee:
    """Whom a grant acts for: a user (None when an app acts for its own company with
    client_credentials), their company, and a location unless it is a Company grant."""

    user_id: str | None
    company_id: str
    location_id: str | None

    @property
    def user_type(self) -> str:
        return LOCATION if self.location_id else COMPANY


@dataclass(frozen=True, slots=True)
class Lifetimes:
    access: timedelta
    refresh: timedelta

    @classmethod
    def of(cls, settings: Settings) -> "Lifetimes":
        return cls(
            access=timedelta(seconds=settings.oauth_access_token_seconds),
            refresh=timedelta(seconds=settings.oauth_refresh_token_seconds),
        )


def token_response(
    grantee: Grantee, scope: str, lifetimes: Lifetimes, *, with_refresh: bool
) -> dict[str, Any]:
    """New secrets, in HighLevel's token response shape (RFC 6749's fields plus theirs)."""
    body: dict[str, Any] = {
        "access_token": credential_format.generate(ACCESS_PREFIX),
        "token_type": "Bearer",
        "expires_in": int(lifetimes.access.total_seconds()),
        "scope": scope,
        "userType": grantee.user_type,
        "companyId": grantee.company_id,
    }
    if with_refresh:
        body["refresh_token"] = credential_format.generate(REFRESH_PREFIX)
    if grantee.location_id is not None:
        body["locationId"] = grantee.location_id
    if grantee.user_id is not None:
        body["userId"] = grantee.user_id
    return body


def token_row(
    body: dict[str, Any],
    *,
    client_id: str,
    grantee: Grantee,
    family_id: str,
    lifetimes: Lifetimes,
) -> OAuthToken:
    """What is kept of an issued `token_response`: digests and the grant, never secrets."""
    now = utcnow()
    refresh = body.get("refresh_token")
    return OAuthToken(
        family_id=family_id,
        client_id=client_id,
        user_id=grantee.user_id,
        company_id=grantee.company_id,
        location_id=grantee.location_id,
        scopes=str(body["scope"]).split(),
        access_token_hash=credential_format.digest(body["access_token"]),
        refresh_token_hash=credential_format.digest(refresh) if refresh else None,
        created_at=now,
        access_expires_at=now + lifetimes.access,
        refresh_expires_at=now + lifetimes.refresh if refresh else None,
    )


def revoke_family(session: Session, family_id: str) -> None:
    """Revoke every token descended from one authorization."""
    forget_everywhere()
    session.execute(
        update(OAuthToken)
        .where(OAuthToken.family_id == family_id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


@dataclass(frozen=True, slots=True)
class PresentedToken:
    """A token handed to revocation or introspection: which row, and which of its two
    secrets (Authlib's TokenMixin, duck-typed)."""

    row: OAuthToken
    kind: str  # "access_token" or "refresh_token"

    def check_client(self, client: OAuthClient) -> bool:
        return self.row.client_id == client.id

    def get_scope(self) -> str:
        return self.row.get_scope()

    @property
    def expires_at(self) -> datetime | None:
        row = self.row
        return row.access_expires_at if self.kind == "access_token" else row.refresh_expires_at

    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        spent = self.kind == "refresh_token" and self.row.refreshed_at is not None
        return self.row.revoked_at is not None or spent


def find_presented(session: Session, value: str) -> PresentedToken | None:
    """The prefix says which kind a token is, so the hint RFC 7009 allows is not needed."""
    for kind, prefix, column in (
        ("access_token", ACCESS_PREFIX, OAuthToken.access_token_hash),
        ("refresh_token", REFRESH_PREFIX, OAuthToken.refresh_token_hash),
    ):
        if credential_format.is_well_formed(value, prefix):
            row = session.scalar(
                select(OAuthToken).where(column == credential_format.digest(value))
            )
            return PresentedToken(row, kind) if row is not None else None
    return None


@dataclass(frozen=True, slots=True)
class CompanyCaller:
    """The holder of a Company token."""

    token: OAuthToken
    client: OAuthClient

    @property
    def actor(self) -> str:
        return f"oauth_token:{self.token.id}"


async def _live_access_token(
    session: AsyncSession, token: str
) -> tuple[OAuthToken, OAuthClient, Location | None]:
    if not credential_format.is_well_formed(token, ACCESS_PREFIX):
        raise Unauthorized(INVALID_TOKEN)
    found = (
        await session.execute(
            select(OAuthToken, OAuthClient, Location)
            .join(OAuthClient, OAuthClient.id == OAuthToken.client_id)
            .outerjoin(Location, Location.id == OAuthToken.location_id)
            .where(OAuthToken.access_token_hash == credential_format.digest(token))
        )
    ).first()
    if found is None:
        raise Unauthorized(INVALID_TOKEN)
    row, client, location = found
    if row.revoked_at is not None:
        raise Unauthorized("The token has been revoked")
    if row.access_expires_at <= utcnow():
        raise Unauthorized("The token has expired")
    return row, client, location


async def authenticate_access_token(session: AsyncSession, token: str) -> Principal:
    """A Location token as the caller of a location route, with its app's IP allowlist."""
    row, client, location = await _live_access_token(session, token)
    if location is None:
        raise Unauthorized(NEEDS_LOCATION_CALLER)
    return Principal(
        credential_id=row.id,
        credential_kind="oauth_token",
        company_id=row.company_id,
        location_id=location.id,
        scopes=frozenset(row.scopes),
        sandbox=location.sandbox,
        app_id=client.principal_app_id,
        allowed_ips=tuple(client.allowed_ips or ()),
        expires_at=row.access_expires_at,
    )


async def authenticate_company_token(session: AsyncSession, token: str) -> CompanyCaller:
    if not is_access_token(token):
        raise Unauthorized(NEEDS_COMPANY_CALLER)
    row, client, _ = await _live_access_token(session, token)
    if row.location_id is not None:
        raise Unauthorized(f"{NEEDS_COMPANY_CALLER}; a Location token cannot act for its company")
    return CompanyCaller(token=row, client=client)
