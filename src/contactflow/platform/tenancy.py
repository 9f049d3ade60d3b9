"""Tenants: companies (agencies) own locations (sub-accounts); users belong to a location.

Every record of every context hangs off a location; a credential is bound to one.
"""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, UTCDateTime
from contactflow.platform.ids import new_id

DEFAULT_UPSERT_PRIORITY = ["email", "phone"]
# A user's roles: an admin acts for every location of the company, a user for their own.
ADMIN = "admin"
ROLES = ("user", ADMIN)


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_duplicate_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    # Which field an upsert matches first; the next is tried when the first finds nothing.
    upsert_priority: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_UPSERT_PRIORITY)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(255))
    last_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32), default="user")
    # scrypt, see platform/auth/passwords.py; None: the user cannot sign in (API-only data).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


async def find_location(session: AsyncSession, location_id: str) -> Location | None:
    return await session.get(Location, location_id)


async def locations_of(session: AsyncSession, user: User) -> list[Location]:
    """The locations a user acts for: an admin, every location of their company; any other
    user, their own."""
    own = await session.get(Location, user.location_id)
    if own is None:
        return []
    if user.role != ADMIN:
        return [own]
    rows = await session.scalars(
        select(Location).where(Location.company_id == own.company_id).order_by(Location.name)
    )
    return list(rows)


async def users_of(session: AsyncSession, location_id: str) -> list[User]:
    rows = await session.scalars(
        select(User).where(User.location_id == location_id).order_by(User.created_at, User.id)
    )
    return list(rows)


async def missing_users(session: AsyncSession, location_id: str, user_ids: list[str]) -> list[str]:
    """The ids in `user_ids` that are not users of the location."""
    if not user_ids:
        return []
    found = set(
        await session.scalars(
            select(User.id).where(User.location_id == location_id, User.id.in_(user_ids))
        )
    )
    return [user_id for user_id in user_ids if user_id not in found]
