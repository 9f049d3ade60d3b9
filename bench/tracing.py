"""What tracing costs a request: the app's whole middleware stack answering GET /health in a
process of its own (no socket, no database: the middleware's share is all there is), with
tracing off, and on with its spans exported in batches to an OTLP/HTTP sink on loopback.

    uv run python -m bench.tracing [--requests N] [--rounds R] [--against PATH]

`--against` names another checkout's `src` folder: its app is measured the same way, beside
this one's, tracing off (the cost tracing adds when it is not configured). Prints the CPU time
per request of each (the process's, the exporter's thread included), the median of the rounds,
and the ratios side by side.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _scope(traced: bool) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"user-agent", b"bench")]
    if traced:
        headers.append((b"traceparent", TRACEPARENT))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/health",
        "raw_path": b"/health",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def _rounds(requests: int, rounds: int, traced: bool) -> list[float]:
    """CPU microseconds per request of each round (after a warm-up round)."""
    # Imported here, in the measuring child only: from the checkout its PYTHONPATH names.
    from contactflow.app import create_app
    from contactflow.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{folder}/bench.db"))
        scope = _scope(traced)
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        async def run(count: int) -> None:
            for _ in range(count):
                await app(dict(scope), receive, send)

        await run(requests)
        per_request = []
        for _ in range(rounds):
            started = time.process_time()
            await run(requests)
            per_request.append((time.process_time() - started) / requests * 1e6)
        assert set(statuses) == {200}, set(statuses)
        await app.state.db.dispose()
        return per_request


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that keeps nothing: reads each export and answers 200."""

    exports = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).exports += 1
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return None


@contextmanager
def _sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _measure(args: argparse.Namespace, env: dict[str, str], traced: bool) -> float:
    """The median CPU µs per request of a child process run with `env`."""
    command = [sys.executable, "-m", "bench.tracing", "--child", str(args.requests)]
    command += ["--rounds", str(args.rounds)] + (["--traced"] if traced else [])
    done = subprocess.run(  # noqa: S603 - this interpreter, this module
        command, env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    rounds: list[float] = json.loads(done.stdout.splitlines()[-1])
    return statistics.median(rounds)


def _base_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(PYTHONDONTWRITEBYTECODE="1", CONTACTFLOW_LOG_FORMAT="text")
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--against", type=Path, help="another checkout's src folder")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(asyncio.run(_rounds(args.child, args.rounds, args.traced))))
        return 0
    figures: dict[str, float] = {}
    if args.against is not None:
        other = {**_base_env(), "PYTHONPATH": str(args.against.resolve())}
        figures["other checkout, tracing off"] = _measure(args, other, traced=False)
    figures["tracing off"] = _measure(args, _base_env(), traced=False)
    with _sink() as endpoint:
        on = {**_base_env(), "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        figures["tracing on, no traceparent"] = _measure(args, on, traced=False)
        figures["tracing on, with traceparent"] = _measure(args, on, traced=True)
    base = figures.get("other checkout, tracing off", figures["tracing off"])
    print(f"GET /health through the whole middleware stack, {args.requests} x {args.rounds}")
    print(f"{'':32} {'CPU us/request':>15} {'ratio':>7}")
    for name, value in figures.items():
        print(f"{name:32} {value:15.1f} {value / base:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
