"""SMTP: one reusable connection per sender, handing it messages as `outgoing` wrote them,
and what a server's answer means (accepted, try again later, or never).

4xx replies and connection errors are temporary (the send is retried on the schedule); 5xx
replies, refused TLS certificates, unsupported features and an address needing SMTPUTF8 that
the server does not offer are permanent (the email fails with the server's answer, or why).
SMTP hosts pass the same address policy as webhook URLs: no loopback, private or metadata
address unless the operator allows it.
"""

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

import aiosmtplib

from contactflow.mailsuite.outgoing import WireMessage
from contactflow.platform.webhooks.ssrf import UnsafeUrl, UrlPolicy

SECURITY_MODES = ("starttls", "tls", "none")
# Answers are stored; a chatty server's multi-line reply is cut here.
ANSWER_LIMIT = 1000


class SmtpHostRefused(ValueError):
    """The host is not allowed (permanent) or does not resolve now (temporary)."""

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary


def host_policy(allowed: Sequence[str]) -> UrlPolicy:
    return UrlPolicy(allow_http=False, allowed=list(allowed))


async def check_host(policy: UrlPolicy, host: str) -> None:
    """Refuse hosts resolving to addresses the policy forbids (checked when a sender is saved
    and again before each connection, on what the name resolves to then)."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except OSError as error:
            raise SmtpHostRefused(f"{host} does not resolve ({error})", temporary=True) from error
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        try:
            policy.check_address(host.lower(), address)
        except UnsafeUrl as error:
            reason = str(error).removeprefix("url: ")
            raise SmtpHostRefused(
                f"{reason}; an operator can allow it with CONTACTFLOW_SMTP_ALLOWED_NETWORKS"
            ) from error


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    timeout: float
    # Our name in EHLO: the sender's domain.
    local_hostname: str


@dataclass(frozen=True)
class SmtpAnswer:
    accepted: bool
    temporary: bool
    # "250 ..." / "451 ..." as the server said it, or what went wrong on the connection.
    response: str


def _answer(code: int, message: str) -> SmtpAnswer:
    text = f"{code} {' '.join(message.split())}"[:ANSWER_LIMIT]
    return SmtpAnswer(accepted=False, temporary=400 <= code < 500, response=text)


def classify(error: Exception) -> SmtpAnswer:
    """What a failed SMTP exchange means for the email."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        first = error.recipients[0]
        return _answer(first.code, first.message)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return _answer(error.code, error.message)
    if isinstance(error, ssl.SSLCertVerificationError):
        return SmtpAnswer(False, False, f"TLS certificate refused: {error}"[:ANSWER_LIMIT])
    if isinstance(error, aiosmtplib.SMTPNotSupported | ValueError):
        return SmtpAnswer(False, False, f"not supported: {error}"[:ANSWER_LIMIT])
    described = str(error) or type(error).__name__
    return SmtpAnswer(False, True, f"connection error: {described}"[:ANSWER_LIMIT])


async def _offers(client: aiosmtplib.SMTP, extension: str) -> bool:
    """Whether the server names `extension` in its EHLO reply (sent first if not yet)."""
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    return client.supports_extension(extension)


class SmtpConnection:
    """One connection to a sender's server, opened on first use and reused for a batch;
    after a failure the next message opens a fresh one."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        server = self.server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            username=server.username or None,
            password=server.password if server.username else None,
            use_tls=server.security == "tls",
            start_tls=server.security == "starttls",
            timeout=server.timeout,
            local_hostname=server.local_hostname,
        )
        self._client = client
        await client.connect()
        return client

    async def send(self, wire: WireMessage) -> SmtpAnswer:
        options = ["SMTPUTF8"] if wire.needs_smtputf8 else []
        try:
            client = await self._connected()
            if wire.needs_smtputf8 and not await _offers(client, "SMTPUTF8"):
                return SmtpAnswer(
                    False,
                    False,
                    f"not sent: {wire.needs_smtputf8[0]} has a non-ASCII local part, which "
                    f"needs SMTPUTF8, and {self.server.host} does not offer SMTPUTF8",
                )
            _, reply = await client.sendmail(
                wire.mail_from, [wire.rcpt_to], wire.data, mail_options=options
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as error:
            await self.close()
            return classify(error)
        return SmtpAnswer(True, False, f"250 {' '.join(reply.split())}"[:ANSWER_LIMIT])

    async def verify(self) -> SmtpAnswer:
        """Connect, negotiate TLS and log in, without sending anything."""
        try:
            client = await self._connected()
            code, message = await client.noop()
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as error:
            await self.close()
            return classify(error)
        return SmtpAnswer(True, False, f"{code} {' '.join(message.split())}"[:ANSWER_LIMIT])

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
