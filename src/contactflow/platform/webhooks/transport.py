"""The webhook sender's HTTP/1.1 client: one POST per call over keep-alive connections kept
per origin, with the response parsed by httptools (ADR 0014).

A delivery needs little of HTTP: a POST with a small body, the status, the headers and the
first bytes of the answer, no redirects, no cookies, no proxies. A general client spends far
more per request on what is not needed here (httpx: about a millisecond of CPU per POST on
a small machine, the same as all the database work of a delivery), so deliveries go through
this one. A connection is reused only after a complete response that allows it; a reused
connection that the server had already closed is replaced once, before any answer was read.
"""

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import httptools
import httpx

# What the client keeps of an answer: headers always, the body up to this many bytes (the
# rest is read and dropped, so that the connection can be used again).
BODY_KEPT = 4096
# Idle connections are closed after this long (servers close theirs after 5 to 75 s).
KEEPALIVE_SECONDS = 5.0


class TransportError(Exception):
    """A POST that got no complete answer; the name of the subclass says at which stage."""


class ConnectError(TransportError):
    pass


class RemoteProtocolError(TransportError):
    pass


class ReadError(TransportError):
    pass


class Timeout(TransportError):
    pass


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes  # the first BODY_KEPT bytes


@dataclass(frozen=True)
class _Target:
    tls: bool
    host: str
    port: int
    head: bytes  # "POST <path> HTTP/1.1" and the Host header


@lru_cache(maxsize=1024)
def _target(url: str) -> _Target:
    parsed = httpx.URL(url)  # normalised and percent-encoded as httpx would send it
    tls = parsed.scheme == "https"
    port = parsed.port or (443 if tls else 80)
    host = parsed.raw_host.decode("ascii")
    authority = f"[{host}]" if ":" in host else host
    if parsed.port is not None:
        authority += f":{parsed.port}"
    head = b"POST " + parsed.raw_path + b" HTTP/1.1\r\nhost: " + authority.encode() + b"\r\n"
    return _Target(tls, host, port, head)


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: at most one request on it at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = time.monotonic()
        self._waiter: asyncio.Future[Answer] | None = None
        self._received = False
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body = bytearray()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as error:
            self._fail(RemoteProtocolError(f"malformed response: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done() and self._status >= 200:
            # An answer without a length ends where the connection does.
            self._complete()
            return
        self._fail(ReadError("the server closed the connection before answering"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]}, {text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        room = BODY_KEPT - len(self._body)
        if room > 0:
            self._body += body[:room]

    def on_message_complete(self) -> None:
        if self._status < 200:  # an interim answer (100 Continue): the real one follows
            self._status, self._headers = 0, {}
            return
        if not self.parser.should_keep_alive():
            self.closed = True
        self._complete()

    # requests

    async def exchange(self, request: bytes) -> Answer:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._received, self._status, self._headers, self._body = False, 0, {}, bytearray()
        self.transport.write(request)
        try:
            return await self._waiter
        finally:
            self._waiter = None

    @property
    def answered_nothing(self) -> bool:
        return not self._received

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _complete(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(Answer(self._status, self._headers, bytes(self._body)))
        if self.closed and self.transport is not None:
            self.transport.close()

    def _fail(self, error: TransportError) -> None:
        self.close()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)


class Poster:
    """POSTs over keep-alive connections, at most `keep_per_origin` of them kept idle for
    each scheme, host and port; as many open at once as there are POSTs in flight."""

    def __init__(self, *, keep_per_origin: int = 64, tls: ssl.SSLContext | None = None) -> None:
        self._keep = keep_per_origin
        self._tls = tls or ssl.create_default_context()
        self._idle: dict[tuple[bool, str, int], list[_Connection]] = {}

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], within: float
    ) -> Answer:
        target = _target(url)
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            target.head + f"content-length: {len(body)}\r\n{lines}\r\n".encode("latin-1") + body
        )
        try:
            async with asyncio.timeout(within):
                return await self._send(target, request)
        except TimeoutError:
            raise Timeout(f"no complete answer within {within:g} s") from None

    async def _send(self, target: _Target, request: bytes) -> Answer:
        connection = self._reuse(target)
        if connection is not None:
            try:
                answer = await self._exchange(target, connection, request)
            except ReadError:
                if not connection.answered_nothing:
                    raise
                # The server closed the kept connection as we wrote: once more on a new one.
            else:
                return answer
        return await self._exchange(target, await self._connect(target), request)

    async def _exchange(self, target: _Target, connection: _Connection, request: bytes) -> Answer:
        try:
            answer = await connection.exchange(request)
        except BaseException:
            connection.close()  # cancelled or failed halfway: the stream's state is unknown
            raise
        self._release(target, connection)
        return answer

    def _reuse(self, target: _Target) -> _Connection | None:
        idle = self._idle.get((target.tls, target.host, target.port))
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < KEEPALIVE_SECONDS:
                return connection
            connection.close()
        return None

    async def _connect(self, target: _Target) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                _Connection,
                target.host,
                target.port,
                ssl=self._tls if target.tls else None,
                server_hostname=target.host if target.tls else None,
            )
        except ssl.SSLError as error:
            raise ConnectError(f"TLS: {error}") from error
        except OSError as error:
            raise ConnectError(str(error) or type(error).__name__) from error
        return connection

    def _release(self, target: _Target, connection: _Connection) -> None:
        if connection.closed:
            return
        idle = self._idle.setdefault((target.tls, target.host, target.port), [])
        if len(idle) >= self._keep:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
