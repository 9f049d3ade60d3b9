"""Signing in at the authorization endpoint, and what a signed-in user may grant.

The browser holds a random session secret in an HttpOnly, SameSite=Lax cookie; only its
digest is stored. Consent forms carry a CSRF token derived from that secret, which a page
on another site can neither read nor compute.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.auth import credential_format
from contactflow.platform.auth.oauth.models import LoginSession, OAuthClient
from contactflow.platform.auth.oauth.tokens import SESSION_PREFIX, Grantee
from contactflow.platform.auth.scopes import COMPANY_SCOPES
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.tenancy import User, locations_of

SESSION_COOKIE = "cf_oauth_session"
SESSION_LIFETIME = timedelta(hours=8)
COMPANY_CHOICE = "company"


async def start_session(uow: UnitOfWork, user: User) -> str:
    """A new session for `user`; returns the cookie value, which is not stored."""
    now = utcnow()
    await uow.session.execute(
        delete(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires_at <= now)
    )
    secret = credential_format.generate(SESSION_PREFIX)
    uow.session.add(
        LoginSession(
            token_hash=credential_format.digest(secret),
            user_id=user.id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return secret


async def end_session(uow: UnitOfWork, secret: str) -> None:
    await uow.session.execute(
        delete(LoginSession).where(LoginSession.token_hash == credential_format.digest(secret))
    )


async def signed_in_user(session: AsyncSession, secret: str | None) -> User | None:
    if not secret or not credential_format.is_well_formed(secret, SESSION_PREFIX):
        return None
    return await session.scalar(
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.token_hash == credential_format.digest(secret),
            LoginSession.expires_at > utcnow(),
        )
    )


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"oauth-consent", hashlib.sha256).hexdigest()


def csrf_matches(secret: str, token: str) -> bool:
    return hmac.compare_digest(csrf_token(secret), token)


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer to "which location may the app reach?"."""

    value: str
    label: str
    company_id: str
    location_id: str | None

    def grantee(self, user: User) -> Grantee:
        return Grantee(user_id=user.id, company_id=self.company_id, location_id=self.location_id)


async def choices(
    session: AsyncSession, user: User, client: OAuthClient, scope: str
) -> list[Choice]:
    """What the user may grant the app: an app serves the company it is registered for;
    an admin may pick any of the company's locations, or the company itself when the app
    asks for company scopes; any other user only their own location."""
    mine = await locations_of(session, user)
    if not mine or mine[0].company_id != client.company_id:
        return []
    found = [Choice(row.id, row.name, row.company_id, row.id) for row in mine]
    if user.role == "admin" and COMPANY_SCOPES & set(scope.split()):
        found.insert(0, Choice(COMPANY_CHOICE, "The whole company", client.company_id, None))
    return found
