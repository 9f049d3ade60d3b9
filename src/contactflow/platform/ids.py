"""Identifiers: random, URL-safe, never sequential."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 24


def new_id() -> str:
    """A 24-character base62 id (~143 bits of randomness)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(ID_LENGTH))
