"""A webhook sink that is never the bottleneck: nginx answering 204 to every request, with
its own generated configuration in a temporary directory (`daemon off`, one worker), and
wrk to show how many requests it takes.

Every request is logged as `<msec> <webhook-id header> <status>` (nginx's `$msec`: seconds
with millisecond resolution), so a benchmark can count what arrived, once each, and when.
nginx reads and discards each request body before answering, so keep-alive POSTs work.
"""

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
HOST = "127.0.0.1"

_CONFIG = """\
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  log_format hook '$msec $http_webhook_id $status';
  access_log {root}/access.log hook buffer=256k flush=200ms;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  client_max_body_size 1m;
  server {{
    listen {host}:{port} backlog=4096;
    location / {{ return 204; }}
  }}
}}
"""


@dataclass(frozen=True)
class Sink:
    port: int
    pid: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    def arrivals(self) -> list[tuple[float, str]]:
        """(time, webhook-id) of every request logged so far."""
        rows = []
        for line in self.log.read_text().splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[1] != "-":
                rows.append((float(parts[0]), parts[1]))
        return rows

    def clear(self) -> None:
        self.log.write_text("")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def nginx_sink() -> Iterator[Sink]:
    with tempfile.TemporaryDirectory(prefix="contactflow-sink-") as directory:
        root = Path(directory)
        port = _free_port()
        config = root / "nginx.conf"
        config.write_text(_CONFIG.format(root=root, host=HOST, port=port))
        process = subprocess.Popen(  # noqa: S603 - nginx with our own configuration
            [NGINX, "-c", str(config), "-p", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_listening(port, process)
            yield Sink(port, process.pid, root / "access.log")
        finally:
            process.terminate()
            process.wait(timeout=15)


def _wait_listening(port: int, process: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"nginx exited: {error}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start listening")


@dataclass(frozen=True)
class Request:
    headers: dict[str, str]
    body: bytes


def _lua_string(text: str) -> str:
    level = "=" * 3
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


def wrk_script(requests: Sequence[Request], path: str) -> str:
    """A wrk Lua script that sends `requests` in turn (each thread from its own start)."""
    lines = ["local requests = {}", "init = function(args)"]
    for request in requests:
        headers = ", ".join(
            f"[{_lua_string(name)}] = {_lua_string(value)}"
            for name, value in request.headers.items()
        )
        body = _lua_string(request.body.decode())
        lines.append(
            f"  requests[#requests + 1] = wrk.format('POST', '{path}', {{{headers}}}, {body})"
        )
    lines += [
        "end",
        "local n = 0",
        "request = function()",
        "  n = n % #requests + 1",
        "  return requests[n]",
        "end",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class WrkResult:
    rate: float  # requests per second
    requests: int
    errors: int  # non-2xx answers and socket errors


def wrk(
    url: str, requests: Sequence[Request], *, connections: int, seconds: float, threads: int = 1
) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(wrk_script(requests, "/" + url.split("/", 3)[3]))
        script.flush()
        done = subprocess.run(  # noqa: S603 - wrk with our own script
            [
                WRK,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found.group(1))
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        errors += sum(int(value) for value in found.groups())
    return WrkResult(rate, total, errors)
