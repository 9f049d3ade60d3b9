"""A webhook sink that is never the bottleneck: nginx answering 204 to every request, with
its own generated configuration in a temporary directory (`daemon off`, one worker), and
wrk to show how many requests it takes.

Every request is logged as `<msec> <webhook-id header> <status>` (nginx's `$msec`: seconds
with millisecond resolution), so a benchmark can count what arrived, once each, and when.
nginx reads and discards each request body before answering, so keep-alive POSTs work.
"""

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import wrk

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
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

    def arrivals(self, since: float = 0.0) -> list[tuple[float, str]]:
        """(time, webhook-id) of every request logged so far, that arrived at `since` (wall
        clock, as `time.time()`) or later. nginx writes its log in buffers, so lines of
        requests from before a `clear` may still be written after it."""
        rows = []
        for line in self.log.read_text().splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[1] != "-" and float(parts[0]) >= since:
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


def capacity(
    sink: Sink, requests: Sequence[Request], *, connections: int, seconds: float
) -> wrk.WrkResult:
    """What the sink takes: wrk posting `requests` to it in turn."""
    path = "/" + sink.url.split("/", 3)[3]
    planned = [wrk.Request("POST", path, r.headers, r.body.decode()) for r in requests]
    with tempfile.TemporaryDirectory(prefix="contactflow-wrk-") as scratch:
        return wrk.run(
            sink.port,
            planned,
            seconds=seconds,
            connections=connections,
            threads=1,
            base=0,
            server_pid=sink.pid,
            scratch=Path(scratch),
        )
