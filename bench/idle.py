"""CPU of an idle `contactflow serve --demo`: the API and its embedded workers with nothing to do.

    uv run python -m bench.idle [--backend sqlite|postgresql|both] [--seconds N]

For each backend: a fresh database (a temporary SQLite file, or a new PostgreSQL database that
is dropped afterwards), `contactflow serve --demo` on a free loopback port, a wait until the
demo's own work is done (bench.api's settle), then the CPU the server process used over the
measured window, and on PostgreSQL also the CPU of its backend processes and the transactions
they ran. Nothing is asserted; see docs/performance.md ("Idle and wake-ups").
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.api import (
    STARTUP_TIMEOUT,
    Target,
    _stop,
    _wait_ready,
    chosen_backends,
    load_average,
    postgres_database,
    settle,
    sqlite_database,
)
from bench.events import pg_xacts
from bench.load import LOOPBACK, _backends_cpu, _process_cpu
from bench.sink import _free_port

CONTACTFLOW = Path(sys.executable).with_name("contactflow")


def _measure(backend: str, database_url: str, seconds: float, directory: str) -> str:
    port = _free_port()
    # Only the database from the environment; the secrets key file goes to `directory`.
    env = {"CONTACTFLOW_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [str(CONTACTFLOW), "serve", "--demo", "--host", LOOPBACK, "--port", str(port)],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        target = Target(kind="serve", port=port, pid=process.pid)
        _wait_ready(process, target.base_url, time.monotonic() + STARTUP_TIMEOUT)
        settled = settle(target)
        database = make_url(database_url).database if backend == "postgresql" else None
        load = load_average()
        xacts = pg_xacts(database)
        backends_before = _backends_cpu(database) if database else {}
        before, started = _process_cpu(process.pid) or 0.0, time.monotonic()
        time.sleep(seconds)
        after, elapsed = _process_cpu(process.pid) or 0.0, time.monotonic() - started
        backends_after = _backends_cpu(database) if database else {}
        lines = [
            f"{backend}: settled after {settled:.0f} s; load average {load}",
            f"  serve process: {(after - before) / elapsed * 100:.2f} % of a core"
            f" over {elapsed:.0f} s",
        ]
        if database is not None:
            # Backends that came or went during the window count from zero or to their end.
            spent = sum(
                value - backends_before.get(pid, 0.0) for pid, value in backends_after.items()
            )
            time.sleep(1.2)  # backends report their transactions at most once a second
            ran = (pg_xacts(database) or 0) - (xacts or 0)
            lines.append(f"  PostgreSQL backends: {spent / elapsed * 100:.2f} % of a core")
            lines.append(f"  PostgreSQL transactions: {ran / elapsed:.1f} per second")
        return "\n".join(lines)
    finally:
        _stop(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    for backend in chosen_backends(args.backend):
        databases = sqlite_database if backend == "sqlite" else postgres_database
        with databases() as url, tempfile.TemporaryDirectory() as directory:
            print(_measure(backend, url, args.seconds, directory), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
