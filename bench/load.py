"""An HTTP/1.1 client for loopback benchmarks, and where the machine's CPU went meanwhile.

* RawConnection: a minimal keep-alive HTTP/1.1 client on asyncio streams. It writes pre-built
  request bytes and reads the status line, headers and a Content-Length (or chunked) body,
  which is all the servers under test send. bench.events drives its writes with it.
* CPU accounting from /proc: a server process, the PostgreSQL backends of one database, the
  whole host. bench.api drives its load with wrk (bench/wrk.py) and accounts CPU with these.

Only loopback targets are accepted.
"""

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"
REQUEST_TIMEOUT = 10.0


class TransportError(Exception):
    """A response the raw client could not read."""


class RawConnection:
    """One keep-alive HTTP/1.1 connection, opened on first use and again after a close."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self._port = port
        fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._fixed_headers = f"Host: {LOOPBACK}:{port}\r\n{fixed}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None) -> int:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(LOOPBACK, self._port)
        reader, writer = self._reader, self._writer
        head = f"{method} {path} HTTP/1.1\r\n{self._fixed_headers}"
        if body is not None:
            head += f"Content-Length: {len(body)}\r\n"
        try:
            writer.write(head.encode("latin-1") + b"\r\n" + (body or b""))
            status, length, chunked, close = _parse_head(await reader.readuntil(b"\r\n\r\n"))
            if chunked:
                await _read_chunked(reader)
            elif length is None:
                raise TransportError("response without Content-Length or chunked encoding")
            else:
                await reader.readexactly(length)
        except BaseException:
            self._drop()  # the connection is in an unknown state: never reuse it
            raise
        if close:
            self._drop()
        return status

    def _drop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def aclose(self) -> None:
        writer = self._writer
        self._drop()
        if writer is not None:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """(status, content length, chunked?, connection: close?) of a response head."""
    status_line, *lines = head[:-4].split(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise TransportError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    length: int | None = None
    chunked = close = False
    for line in lines:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            close = value == b"close"
    return int(parts[1]), length, chunked, close


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the blank line
                pass
            return
        await reader.readexactly(size + 2)


# What a failed request raises; asyncio.IncompleteReadError is an EOFError.
_FAILURES = (
    OSError,
    EOFError,
    ValueError,
    asyncio.LimitOverrunError,
    TransportError,
    httpx.HTTPError,
)


# ----------------------------------------------------------------------------- CPU

_PROC = Path("/proc")


def _cpu_seconds(stat: str) -> float:
    """User + system CPU time (all threads) from the text of /proc/PID/stat."""
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float | None:
    try:
        return _cpu_seconds((_PROC / str(pid) / "stat").read_text())
    except OSError:  # no /proc here, or the process is gone
        return None


def _backends_cpu(database: str) -> dict[int, float]:
    """CPU time of each PostgreSQL backend process connected to `database`, by pid.

    Backends show "postgres: ... USER DATABASE HOST(PORT) STATE" as their command line.
    """
    marker = f" {database} "
    found: dict[int, float] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres:") and marker in title:
                found[int(entry.name)] = _cpu_seconds((entry / "stat").read_text())
        except OSError:  # the process ended meanwhile
            continue
    return found


def _host_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks summed over all cores, from /proc/stat."""
    try:
        first = (_PROC / "stat").read_text().splitlines()[0]
    except OSError:
        return None
    ticks = [int(value) for value in first.split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    client: float
    server: float | None
    backends: dict[int, float] | None
    host: tuple[int, int] | None

    @classmethod
    def take(cls, server_pid: int, database: str | None, client: float) -> "CpuSnapshot":
        """`client`: the CPU seconds the load generator has used so far."""
        return cls(
            at=time.perf_counter(),
            client=client,
            server=_process_cpu(server_pid),
            backends=_backends_cpu(database) if database and _PROC.is_dir() else None,
            host=_host_ticks(),
        )


@dataclass(frozen=True)
class CpuUse:
    """Where the machine's CPU went while measuring, each in cores (1.0 = one core busy).

    server and client are those processes' own CPU time, postgres that of the PostgreSQL
    backends connected to the benchmark's database (None on SQLite); other is whatever else was
    busy (other programs, PostgreSQL's shared background processes); idle is what nobody used.
    They add up to the number of cores. Fields are None where /proc is not available.
    """

    server: float | None
    client: float
    postgres: float | None
    other: float | None
    idle: float | None

    @classmethod
    def between(cls, before: CpuSnapshot, after: CpuSnapshot) -> "CpuUse":
        elapsed = after.at - before.at

        def rate(start: float | None, end: float | None) -> float | None:
            return None if start is None or end is None else max(0.0, end - start) / elapsed

        server = rate(before.server, after.server)
        client = (after.client - before.client) / elapsed
        postgres = None
        if before.backends is not None and after.backends is not None:
            spent = sum(cpu - before.backends.get(pid, 0.0) for pid, cpu in after.backends.items())
            postgres = max(0.0, spent) / elapsed
        other = idle = None
        if before.host is not None and after.host is not None:
            busy = after.host[0] - before.host[0]
            total = after.host[1] - before.host[1]
            cores = os.cpu_count() or 1
            if total > 0:
                busy_cores = busy / total * cores
                idle = cores - busy_cores
                known = client + (server or 0.0) + (postgres or 0.0)
                other = max(0.0, busy_cores - known)
        return cls(server=server, client=client, postgres=postgres, other=other, idle=idle)
