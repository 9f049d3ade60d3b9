"""The closed-loop load generator of bench.api, and what it measures.

N workers each own one keep-alive HTTP/1.1 connection and send one request after another
until a deadline. Two clients are available:

* "raw" (the default): a minimal HTTP/1.1 client on asyncio streams. It writes pre-built request
  bytes and reads the status line, headers and a Content-Length (or chunked) body, which is all
  the two servers under test send. It costs a small fraction of httpx's CPU per request, so one
  process can keep a bare Starlette app busy on a 2-core machine.
* "httpx": one httpx.AsyncClient (with a single connection) per worker. httpx spends about
  0.6 ms of CPU per request here, so it caps near 1,500 requests/s per core; that is far below
  what the bare app serves, and it would measure the client rather than the server. A single
  shared AsyncClient pool is slower still at 16 concurrent requests (about 600 requests/s),
  which is why each worker gets its own.

Only loopback targets are accepted.
"""

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import httpx

ClientKind = Literal["raw", "httpx"]
CLIENT_KINDS: tuple[ClientKind, ...] = ("raw", "httpx")
LOOPBACK = "127.0.0.1"
REQUEST_TIMEOUT = 10.0
# A phase ends this long after its deadline at the latest, even if a request hangs.
PHASE_GRACE = REQUEST_TIMEOUT + 5.0


@dataclass(frozen=True)
class Target:
    """A server under test: where it listens and which process serves it."""

    kind: str
    port: int
    pid: int

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@dataclass(frozen=True)
class Scenario:
    """One kind of request, sent again and again: build() gives the path and body of the next."""

    name: str
    label: str
    method: str
    status: int  # the status every response must have to count as a success
    headers: dict[str, str]
    build: Callable[[], tuple[str, bytes | None]]


class TransportError(Exception):
    """A response the raw client could not read."""


class Connection(Protocol):
    async def request(self, method: str, path: str, body: bytes | None) -> int: ...

    async def aclose(self) -> None: ...


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


class HttpxConnection:
    """An httpx.AsyncClient limited to one connection."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=REQUEST_TIMEOUT,
            trust_env=False,  # never a proxy: the traffic stays on loopback
        )

    async def request(self, method: str, path: str, body: bytes | None) -> int:
        response = await self._client.request(method, path, content=body)
        return response.status_code

    async def aclose(self) -> None:
        await self._client.aclose()


# What a failed request raises; asyncio.IncompleteReadError is an EOFError.
_FAILURES = (
    OSError,
    EOFError,
    ValueError,
    asyncio.LimitOverrunError,
    TransportError,
    httpx.HTTPError,
)


def connect(kind: ClientKind, target: Target, headers: dict[str, str]) -> Connection:
    if kind == "raw":
        return RawConnection(target.port, headers)
    return HttpxConnection(target.base_url, headers)


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
    def take(cls, server_pid: int, database: str | None) -> "CpuSnapshot":
        return cls(
            at=time.perf_counter(),
            client=time.process_time(),
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


# ----------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Result:
    completed: int
    errors: int
    elapsed: float
    latencies: list[float]  # seconds, sorted, successful requests only
    cpu: CpuUse

    @property
    def rate(self) -> float:
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """Nearest-rank percentile of the successful requests' latency, in milliseconds."""
        if not self.latencies:
            return math.nan
        rank = max(1, math.ceil(fraction * len(self.latencies)))
        return self.latencies[rank - 1] * 1000


async def _worker(
    connection: Connection, scenario: Scenario, until: float, latencies: list[float] | None
) -> int:
    """Send one request after another until `until`; returns how many failed."""
    errors = 0
    while time.perf_counter() < until:
        path, body = scenario.build()
        started = time.perf_counter()
        try:
            ok = await connection.request(scenario.method, path, body) == scenario.status
        except _FAILURES:
            ok = False
        if not ok:
            errors += 1
        elif latencies is not None:
            latencies.append(time.perf_counter() - started)
    return errors


async def _phase(
    connections: list[Connection],
    scenario: Scenario,
    seconds: float,
    latencies: list[float] | None,
) -> int:
    until = time.perf_counter() + seconds
    workers = [_worker(connection, scenario, until, latencies) for connection in connections]
    try:
        errors = await asyncio.wait_for(asyncio.gather(*workers), timeout=seconds + PHASE_GRACE)
    except TimeoutError as error:
        raise RuntimeError(
            f"{scenario.label}: requests still running after the deadline"
        ) from error
    return sum(errors)


async def _measure(
    target: Target,
    scenario: Scenario,
    *,
    client: ClientKind,
    concurrency: int,
    seconds: float,
    warmup: float,
    database: str | None,
) -> Result:
    connections = [connect(client, target, scenario.headers) for _ in range(concurrency)]
    try:
        if warmup > 0:
            await _phase(connections, scenario, warmup, None)
        latencies: list[float] = []
        before = CpuSnapshot.take(target.pid, database)
        errors = await _phase(connections, scenario, seconds, latencies)
        after = CpuSnapshot.take(target.pid, database)
    finally:
        for connection in connections:
            await connection.aclose()
    latencies.sort()
    return Result(
        completed=len(latencies),
        errors=errors,
        elapsed=after.at - before.at,
        latencies=latencies,
        cpu=CpuUse.between(before, after),
    )


def measure(
    target: Target,
    scenario: Scenario,
    *,
    client: ClientKind,
    concurrency: int,
    seconds: float,
    warmup: float,
    database: str | None = None,
) -> Result:
    """Warm up, then measure `seconds` of closed-loop load at `concurrency`; bounded in time.

    `database` names the PostgreSQL database whose backends' CPU time to report, if any.
    """
    return asyncio.run(
        _measure(
            target,
            scenario,
            client=client,
            concurrency=concurrency,
            seconds=seconds,
            warmup=warmup,
            database=database,
        )
    )
