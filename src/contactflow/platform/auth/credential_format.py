"""The shape of every secret we issue: API keys, OAuth tokens, client secrets, codes.

A secret reads `<prefix>` + 32 random base62 characters + a 6-character CRC32 checksum, so
scanners can recognise a leaked one by its prefix and a mistyped one is refused before any
database look-up. Only its SHA-256 digest is stored.
"""

import hashlib
import secrets
import string
import zlib

_BASE62 = string.digits + string.ascii_letters
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(_BASE62[remainder])
    return "".join(reversed(digits))


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode()), CHECKSUM_LENGTH)


def generate(prefix: str) -> str:
    body = prefix + "".join(secrets.choice(_BASE62) for _ in range(SECRET_LENGTH))
    return body + _checksum(body)


def is_well_formed(value: str, *prefixes: str) -> bool:
    """True when `value` starts with one of `prefixes`, has the right length and checksum."""
    prefix = next((p for p in prefixes if value.startswith(p)), None)
    if prefix is None or len(value) != len(prefix) + SECRET_LENGTH + CHECKSUM_LENGTH:
        return False
    body, checksum = value[:-CHECKSUM_LENGTH], value[-CHECKSUM_LENGTH:]
    return secrets.compare_digest(_checksum(body), checksum)


def digest(value: str) -> str:
    """What is stored in place of the secret: its SHA-256, hex."""
    return hashlib.sha256(value.encode()).hexdigest()
