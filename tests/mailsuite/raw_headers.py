"""Header fields as they were on the wire: the bytes an SMTP server received, read without
Python's parser, which unfolds lines and decodes encoded-words and so hides what a mail client
meets (a List-Unsubscribe written as an encoded-word parses back to the link, yet no client
offers its unsubscribe button)."""

import base64
import binascii
import re
from collections.abc import Collection
from email.header import decode_header, make_header

# RFC 5322 2.1.1: a line SHOULD hold at most 78 characters (RFC 6532 3.4 keeps that count in
# characters) and MUST hold at most 998 octets.
LINE_LENGTH = 78
LINE_LIMIT = 998
# RFC 2047 2: an encoded-word is at most 75 characters long.
ENCODED_WORD_LENGTH = 75
ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")
FIELD_NAME = re.compile(rb"[!-9;-~]+")
# Where RFC 2047 5 allows encoded-words in the fields Mailsuite writes: the Subject (text),
# and the display names of From, To and Reply-To (phrases).
WITH_ENCODED_WORDS = ("Subject", "From", "To", "Reply-To")


def _fields(raw: bytes) -> dict[str, list[bytes]]:
    """Each field of the header block, by name, as its physical lines."""
    head, blank, _ = raw.partition(b"\r\n\r\n")
    assert blank, "no empty line ends the header block"
    fields: dict[str, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in head.split(b"\r\n"):
        assert b"\r" not in line, f"a bare CR: {line!r}"
        assert b"\n" not in line, f"a bare LF: {line!r}"
        if line[:1] in (b" ", b"\t"):
            assert current is not None, f"the header block starts with a fold: {line!r}"
            current.append(line)
            continue
        name, colon, _ = line.partition(b":")
        assert colon, f"not a header field: {line!r}"
        assert FIELD_NAME.fullmatch(name), f"not a field name: {line!r}"
        assert name.decode().lower() not in map(str.lower, fields), f"{name!r} twice"
        current = fields[name.decode()] = [line]
    return fields


def _check_lines(name: str, lines: list[bytes], *, utf8: bool) -> None:
    """Folding (RFC 5322 2.2.3) puts a line break only before white space, never leaves a line
    of white space alone, and keeps lines short where the words allow."""
    for index, line in enumerate(lines):
        assert len(line) <= LINE_LIMIT, f"{name}: a line of {len(line)} octets"
        if not utf8:
            assert line.isascii(), f"{name}: 8-bit octets without SMTPUTF8: {line!r}"
        text = line.decode()
        if index:
            assert text[:1] in (" ", "\t"), f"{name}: a fold not before white space: {line!r}"
            assert text.strip(), f"{name}: a fold leaving a line of white space: {line!r}"
        words = text.split()[1:] if index == 0 else text.split()
        if len(text) > LINE_LENGTH:
            assert len(words) <= 1, f"{name}: a long line that could have been folded: {text!r}"


def _enclosed(value: str) -> list[tuple[int, int]]:
    """The spans of quoted-strings and of <...> in a structured value."""
    spans: list[tuple[int, int]] = []
    opened: tuple[str, int] | None = None
    escaped = False
    for index, char in enumerate(value):
        if opened is not None and opened[0] == '"':
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                spans.append((opened[1], index))
                opened = None
        elif opened is None and char in '"<':
            opened = (char, index)
        elif opened is not None and char == ">":
            spans.append((opened[1], index))
            opened = None
    return spans


def _check_encoded_words(name: str, value: str, *, allowed: bool) -> None:
    """RFC 2047: none in a structured field; elsewhere each is at most 75 characters, decodes,
    stands apart from its neighbours by white space, and is never inside a quoted-string or an
    address."""
    words = list(ENCODED_WORD.finditer(value))
    assert allowed or not words, f"{name}: encoded-words in a field that must not hold any"
    enclosed = _enclosed(value) if name != "Subject" else []
    for word in words:
        text = word.group()
        assert len(text) <= ENCODED_WORD_LENGTH, f"{name}: {len(text)} characters: {text}"
        before, after = value[: word.start()], value[word.end() :]
        assert before == "" or before[-1].isspace(), f"{name}: glued before: {text}"
        assert after == "" or after[0].isspace(), f"{name}: glued after: {text}"
        assert not any(start < word.start() < end for start, end in enclosed), (
            f"{name}: an encoded-word inside quotes or an address: {value}"
        )
        if word.group(2) in "Bb":
            try:
                base64.b64decode(word.group(3), validate=True).decode(word.group(1))
            except (binascii.Error, UnicodeDecodeError, LookupError) as error:
                raise AssertionError(f"{name}: {text} does not decode: {error}") from error


def raw_headers(
    raw: bytes, *, utf8: bool = False, encoded_words: Collection[str] = WITH_ENCODED_WORDS
) -> dict[str, str]:
    """Every header field of a message as received, unfolded (encoded-words kept as they
    are), once each has passed the checks above. `utf8`: the message went with SMTPUTF8, so
    its headers may hold UTF-8 (RFC 6532)."""
    values = {}
    for name, lines in _fields(raw).items():
        _check_lines(name, lines, utf8=utf8)
        value = b"".join(lines).decode().partition(":")[2].lstrip(" \t")
        _check_encoded_words(name, value, allowed=name in encoded_words)
        values[name] = value
    return values


def decoded(value: str) -> str:
    """A value with its encoded-words decoded as RFC 2047 6.2 says (white space between two
    encoded-words is dropped; Python's address parser keeps it)."""
    return str(make_header(decode_header(value)))
