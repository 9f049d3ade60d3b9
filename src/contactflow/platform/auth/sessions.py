"""Sign-in: server-side sessions and the throttle on sign-in attempts.

One sign-in serves the dashboard and the OAuth consent page: people sign in at the
dashboard's sign-in page (`SIGN_IN_PATH`), and its cookie is sent to every path of the site.
The browser holds a random secret in an HttpOnly, SameSite=Lax cookie (Secure over https);
only its digest is stored, with the session's last use and address, so a user can see where
they are signed in and end any of those sessions. A session ends after `IDLE` without use,
and after `LONGEST` in any case. Each form and htmx request carries a CSRF token derived from
the secret: a page of another site can neither read nor compute it.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, ForeignKey, Index, String, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from contactflow.platform.auth import credential_format
from contactflow.platform.auth.ip import client_ip
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, Database, UnitOfWork, UTCDateTime
from contactflow.platform.ids import new_id
from contactflow.platform.tenancy import User

SECRET_PREFIX = "cf_web_"  # noqa: S105 - the prefix, not a secret
COOKIE = "cf_session"
# Where a person signs in; `next` brings them back to the local path they asked for.
SIGN_IN_PATH = "/app/login"
# Where the cookie lived before the consent page used it: cleared when it is replaced.
OLD_COOKIE_PATH = "/app"
IDLE = timedelta(hours=12)
LONGEST = timedelta(days=30)
# A session's last use is written at most this often: not one write per page.
TOUCH_EVERY = timedelta(minutes=1)
# Failed sign-ins counted over the window, per account and per address.
THROTTLE_WINDOW = timedelta(minutes=15)
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignInFailure(Base):
    """One wrong password (or unknown email): what the throttle counts."""

    __tablename__ = "web_sign_in_failures"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "account", "at"), Index(None, "address", "at"))


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: WebSession
    secret: str

    @property
    def csrf_token(self) -> str:
        return csrf_token(self.secret)


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"dashboard-csrf", hashlib.sha256).hexdigest()


def csrf_matches(secret: str, token: str) -> bool:
    return hmac.compare_digest(csrf_token(secret), token)


def _account(email: str) -> str:
    return email.strip().lower()[:320]


async def throttled(session: AsyncSession, email: str, address: str) -> bool:
    """Whether sign-in is refused for now: too many recent failures for the account, or
    from the address."""
    since = utcnow() - THROTTLE_WINDOW
    failures = select(func.count()).select_from(SignInFailure).where(SignInFailure.at > since)
    by_account = await session.scalar(failures.where(SignInFailure.account == _account(email)))
    by_address = await session.scalar(failures.where(SignInFailure.address == address))
    return (by_account or 0) >= ACCOUNT_FAILURES or (by_address or 0) >= ADDRESS_FAILURES


async def record_failure(uow: UnitOfWork, email: str, address: str) -> None:
    """Count a failed sign-in; failures older than the window are forgotten."""
    now = utcnow()
    await uow.session.execute(
        delete(SignInFailure).where(SignInFailure.at <= now - THROTTLE_WINDOW)
    )
    uow.session.add(SignInFailure(account=_account(email), address=address, at=now))


async def start(uow: UnitOfWork, user: User, address: str | None, user_agent: str) -> str:
    """A new session for `user`; returns the cookie's secret, which is not stored. The
    user's sessions that have ended by time are deleted."""
    secret = credential_format.generate(SECRET_PREFIX)
    now = utcnow()
    await uow.session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, ~and_(*_live(now)))
    )
    uow.session.add(
        WebSession(
            token_hash=credential_format.digest(secret),
            user_id=user.id,
            address=address,
            user_agent=user_agent[:255],
            created_at=now,
            last_used_at=now,
        )
    )
    return secret


def _live(now: datetime) -> list[ColumnElement[bool]]:
    return [WebSession.last_used_at > now - IDLE, WebSession.created_at > now - LONGEST]


def ended(now: datetime) -> ColumnElement[bool]:
    """Sessions no cookie opens any more: idle too long or too old (retention deletes them)."""
    return ~and_(*_live(now))


async def find(session: AsyncSession, secret: str | None) -> SignedIn | None:
    """The live session this cookie secret opens, with its user; None when it is unknown,
    ended, idle too long or too old."""
    if not secret or not credential_format.is_well_formed(secret, SECRET_PREFIX):
        return None
    row = (
        await session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_hash == credential_format.digest(secret), *_live(utcnow()))
        )
    ).first()
    if row is None:
        return None
    return SignedIn(user=row[1], session=row[0], secret=secret)


def sign_in_url(request: Request) -> str:
    """The sign-in page, which brings the browser back to this request's URL afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{SIGN_IN_PATH}?{urlencode({'next': target})}"


def sign_in_first(request: Request) -> RedirectResponse:
    return RedirectResponse(sign_in_url(request), status_code=303)


def address_of(request: Request, *, trust_proxy: bool) -> str:
    """The address a session records and the throttle counts."""
    return client_ip(request, trust_proxy=trust_proxy) or "unknown"


def set_cookie(response: Response, secret: str, *, secure: bool) -> None:
    response.delete_cookie(COOKIE, path=OLD_COOKIE_PATH)
    response.set_cookie(COOKIE, secret, path="/", secure=secure, httponly=True, samesite="lax")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=OLD_COOKIE_PATH)
    response.delete_cookie(COOKIE, path="/")


async def resume(db: Database, secret: str | None, address: str | None) -> SignedIn | None:
    """The live session of this cookie secret, its last use and address brought up to date
    (at most once per `TOUCH_EVERY`); None when there is none."""
    async with db.reader() as session:
        signed_in = await find(session, secret)
    if signed_in is not None and needs_touch(signed_in, address):
        async with db.unit_of_work() as uow:
            await touch(uow, signed_in.session.id, address)
    return signed_in


def needs_touch(signed_in: SignedIn, address: str | None) -> bool:
    stale = utcnow() - signed_in.session.last_used_at >= TOUCH_EVERY
    return stale or signed_in.session.address != address


async def touch(uow: UnitOfWork, session_id: str, address: str | None) -> None:
    row = await uow.session.get(WebSession, session_id)
    if row is not None:
        row.last_used_at, row.address = utcnow(), address


async def of_user(session: AsyncSession, user_id: str) -> list[WebSession]:
    """The user's live sessions, the most recently used first."""
    rows = await session.scalars(
        select(WebSession)
        .where(WebSession.user_id == user_id, *_live(utcnow()))
        .order_by(WebSession.last_used_at.desc(), WebSession.id)
    )
    return list(rows)


async def end(uow: UnitOfWork, user_id: str, session_id: str) -> None:
    """End one of the user's sessions (another user's id ends nothing)."""
    await uow.session.execute(
        delete(WebSession).where(WebSession.id == session_id, WebSession.user_id == user_id)
    )


async def end_all(uow: UnitOfWork, user_id: str) -> None:
    await uow.session.execute(delete(WebSession).where(WebSession.user_id == user_id))
