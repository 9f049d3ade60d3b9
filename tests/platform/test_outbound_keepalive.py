"""The process's outbound client does not reuse a connection the other side may be closing:
a server that closes idle connections after the common 5 s drops a request sent on one it
is closing, and the client must have let it go by then."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from contactflow.platform.runtime import KEEPALIVE_SECONDS, outbound_client

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


async def _one_answer_per_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer a connection's first request, keep it open, and drop it at the next one: what
    a server does when its keep-alive timeout ends as the request arrives."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(ANSWER)
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


@pytest.fixture
async def closing_server() -> AsyncIterator[str]:
    server = await asyncio.start_server(_one_answer_per_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/hook"


async def test_a_connection_idle_for_the_servers_keep_alive_is_not_reused(
    closing_server: str,
) -> None:
    async with outbound_client() as http:
        assert (await http.post(closing_server, content=b"{}")).status_code == 200
        # Idle past the client's keep-alive, short of the servers' 5 s: the next call must
        # take a new connection.
        await asyncio.sleep(KEEPALIVE_SECONDS + 1)
        assert (await http.post(closing_server, content=b"{}")).status_code == 200
