"""An SMTP server on loopback (aiosmtpd) that keeps what it receives, can refuse the next
messages or every message to an address with chosen replies, can go down and come back on
the same port, and can require AUTH or offer SMTPUTF8."""

import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    login: str | None
    mail_options: list[str]


@dataclass
class Mailbox:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    # Replies to the next DATA commands ("451 4.3.0 try later"), then 250.
    plan: list[str] = field(default_factory=list)
    # Replies to DATA for messages to these addresses until taken back, and what they refused.
    refusing: dict[str, str] = field(default_factory=dict)
    refused: list[Received] = field(default_factory=list)
    # (user, password) required when set.
    credentials: tuple[str, str] | None = None
    # Offer SMTPUTF8 (RFC 6531) in the EHLO reply.
    smtputf8: bool = False
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse_next(self, *replies: str) -> None:
        with self._lock:
            self.plan.extend(replies)

    def refuse(self, address: str, reply: str) -> None:
        """Answer `reply` to every message to `address` until `accept` takes it back."""
        with self._lock:
            self.refusing[address] = reply

    def accept(self, address: str) -> None:
        with self._lock:
            self.refusing.pop(address, None)

    def to(self, address: str) -> list[Received]:
        return [item for item in list(self.received) if address in item.rcpt_tos]

    def refused_to(self, address: str) -> list[Received]:
        return [item for item in list(self.refused) if address in item.rcpt_tos]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.plan:
                reply: str = self.plan.pop(0)
                return reply
            refusal = next(
                (self.refusing[to] for to in envelope.rcpt_tos if to in self.refusing), None
            )
        raw = bytes(envelope.original_content or envelope.content)
        # A message sent with SMTPUTF8 has its headers in UTF-8 (RFC 6532), which the bytes
        # parser would leave undecoded.
        if envelope.smtp_utf8:
            parsed = email.message_from_string(raw.decode(), policy=email.policy.default)
        else:
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data.login.decode() if session.auth_data else None
        options = list(envelope.mail_options)
        item = Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, raw, login, options)
        if refusal is not None:
            self.refused.append(item)
            return refusal
        self.received.append(item)
        return "250 2.0.0 Ok: queued"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if (
            self.credentials is not None
            and isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == self.credentials
        ):
            return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)

    def start(self) -> None:
        options: dict[str, Any] = {"enable_SMTPUTF8": self.smtputf8}
        if self.credentials is not None:
            options |= {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(self, hostname=self.host, port=self.port, **options)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def running_mailbox(
    credentials: tuple[str, str] | None = None, *, smtputf8: bool = False
) -> Iterator[Mailbox]:
    mailbox = Mailbox(port=free_port(), credentials=credentials, smtputf8=smtputf8)
    mailbox.start()
    try:
        yield mailbox
    finally:
        mailbox.stop()
