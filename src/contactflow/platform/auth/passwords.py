"""User passwords: scrypt hashes (the standard library's, memory-hard), and signing in.

A hash reads `scrypt$<n>$<r>$<p>$<salt>$<key>` (base64), so the cost can be raised later
without invalidating stored hashes: each one carries the parameters it was made with.
"""

import asyncio
import base64
import hashlib
import hmac
import secrets
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import BadRequest, NotFound
from contactflow.platform.tenancy import User

# 16 MiB and some tens of milliseconds per hash: slow for guessing, fine for signing in.
_N, _R, _P = 2**14, 8, 1
_KEY_LENGTH = 32
MIN_LENGTH = 8
MAX_LENGTH = 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_KEY_LENGTH)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@cache
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def validate_password(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise BadRequest(f"password: must be {MIN_LENGTH} to {MAX_LENGTH} characters long")
    return password


async def _users_with_email(
    session: AsyncSession, email: str, location_id: str | None = None
) -> list[User]:
    if "\x00" in email:  # no stored email has one, and PostgreSQL refuses to compare it
        return []
    query = select(User).where(func.lower(User.email) == email.strip().lower())
    if location_id is not None:
        query = query.where(User.location_id == location_id)
    return list(await session.scalars(query.order_by(User.created_at, User.id)))


async def set_password(
    uow: UnitOfWork, email: str, password: str, *, location_id: str | None = None
) -> User:
    """Give the user with this email a password; `location_id` tells apart users of
    different locations who share an email."""
    users = await _users_with_email(uow.session, email, location_id)
    if not users:
        raise NotFound(f"user: no user with email {email}")
    if len(users) > 1:
        raise BadRequest(f"user: {len(users)} users have email {email}; name the location")
    hashed = await asyncio.to_thread(hash_password, validate_password(password))
    users[0].password_hash = hashed
    return users[0]


async def sign_in(session: AsyncSession, email: str, password: str) -> User | None:
    """The user these credentials belong to, or None. An unknown email costs as much time
    as a wrong password, so response times do not tell which emails exist."""
    if len(password) > MAX_LENGTH:
        return None
    candidates = [user for user in await _users_with_email(session, email) if user.password_hash]
    for user in candidates:
        assert user.password_hash is not None
        if await asyncio.to_thread(verify_password, password, user.password_hash):
            return user
    if not candidates:
        await asyncio.to_thread(verify_password, password, _decoy_hash())
    return None
