"""The webhook receiver bench.events delivers to, meant to run in a process of its own.

    python -m bench.receiver

It binds 127.0.0.1 on a free port, prints the port on a line of its own (as bench.servers
does), then serves HTTP/1.1 with keep-alive on raw asyncio streams until SIGTERM or SIGINT:

* `POST` to any path but the ones below: the time the whole request has been read is taken
  (`time.monotonic_ns()`, which every process on the machine shares, and `time.time_ns()`),
  the body is kept as it is, and `200 ok` goes back at once. Nothing is parsed on this path.
* `GET /health`: `{"status":"ok"}`.
* `GET /count`: `{"count": N}`, the number of POSTs recorded so far.
* `GET /drain`: every recorded POST as JSON, oldest first, then forgets them. Each is
  `[monotonic_ns, time_ns, path, webhookId, type, id, lastName, timestamp]`, the fields read
  from the JSON body now, off the measured path (null where the body lacks them).

One event loop, no framework: at a few thousand requests per second it uses a small part of
a core, so the workers under test are not starved by their own receiver.
"""

import asyncio
import contextlib
import json
import signal
import socket
import sys
import time
from typing import Any

from bench.load import LOOPBACK

MAX_BODY = 1024 * 1024
_OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"
_BAD = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"

Record = tuple[int, int, bytes, bytes]  # monotonic_ns, time_ns, path, body


class Receiver:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.writers: set[asyncio.StreamWriter] = set()

    def close_connections(self) -> None:
        """End every open connection, so their handlers return before the loop stops."""
        for writer in list(self.writers):
            writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return
                method, path, length = _parse(head)
                if length is None or length > MAX_BODY:
                    writer.write(_BAD)
                    return
                body = await reader.readexactly(length) if length else b""
                if method == b"POST":
                    self.records.append((time.monotonic_ns(), time.time_ns(), path, body))
                    writer.write(_OK)
                else:
                    writer.write(self._control(path))
        except (asyncio.IncompleteReadError, OSError):
            return
        finally:
            self.writers.discard(writer)
            writer.close()

    def _control(self, path: bytes) -> bytes:
        if path == b"/health":
            payload: Any = {"status": "ok"}
        elif path == b"/count":
            payload = {"count": len(self.records)}
        elif path == b"/drain":
            records, self.records = self.records, []
            payload = [_summary(record) for record in records]
        else:
            return b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
        body = json.dumps(payload, separators=(",", ":")).encode()
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        return head.encode() + b"\r\n\r\n" + body


def _parse(head: bytes) -> tuple[bytes, bytes, int | None]:
    """(method, path, content length) of a request head; length None when it is invalid."""
    request_line, *lines = head[:-4].split(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3:
        return b"", b"", None
    length = 0
    for line in lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return parts[0], parts[1], None
        elif name.strip().lower() == b"transfer-encoding":
            return parts[0], parts[1], None  # chunked bodies are not expected here
    return parts[0], parts[1], length


def _summary(record: Record) -> list[Any]:
    monotonic, wall, path, body = record
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    fields = ("webhookId", "type", "id", "lastName", "timestamp")
    return [monotonic, wall, path.decode("latin-1"), *(data.get(name) for name in fields)]


async def serve() -> None:
    receiver = Receiver()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    server = await asyncio.start_server(receiver.handle, sock=sock, backlog=1024)
    print(sock.getsockname()[1], flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    async with server:
        await stopped.wait()
        server.close()
        receiver.close_connections()
        await asyncio.sleep(0.1)  # let the handlers see their connection end


def main() -> int:
    try:
        import uvloop  # optional, as for uvicorn
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
