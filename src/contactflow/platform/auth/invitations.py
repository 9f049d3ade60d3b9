"""Users invited by a company admin, and their roles.

An invitation is a user without a password and a one-time link to give themselves one: the
link holds a random secret (`cf_inv_` + 32 base62 + checksum) of which only the digest is
stored. It works once, within `VALID_FOR`; opening it sets the password and signs in.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ForeignKey, String, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform import audit
from contactflow.platform.auth import credential_format
from contactflow.platform.auth.passwords import hash_password, validate_password
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, UnitOfWork, UTCDateTime
from contactflow.platform.errors import BadRequest, NotFound
from contactflow.platform.ids import new_id
from contactflow.platform.tenancy import ROLES, Location, User

SECRET_PREFIX = "cf_inv_"  # noqa: S105 - the prefix, not a secret
VALID_FOR = timedelta(hours=24)
MAX_NAME_LENGTH = 255


class Invitation(Base):
    __tablename__ = "user_invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Who invited: "user:<id>", "cli".
    invited_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Invited:
    user: User
    invitation: Invitation


def _role(role: str) -> str:
    if role not in ROLES:
        raise BadRequest(f"role: one of {', '.join(ROLES)}")
    return role


def _name(field: str, value: str) -> str:
    if len(value.strip()) > MAX_NAME_LENGTH or not value.isprintable():
        raise BadRequest(f"{field}: at most {MAX_NAME_LENGTH} printable characters")
    return value.strip()


def _email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise BadRequest(f"email: {error}") from None


async def invite(
    uow: UnitOfWork,
    location: Location,
    *,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    actor: str,
) -> tuple[User, str]:
    """A new user of the location and the secret of their link, which exists only here."""
    problems: list[str] = []

    def checked(check: Callable[[str], str], value: str) -> str:
        try:
            return check(value)
        except BadRequest as error:
            problems.append(str(error.message))
            return value

    email = checked(_email, email)
    first_name = checked(partial(_name, "firstName"), first_name)
    last_name = checked(partial(_name, "lastName"), last_name)
    role = checked(_role, role)
    if problems:
        raise BadRequest(problems)
    taken = await uow.session.scalar(
        select(User.id).where(
            User.location_id == location.id, func.lower(User.email) == email.lower()
        )
    )
    if taken is not None:
        raise BadRequest("email: a user of this location has it already")
    user = User(
        location_id=location.id,
        first_name=first_name,
        last_name=last_name,
        email=email,
        role=role,
    )
    uow.session.add(user)
    await uow.session.flush()
    secret = credential_format.generate(SECRET_PREFIX)
    now = utcnow()
    uow.session.add(
        Invitation(
            user_id=user.id,
            token_hash=credential_format.digest(secret),
            invited_by=actor,
            created_at=now,
            expires_at=now + VALID_FOR,
        )
    )
    audit.record(
        uow,
        audit.USER_INVITED,
        actor=actor,
        location_id=location.id,
        company_id=location.company_id,
        user=user.id,
        role=user.role,
    )
    return user, secret


async def find(session: AsyncSession, secret: str) -> Invited | None:
    """The invitation this link's secret opens, with its user; None when it is unknown, used
    or expired."""
    if not credential_format.is_well_formed(secret, SECRET_PREFIX):
        return None
    row = (
        await session.execute(
            select(Invitation, User)
            .join(User, User.id == Invitation.user_id)
            .where(
                Invitation.token_hash == credential_format.digest(secret),
                Invitation.used_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
        )
    ).first()
    return None if row is None else Invited(user=row[1], invitation=row[0])


async def accept(uow: UnitOfWork, secret: str, password: str) -> User:
    """Give the invited user their password, once: the link is spent in the same transaction,
    so of two uses at the same time one is refused."""
    validate_password(password)
    found = await find(uow.session, secret)
    if found is None:
        raise NotFound("invitation: the link is unknown, used or expired")
    spent = await uow.session.execute(
        update(Invitation)
        .where(Invitation.id == found.invitation.id, Invitation.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if getattr(spent, "rowcount", 0) != 1:
        raise NotFound("invitation: the link is unknown, used or expired")
    found.user.password_hash = await asyncio.to_thread(hash_password, password)
    audit.record(
        uow,
        audit.USER_JOINED,
        actor=f"user:{found.user.id}",
        location_id=found.user.location_id,
        user=found.user.id,
    )
    return found.user


async def pending(session: AsyncSession, user_ids: list[str]) -> dict[str, datetime]:
    """Of these users, those whose invitation is still open, with when it ends."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(Invitation.user_id, func.max(Invitation.expires_at))
        .where(
            Invitation.user_id.in_(user_ids),
            Invitation.used_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .group_by(Invitation.user_id)
    )
    return {user_id: expires for user_id, expires in rows}


async def find_user(session: AsyncSession, location_id: str, user_id: str) -> User:
    user = await session.scalar(
        select(User).where(User.id == user_id, User.location_id == location_id)
    )
    if user is None:
        raise NotFound(f"user: {user_id} not found")
    return user


async def change_role(uow: UnitOfWork, user: User, role: str, *, actor: str) -> User:
    if _role(role) != user.role:
        audit.record(
            uow,
            audit.USER_ROLE_CHANGED,
            actor=actor,
            location_id=user.location_id,
            user=user.id,
            role=role,
            previousRole=user.role,
        )
        user.role = role
    return user
