"""Identifiers: random, URL-safe, never sequential."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 24


_SPACE = len(_ALPHABET) ** ID_LENGTH
_BITS = _SPACE.bit_length()


def new_id() -> str:
    """A 24-character base62 id (~143 bits of randomness), every id equally likely.

    One draw of random bits per id (retried in the 7 % of cases that fall outside the id
    space), not one per character: ids are made for every row, deliveries included."""
    number = secrets.randbits(_BITS)
    while number >= _SPACE:
        number = secrets.randbits(_BITS)
    digits = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return "".join(digits)
