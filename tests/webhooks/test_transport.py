"""The deliveries' HTTP client: keep-alive reuse, a closed kept connection replaced, answers
of every framing read whole (the first 4 KiB kept), and a time limit."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from contactflow.platform.webhooks.transport import BODY_KEPT, Poster, Timeout

Handler = Callable[[int], bytes | None]


@asynccontextmanager
async def serving(answer: Handler) -> AsyncIterator[str]:
    """A keep-alive HTTP server on loopback whose answer to request n of connection c is
    answer(c * 100 + n), or none at all (None); yields the URL to POST to."""
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                number += 1
                reply = answer(connections * 100 + number)
                if reply is None:
                    await asyncio.sleep(5)
                    return
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook?x=1"
    finally:
        listening.close()


async def test_connections_are_kept_and_every_framing_is_read() -> None:
    big = b"y" * (BODY_KEPT * 3)
    chunked = b"5\r\nhello\r\n0\r\n\r\n"

    def answer(number: int) -> bytes:
        if number % 100 == 1:
            return (
                b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nx-a: 1\r\nx-a: 2\r\n\r\n" % len(big)
                + big
            )
        return b"HTTP/1.1 503 Busy\r\ntransfer-encoding: chunked\r\n\r\n" + chunked

    poster = Poster()
    async with serving(answer) as url:
        first = await poster.post(url, b"{}", {"content-type": "application/json"}, 5)
        second = await poster.post(url, b"{}", {}, 5)
    await poster.aclose()
    assert (first.status, first.headers["x-a"], first.body) == (200, "1, 2", big[:BODY_KEPT])
    # The same connection (request 2 of connection 1) answered the second POST.
    assert (second.status, second.body) == (503, b"hello")


async def test_a_kept_connection_the_server_closed_is_replaced_once() -> None:
    def answer(_number: int) -> bytes:
        return b"HTTP/1.1 204 No Content\r\nconnection: keep-alive\r\n\r\n"

    poster = Poster()
    async with serving(answer) as url:
        assert (await poster.post(url, b"{}", {}, 5)).status == 204
        # The kept connection ends (as a server's would after its keep-alive time) before
        # the client has noticed.
        for idle in poster._idle.values():
            for connection in idle:
                assert connection.transport is not None
                connection.transport.abort()
                connection.closed = False
        assert (await poster.post(url, b"{}", {}, 5)).status == 204
    await poster.aclose()


async def test_no_answer_within_the_limit_is_a_timeout() -> None:
    poster = Poster()
    async with serving(lambda _number: None) as url:
        with pytest.raises(Timeout):
            await poster.post(url, b"{}", {}, 0.3)
    await poster.aclose()
