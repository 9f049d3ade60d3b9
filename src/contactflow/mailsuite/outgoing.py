"""An email as it goes out: its envelope and the bytes of its message, written by
`wire_message` and nowhere else, so what an SMTP server receives is what this module wrote.

The header fields are written here rather than by the email package's policies, which fold a
long token of a structured field (List-Unsubscribe's link) into RFC 2047 encoded-words that
such a field must never hold, and cut long non-ASCII text into encoded-words over 75
characters that lose or add spaces. Here a field is folded only before white space it has;
encoded-words, only in the Subject and display names, hold whole characters and at most 75
characters each. The MIME parts come from the email package with 7bit transfer encodings, so
the same bytes suit a server without 8BITMIME.

An address with a non-ASCII local part can only go with SMTPUTF8 (RFC 6531), and its message
then has its header fields in UTF-8 (RFC 6532); with an ASCII local part the domain is written
in IDNA (xn--), so that servers without SMTPUTF8 take it.
"""

import base64
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

from email_validator import validate_email

# RFC 5322 2.1.1: a line SHOULD hold at most 78 characters and MUST hold at most 998 octets.
LINE_LENGTH = 78
LINE_LIMIT = 998
# CRLF, and quoted-printable or base64 for text that is not short-lined ASCII.
_PARTS_POLICY = SMTP.clone(cte_type="7bit")
# "=?utf-8?b?" + base64 + "?=" within RFC 2047's 75 characters: 60 base64 characters.
_WORD_OCTETS = 45
# A display name of atoms and spaces needs no quotes (RFC 5322 atext; RFC 6532 adds UTF-8).
_ATOMS = re.compile(r"[\w!#$%&'*+/=?^`{|}~ -]+")
# What folding moves to a new line: white space and the word after it.
_CHUNK = re.compile(r"[ \t]*[^ \t]+")
# What an encoded-word ends after where it can: a word and the white space after it.
_PIECE = re.compile(r"\S*\s*")


@dataclass(frozen=True)
class Outgoing:
    """What one email needs to become a message."""

    message_id: str
    from_email: str
    from_name: str
    reply_to: str | None
    to_email: str
    to_name: str
    subject: str
    html: str
    text: str
    unsubscribe_url: str
    email_id: str


@dataclass(frozen=True)
class WireMessage:
    """What is handed to SMTP: the envelope and the message's bytes."""

    mail_from: str
    rcpt_to: str
    data: bytes
    # The addresses whose local part is not ASCII: the message goes only with SMTPUTF8.
    needs_smtputf8: tuple[str, ...]


def ascii_domain(address: str) -> str:
    """The domain of `address` in IDNA A-labels, as DNS, EHLO and Message-IDs need it."""
    domain = address.rpartition("@")[2]
    if domain.isascii():
        return domain
    return validate_email(address, check_deliverability=False).ascii_domain


def _wire_address(address: str) -> str:
    local = address.rpartition("@")[0]
    return f"{local}@{ascii_domain(address)}" if local.isascii() else address


def _field(name: str, value: str) -> str:
    """`name: value` folded (RFC 5322 2.2.3) only before the value's own white space, within
    78 characters where its words allow."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"{name} holds a line break")
    lines = [f"{name}:"]
    for chunk in _CHUNK.findall(" " + value.strip(" \t")):
        # A word that fits on no line stays beside the field name.
        alone = lines == [f"{name}:"] and len(chunk) > LINE_LENGTH
        if len(lines[-1]) + len(chunk) <= LINE_LENGTH or alone:
            lines[-1] += chunk
        else:
            lines.append(chunk)
    if any(len(line.encode()) > LINE_LIMIT for line in lines):
        raise ValueError(f"{name} has a word longer than a header line may be")
    return "\r\n".join(lines) + "\r\n"


def _encoded_words(text: str) -> str:
    """`text` as RFC 2047 encoded-words (UTF-8, base64) of whole characters, separated by
    spaces that decoders drop, so the text's own spaces travel inside the words. A word ends
    after a space where it can: a decoder that keeps the white space between encoded-words
    (Python's address parser does) then shows a doubled space, not a word cut in two."""
    words = [b""]
    for piece in _PIECE.findall(text):
        if words[-1] and len(words[-1]) + len(piece.encode()) > _WORD_OCTETS:
            words.append(b"")
        for char in piece:
            octets = char.encode()
            if len(words[-1]) + len(octets) > _WORD_OCTETS:
                words.append(b"")
            words[-1] += octets
    return " ".join(f"=?utf-8?b?{base64.b64encode(word).decode()}?=" for word in words)


def _encoded_text(text: str) -> str:
    return text if text.isascii() else _encoded_words(text)


def _mailbox(display_name: str, address: str, utf8: bool) -> str:
    if not display_name.strip():
        return address
    if not (utf8 or display_name.isascii()):
        phrase = _encoded_words(display_name)
    elif _ATOMS.fullmatch(display_name):
        phrase = display_name
    else:
        phrase = '"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{phrase} <{address}>"


def wire_message(outgoing: Outgoing) -> WireMessage:
    """The envelope and bytes handed to SMTP for `outgoing`: multipart/alternative (text, then
    HTML) with the fixed Message-ID and RFC 8058 one-click unsubscribe."""
    mail_from = _wire_address(outgoing.from_email)
    rcpt_to = _wire_address(outgoing.to_email)
    reply_to = _wire_address(outgoing.reply_to) if outgoing.reply_to else None
    needs_smtputf8 = tuple(
        address for address in (mail_from, rcpt_to, reply_to) if address and not address.isascii()
    )
    utf8 = bool(needs_smtputf8)
    fields = [
        ("Message-ID", outgoing.message_id),
        ("Date", formatdate(usegmt=True)),
        ("From", _mailbox(outgoing.from_name, mail_from, utf8)),
        ("To", _mailbox(outgoing.to_name, rcpt_to, utf8)),
        *([("Reply-To", reply_to)] if reply_to else []),
        ("Subject", outgoing.subject if utf8 else _encoded_text(outgoing.subject)),
        ("List-Unsubscribe", f"<{outgoing.unsubscribe_url}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        # Lets a bounce processor name the email even when the Message-ID was rewritten.
        ("X-Contactflow-Email-Id", outgoing.email_id),
    ]
    head = "".join(_field(name, value) for name, value in fields)
    parts = EmailMessage(policy=_PARTS_POLICY)
    parts.set_content(outgoing.text)
    parts.add_alternative(outgoing.html, subtype="html")
    data = head.encode("utf-8" if utf8 else "ascii") + parts.as_bytes()
    return WireMessage(mail_from, rcpt_to, data, needs_smtputf8)
