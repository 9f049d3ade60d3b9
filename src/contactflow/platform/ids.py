"""Identifiers: random, URL-safe, never sequential."""

import os
import string

_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 24

# A random byte below 248 (4 x 62) names a character, each of the 62 by four bytes: every
# character equally likely. The bytes from 248 up are dropped.
_USABLE = 4 * len(_ALPHABET)
_TO_CHARACTER = bytes(_ALPHABET[byte % len(_ALPHABET)].encode()[0] for byte in range(256))
_DROPPED = bytes(range(_USABLE, 256))
# Enough random bytes that fewer than 24 of them are usable about once in 10^14 draws.
_DRAW = 40


def new_id() -> str:
    """A 24-character base62 id (~143 bits of randomness), every id equally likely.

    One draw of random bytes per id (another in the rare case too few of them were usable),
    each byte made a character in C (bytes.translate), not one division per character: ids
    are made for every row, deliveries and events included."""
    characters = b""
    while len(characters) < ID_LENGTH:
        characters += os.urandom(_DRAW).translate(_TO_CHARACTER, _DROPPED)
    return characters[:ID_LENGTH].decode()
