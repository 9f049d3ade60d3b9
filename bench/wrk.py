"""Closed-loop load from Debian's `wrk`, driven by a Lua script written for each scenario.

wrk is written in C on an epoll loop: one thread of it keeps tens of thousands of requests per
second in flight on loopback, so neither server under test (ours, nor the bare baseline) is
limited by its client. A Python client was: the asyncio one of bench/load.py spent enough CPU
per request that the bare app measured 2,000 to 2,900 requests/s through it, against about
12,000 through wrk on the same 2-core machine, which hid most of the gap between the two.

The script sets the method, headers and body of each request, one scenario's or several in
turn; a body may carry `{n}`, which becomes a number no other request of the run has (each wrk
thread counts on its own stride from the run's base), so every create has a new email and
phone. Paced, each connection waits before each request, for a steady rate instead of the
most the server takes. When wrk ends, the script
prints one JSON line: requests, errors by kind, and the latency percentiles.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.load import LOOPBACK, CpuSnapshot, CpuUse

WRK = "wrk"
NUMBER = "{n}"
REQUEST_TIMEOUT_SECONDS = 10
# Each run of numbered requests takes the next block of numbers, all of seven digits, so that
# no two runs of a process reuse a number and every create's phone (+1415 and seven digits) is
# valid: 90 blocks, where bench.api's runs of both backends take 14.
NUMBERS_PER_BLOCK = 100_000
_blocks = iter(range(10, 100))


def next_base() -> int:
    """The first number of the next block."""
    block = next(_blocks, None)
    if block is None:
        raise RuntimeError("this process has used every block of seven-digit numbers")
    return block * NUMBERS_PER_BLOCK


_LUA = """
local plan = {{}}
{plan}
local base = {base}
local threads = {threads}
local counter = 0

local next_index = 0
function setup(thread)
  thread:set("index", next_index)
  next_index = next_index + 1
end

function request()
  local n = base + counter * threads + index
  counter = counter + 1
  local r = plan[(n % #plan) + 1]
  local body = r.body
  if body ~= nil and string.find(body, "{{n}}", 1, true) then
    body = string.gsub(body, "{{n}}", tostring(n))
  end
  return wrk.format(r.method, r.path, r.headers, body)
end

{delay}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Request:
    """What every request of a scenario sends; `body` may hold NUMBER (see the module doc)."""

    method: str
    path: str
    headers: dict[str, str]
    body: str | None = None

    def example(self, number: int) -> bytes | None:
        """The body of one request, numbered `number`, as wrk would send it."""
        return None if self.body is None else self.body.replace(NUMBER, str(number)).encode()


@dataclass(frozen=True)
class WrkResult:
    requests: int  # responses read, whatever their status
    errors: int  # non-2xx/3xx statuses, and connect, read, write errors and timeouts
    elapsed: float  # seconds wrk measured for
    p50_ms: float
    p99_ms: float
    cpu: CpuUse  # "client" is wrk's own CPU time

    @property
    def completed(self) -> int:
        return max(0, self.requests - self.errors)

    @property
    def rate(self) -> float:
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0


def require() -> None:
    """Exit with 2, saying how to install it, where wrk is missing."""
    if shutil.which(WRK) is None:
        print("wrk is not installed (apt-get install -y wrk, or `make bench`)", file=sys.stderr)
        raise SystemExit(2)


def _lua_string(value: str) -> str:
    if "]==]" in value:
        raise ValueError("a request may not contain ]==]")
    return f"[==[{value}]==]"


def script(requests: Sequence[Request], *, base: int, threads: int, pace_ms: int = 0) -> str:
    """Each thread sends `requests` in turn, numbered from its own place in the run; with
    `pace_ms`, each connection waits that long before each request (an open rate of about
    connections * 1000 / pace_ms requests per second, while the server keeps up)."""
    plan = []
    for request in requests:
        headers = ", ".join(
            f"[ {_lua_string(name)} ] = {_lua_string(value)}"
            for name, value in request.headers.items()
        )
        body = "nil" if request.body is None else _lua_string(request.body)
        plan.append(
            f"plan[#plan + 1] = {{ method = {_lua_string(request.method)}, "
            f"path = {_lua_string(request.path)}, headers = {{ {headers} }}, body = {body} }}"
        )
    # wrk arms a timer before every request of a script that has delay(): none without pacing.
    delay = f"function delay()\n  return {pace_ms}\nend\n" if pace_ms else ""
    return _LUA.format(plan="\n".join(plan), base=base, threads=threads, delay=delay)


def _children_cpu() -> float:
    """CPU seconds of this process's children that have ended: wrk, once it has been waited
    for (the servers are still running, so they are not in it)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    port: int,
    requests: Request | Sequence[Request],
    *,
    seconds: float,
    connections: int,
    threads: int,
    base: int,
    server_pid: int,
    scratch: Path,
    database: str | None = None,
    pace_ms: int = 0,
) -> WrkResult:
    """One wrk run against 127.0.0.1:port; CPU is accounted over its whole life."""
    plan = [requests] if isinstance(requests, Request) else list(requests)
    lua = scratch / f"wrk-{os.getpid()}-{base}.lua"
    lua.write_text(script(plan, base=base, threads=threads, pace_ms=pace_ms), encoding="utf-8")
    command = [
        WRK,
        f"--threads={threads}",
        f"--connections={max(connections, threads)}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={REQUEST_TIMEOUT_SECONDS}s",
        f"--script={lua}",
        f"http://{LOOPBACK}:{port}",
    ]
    before = CpuSnapshot.take(server_pid, database, _children_cpu())
    finished = subprocess.run(  # noqa: S603 - wrk on loopback, arguments built here
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    after = CpuSnapshot.take(server_pid, database, _children_cpu())
    lines = [line for line in finished.stdout.splitlines() if line.startswith("{")]
    if finished.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({finished.returncode}): {finished.stderr.strip()}")
    found = json.loads(lines[-1])
    errors = sum(found[kind] for kind in ("connect", "read", "write", "status", "timeout"))
    return WrkResult(
        requests=found["requests"],
        errors=errors,
        elapsed=found["duration_us"] / 1e6,
        p50_ms=found["p50_us"] / 1000,
        p99_ms=found["p99_us"] / 1000,
        cpu=CpuUse.between(before, after),
    )
