"""Memory of a `serve` process under a steady mixed load: its resident set after the first
minute and at the end, and their ratio (the goal: at most 1.2 after 10 minutes at 200 req/s).

    uv run python -m bench.memory [--backend sqlite|postgresql|both] [--minutes M] [--rate R]

For each backend, on a fresh database seeded as bench.api seeds it, the location that takes
the writes also gets a flow (a new contact -> a Mailsuite task) and a webhook endpoint for
every event type, pointed at nginx (bench/sink.py). Our app runs in a uvicorn subprocess with
its embedded workers, as `contactflow serve` does, so the load goes through the API, the
flow runs and the webhook deliveries. wrk sends bench.api's requests in turn (six reads of a
contact, a page of 100 and two tag searches to one create), each connection paced so that they add
up to about `--rate` requests per second while the server keeps up; the rate it reached is in
the report. The server's resident set is read from /proc every few seconds.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.flows.helpers import CREATED_TASK_FLOW
from tests.webhooks.helpers import LOOPBACK_POLICY

from bench import wrk
from bench.api import Fixture, chosen_backends, postgres_database, prepare, scenarios, server
from bench.api import sqlite_database as sqlite_file
from bench.sink import nginx_sink
from contactflow.flows import service as flows
from contactflow.flows.definition import FlowDefinition
from contactflow.platform.db import Database
from contactflow.platform.webhooks import service as webhooks

CONNECTIONS = 10
SAMPLE_SECONDS = 5.0
FIRST_MINUTE = 60.0
GOAL = 1.2
# Sent in turn; each create also runs the flow and is delivered to the sink.
MIX = ("get", "get", "list", "get", "search", "get", "create", "get", "get", "search")


async def _wire(database_url: str, fixture: Fixture, hook_url: str) -> None:
    """The write location's flow and webhook endpoint."""
    db = Database(database_url)
    try:
        async with db.unit_of_work() as uow:
            location = fixture.write_location
            flow = await flows.create_flow(
                uow, location, "bench.memory", FlowDefinition.model_validate(CREATED_TASK_FLOW)
            )
            await flows.publish(uow, location, flow.id)
            await flows.set_enabled(uow, location, flow.id, True)
            await webhooks.create_endpoint(
                uow,
                location,
                LOOPBACK_POLICY,
                url=hook_url,
                event_types=[],
                description="bench.memory",
                enabled=True,
                ordered=False,
            )
    finally:
        await db.dispose()


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Sampler(threading.Thread):
    """(seconds since start, MiB) of a process, every SAMPLE_SECONDS until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._finished = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while True:
            self.samples.append((time.monotonic() - started, resident_mib(self.pid)))
            if self._finished.wait(SAMPLE_SECONDS):
                return

    def stop(self) -> None:
        self._finished.set()
        self.join()

    def at(self, seconds: float) -> float:
        """The last sample taken at or before `seconds`."""
        return [mib for when, mib in self.samples if when <= seconds][-1]


@contextmanager
def loopback_webhooks() -> Iterator[None]:
    """The server subprocess (it reads CONTACTFLOW_ settings from its environment) may
    deliver webhooks over http to loopback, where the sink listens."""
    wanted = {
        "CONTACTFLOW_DEV_MODE": "true",
        "CONTACTFLOW_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
    }
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class Report:
    backend: str
    seconds: float
    result: wrk.WrkResult
    start_mib: float
    first_minute_mib: float
    end_mib: float
    peak_mib: float
    delivered: int

    @property
    def ratio(self) -> float:
        return self.end_mib / self.first_minute_mib

    def render(self) -> str:
        verdict = "met" if self.ratio <= GOAL else "not met"
        return "\n".join(
            [
                f"== {self.backend}: {self.seconds / 60:g} minutes ==",
                f"requests: {self.result.completed} completed, {self.result.errors} errors, "
                f"{self.result.rate:.0f} req/s; p50/p99 {self.result.p50_ms:.1f} / "
                f"{self.result.p99_ms:.1f} ms; {self.delivered} webhook requests at the sink",
                f"server RSS: {self.start_mib:.0f} MiB idle, {self.first_minute_mib:.0f} MiB "
                f"after the first minute, {self.end_mib:.0f} MiB at the end "
                f"(peak {self.peak_mib:.0f} MiB)",
                f"end / first minute: {self.ratio:.2f} (goal <= {GOAL}: {verdict})",
            ]
        )


@contextmanager
def database(backend: str) -> Iterator[str]:
    with sqlite_file() if backend == "sqlite" else postgres_database() as url:
        yield url


def run_backend(backend: str, seconds: float, rate: float) -> Report:
    with database(backend) as url, nginx_sink() as sink, loopback_webhooks():
        fixture = prepare(url)
        asyncio.run(_wire(url, fixture, sink.url))
        by_name = {scenario.name: scenario.request for scenario in scenarios(fixture)}
        with server("ours", url) as target, tempfile.TemporaryDirectory() as scratch:
            sampler = Sampler(target.pid)
            start = resident_mib(target.pid)
            sampler.start()
            try:
                result = wrk.run(
                    target.port,
                    [by_name[name] for name in MIX],
                    seconds=seconds,
                    connections=CONNECTIONS,
                    threads=1,
                    base=wrk.next_base(),
                    server_pid=target.pid,
                    scratch=Path(scratch),
                    pace_ms=round(CONNECTIONS * 1000 / rate),
                )
            finally:
                sampler.stop()
        return Report(
            backend=backend,
            seconds=seconds,
            result=result,
            start_mib=start,
            first_minute_mib=sampler.at(FIRST_MINUTE),
            end_mib=sampler.samples[-1][1],
            peak_mib=max(mib for _, mib in sampler.samples),
            delivered=len(sink.arrivals()),
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory",
        description="RSS of `serve` after the first minute and at the end of a mixed load.",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s wrk aims at")
    args = parser.parse_args(argv)
    if args.minutes * 60 <= FIRST_MINUTE or args.rate <= 0:
        parser.error("--minutes must be more than 1 and --rate positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk.require()
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; load average {os.getloadavg()}")
    for backend in chosen_backends(args.backend):
        print(run_backend(backend, args.minutes * 60, args.rate).render(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
