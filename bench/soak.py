"""A soak of the cluster of tests/platform/test_cluster.py: two API processes (no embedded
workers, rate limits in Redis) behind HAProxy, two `contactflow worker` processes, on a
PostgreSQL server of the run's own (tests/platform/cluster.py), so that it can be restarted.

    uv run python -m bench.soak [--minutes 10] [--rate 500]

wrk sends a mix of reads and writes through HAProxy, paced to about `--rate` requests per
second; each contact created runs a flow and every event goes to a webhook endpoint at a
healthy receiver. Every 20 s one API or worker process, chosen at random, is SIGKILLed and
started again; at half time PostgreSQL is stopped and started again. The report:

- requests that failed outside the database's outage, split into those the balancer could
  have retried (an idempotent method, or a connection never made; HAProxy's retries should
  leave none) and POSTs in flight at a killed API (not retried: they may have been done);
  the outage's own failures are counted apart;
- events stored against deliveries by `webhook-id` at the receiver (lost, repeated);
- p50 and p99 latency of the requests, as HAProxy timed them;
- the resident set of each process at the start, the middle and the end of the run, with the
  age of the process then (a killed one starts again from nothing).
"""

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import aliased
from tests.flows.helpers import CREATED_TASK_FLOW, Hub
from tests.platform.cluster import (
    API_SETTINGS,
    HAPROXY,
    WORKER_SETTINGS,
    PrivatePostgres,
    haproxy_config,
    kill_group,
    private_postgres,
    processes,
    spawn,
)
from tests.receiver import Receiver, running_receiver
from tests.support import (
    CONTACTFLOW,
    SERVE_STARTUP_SECONDS,
    Tenant,
    api_client,
    cli_env,
    free_port,
    make_tenant,
    wait_until_serving,
)
from tests.webhooks.helpers import add_endpoint, stored_events, webhook_ids

from bench import wrk
from bench.memory import resident_mib
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.webhooks.models import WebhookDelivery

KILL_EVERY_SECONDS = 20.0
SAMPLE_EVERY_SECONDS = 5.0
SETTLE_SECONDS = 180.0
CONNECTIONS = 40
REDIS_URL = "redis://127.0.0.1:6379/0"
HOOK_PATH = "/soak"
# Contacts the reads and updates of the mix go to.
SEEDED = 5


@dataclass
class Slot:
    """One API or worker of the cluster; `process` is its current incarnation."""

    name: str
    args: list[str]
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    kills: int = 0
    rss: list[tuple[float, float, float]] = field(default_factory=list)  # at, MiB, age

    async def start(self, started: list[subprocess.Popen[bytes]], logs: Path) -> None:
        self.process = spawn(started, self.args, self.env, logs / f"{self.name}.log")
        self.started_at = time.time()
        await wait_until_serving(f"http://127.0.0.1:{self.port}", SERVE_STARTUP_SECONDS)

    def sample(self) -> None:
        if self.process is not None and self.process.poll() is None:
            now = time.time()
            self.rss.append((now, resident_mib(self.process.pid), now - self.started_at))


@dataclass(frozen=True)
class Logged:
    """One request as HAProxy logged it (tests.platform.cluster.REQUEST_LOG_FORMAT)."""

    at: float
    status: int
    total_ms: int
    server: str
    termination: str
    retries: str
    method: str

    @classmethod
    def parse(cls, line: str) -> "Logged | None":
        parts = line.split()
        if len(parts) != 7:
            return None
        at, status, total, server, termination, retries, method = parts
        return cls(float(at), int(status), int(total), server, termination, retries, method)

    def overlaps(self, start: float, end: float) -> bool:
        """Whether the request was open at some time between `start` and `end`."""
        return self.at <= end and self.at + self.total_ms / 1000 >= start

    @property
    def failed(self) -> bool:
        return self.status >= 500 or self.status <= 0

    @property
    def retryable(self) -> bool:
        """An idempotent request, or one that never reached a server (its termination
        state's second letter is the connection phase)."""
        return self.method in ("GET", "HEAD", "PUT") or self.termination[1:2] == "C"


def mix(headers: dict[str, str], contacts: list[str]) -> list[wrk.Request]:
    """A quarter creates, an eighth updates, the rest reads of a contact and of a page."""
    json_headers = {**headers, "Content-Type": "application/json"}
    get = [wrk.Request("GET", f"/contacts/{cid}", headers) for cid in contacts]
    page = wrk.Request("GET", "/contacts/?limit=20", headers)
    create = wrk.Request(
        "POST",
        "/contacts/",
        json_headers,
        '{"firstName":"Soak{n}","email":"soak{n}@example.com"}',
    )
    update = [
        wrk.Request("PUT", f"/contacts/{cid}", json_headers, '{"lastName":"L{n}"}')
        for cid in contacts
    ]
    return [get[0], page, create, get[1], update[0], get[2], page, create] + [
        item for pair in zip(get[3:], update[1:], strict=False) for item in pair
    ]


async def seed(client: httpx.AsyncClient, receiver: Receiver, tenant: Tenant) -> list[str]:
    await add_endpoint(client, receiver.url(HOOK_PATH))
    await Hub(client, tenant).flow(CREATED_TASK_FLOW)
    contacts = []
    for number in range(SEEDED):
        response = await client.post("/contacts/", json={"firstName": f"Seed{number}"})
        response.raise_for_status()
        contacts.append(response.json()["contact"]["id"])
    return contacts


async def restart_database(server: PrivatePostgres, apis: list[Slot]) -> tuple[float, float]:
    """Stop PostgreSQL, start it again and wait until every API is ready: the outage."""
    stopped_at = time.time()
    await asyncio.to_thread(server.stop, "fast")
    await asyncio.to_thread(server.start)
    async with httpx.AsyncClient(timeout=5) as http:
        for api in apis:
            while True:
                try:
                    if (await http.get(f"http://127.0.0.1:{api.port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
    return stopped_at, time.time()


async def balanced(stats: int, name: str) -> None:
    """Wait (bounded) until HAProxy's health checks count the API `name` as up again: a
    process serving is not yet one the balancer sends to, and killing the other API before
    then would leave it none, which no balancer can retry around."""
    deadline = time.monotonic() + SERVE_STARTUP_SECONDS
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            rows = (await http.get(f"http://127.0.0.1:{stats}/stats;csv")).text.splitlines()
            if any(row.split(",")[1:2] == [name] and ",UP," in row for row in rows):
                return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"HAProxy did not count {name} as up within {SERVE_STARTUP_SECONDS} s")


async def chaos(
    seconds: float,
    slots: list[Slot],
    server: PrivatePostgres,
    started: list[subprocess.Popen[bytes]],
    logs: Path,
    stats: int,
) -> tuple[float, float]:
    """Kill and restart a random process every KILL_EVERY_SECONDS (a restarted API counts
    as back once the balancer sends to it); restart the database once at half time. Returns
    the outage's window."""
    rng = random.Random(0)
    began = time.time()
    outage = (0.0, 0.0)
    next_kill = began + KILL_EVERY_SECONDS
    next_sample = began
    while time.time() - began < seconds:
        now = time.time()
        if now >= next_sample:
            for slot in slots:
                slot.sample()
            next_sample += SAMPLE_EVERY_SECONDS
        if outage == (0.0, 0.0) and now - began >= seconds / 2:
            outage = await restart_database(server, [s for s in slots if s.name.startswith("api")])
            print(f"database restarted; APIs ready after {outage[1] - outage[0]:.1f} s")
        elif now >= next_kill:
            slot = rng.choice(slots)
            assert slot.process is not None
            kill_group(slot.process)
            slot.kills += 1
            await slot.start(started, logs)
            if slot.name.startswith("api"):
                await balanced(stats, slot.name)
            print(
                f"{time.time() - began:5.0f} s: {slot.name} killed, back after "
                f"{time.time() - now:.1f} s"
            )
            next_kill += KILL_EVERY_SECONDS
        await asyncio.sleep(0.2)
    for slot in slots:
        slot.sample()
    return outage


async def settle(db: Database, receiver: Receiver, location_id: str) -> tuple[int, int, int]:
    """Wait (bounded) until every stored event reached the receiver: events, lost, repeats."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        events = {e.id for e in await stored_events(db, location_id)}
        arrived = [w for w in webhook_ids(list(receiver.arrivals))]
        lost = events - set(arrived)
        if not lost or time.monotonic() > deadline:
            if lost:
                waiting = await _waiting(db, set(lost))
                print(f"not delivered after {SETTLE_SECONDS:.0f} s: {waiting}")
            return len(events), len(lost), len(arrived) - len(set(arrived))
        await asyncio.sleep(1)


async def _waiting(db: Database, event_ids: set[str]) -> dict[str, int]:
    """What holds back the deliveries of events not yet at the receiver: each one's state,
    attempts, lease and next attempt, and for an ordered one the earlier pending delivery of
    its key that it waits behind, counted."""
    now = utcnow()
    earlier = aliased(WebhookDelivery)
    ahead = (
        select(earlier.id)
        .where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.ordering_key == WebhookDelivery.ordering_key,
            earlier.state == "pending",
            earlier.seq < WebhookDelivery.seq,
        )
        .order_by(earlier.seq)
        .limit(1)
        .scalar_subquery()
    )
    async with db.reader() as session:
        rows = (
            await session.execute(
                select(WebhookDelivery, ahead).where(WebhookDelivery.event_id.in_(event_ids))
            )
        ).all()
        heads = {
            delivery.id: delivery
            for delivery in await session.scalars(
                select(WebhookDelivery).where(
                    WebhookDelivery.id.in_([head for _, head in rows if head is not None])
                )
            )
        }
    found = Counter[str]()
    for delivery, head in rows:
        event_ids.discard(delivery.event_id)
        found[
            _holding(delivery, now) + (f"; behind {_holding(heads[head], now)}" if head else "")
        ] += 1
    found["no delivery row"] = len(event_ids)
    # A long wait in line is one subject's deliveries going one at a time.
    keys = Counter(delivery.ordering_key for delivery, _ in rows)
    for key, count in keys.most_common(3):
        found[f"of subject {key}"] = count
    return dict(found.most_common(11))


def _holding(delivery: WebhookDelivery, now: datetime) -> str:
    lease = delivery.lease_expires_at
    leased = (
        f"leased for {(lease - now).total_seconds():.0f} s" if lease and lease > now else "free"
    )
    due = max((delivery.next_attempt_at - now).total_seconds(), 0)
    error = (delivery.last_error or "")[:50]
    return f"{delivery.state}, {delivery.attempts} attempts, due in {due:.0f} s, {leased} {error}"


def report_requests(log: Path, outage: tuple[float, float], loaded: wrk.WrkResult) -> None:
    requests = [r for r in map(Logged.parse, log.read_text().splitlines()) if r is not None]
    in_outage = [r for r in requests if r.overlaps(*outage)]
    outside = [r for r in requests if not r.overlaps(*outage)]
    failed = [r for r in outside if r.failed]
    retryable = [r for r in failed if r.retryable]
    answered = sorted(r.total_ms for r in requests if not r.failed)
    elapsed = max(r.at for r in requests) - min(r.at for r in requests)
    print(f"\nrequests: {len(requests)} in {elapsed:.0f} s ({len(requests) / elapsed:.0f}/s)")
    print(
        f"  failed outside the outage: {len(failed)} ({len(failed) / len(outside):.4%}); "
        f"retryable {len(retryable)}, POSTs in flight at a killed API "
        f"{len(failed) - len(retryable)}"
    )
    kinds = Counter(f"{r.method} {r.status} {r.termination}" for r in failed)
    print(f"  by kind: {dict(kinds.most_common(6))}")
    outage_failed = [r for r in in_outage if r.failed]
    print(
        f"  during the {outage[1] - outage[0]:.1f} s outage: {len(outage_failed)} of "
        f"{len(in_outage)} failed ({dict(Counter(r.status for r in outage_failed))})"
    )
    print(f"  wrk: {loaded.requests} answered, {loaded.errors} errors (non-2xx/3xx, timeouts)")
    cuts = statistics.quantiles(answered, n=100)
    print(
        f"  latency (HAProxy, answered): p50 {cuts[49]:.0f} ms, p99 {cuts[98]:.0f} ms; "
        f"wrk: p50 {loaded.p50_ms:.0f} ms, p99 {loaded.p99_ms:.0f} ms"
    )


def report_memory(slots: list[Slot]) -> None:
    print("\nresident set, MiB (process age in s): start / mid / end; kills")
    for slot in slots:
        if not slot.rss:
            continue
        mid = slot.rss[len(slot.rss) // 2]
        cells = [f"{mib:6.1f} ({age:3.0f})" for _, mib, age in (slot.rss[0], mid, slot.rss[-1])]
        print(f"  {slot.name:8} {' / '.join(cells)}; {slot.kills}")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def soak(server: PrivatePostgres, minutes: float, rate: int) -> None:
    seconds = minutes * 60
    logs = Path(tempfile.mkdtemp(prefix="contactflow-soak-"))
    api_ports = [free_port(), free_port()]
    front = free_port()
    config = logs / "haproxy.cfg"
    stats = free_port()
    config.write_text(haproxy_config(front, api_ports, request_log=True, stats=stats))
    with running_receiver() as receiver, processes() as started:
        db = Database(server.url)
        tenant = await make_tenant(db)
        api_env = cli_env(server.url, **API_SETTINGS, redis_url=REDIS_URL)
        worker_env = cli_env(server.url, **WORKER_SETTINGS)
        slots = [
            Slot(f"api{n}", [str(CONTACTFLOW), "serve", "--port", str(port)], api_env, port)
            for n, port in enumerate(api_ports)
        ]
        for n in range(2):
            port = free_port()
            args = [str(CONTACTFLOW), "worker", "--health-port", str(port)]
            slots.append(Slot(f"worker{n}", args, worker_env, port))
        await asyncio.gather(*(slot.start(started, logs) for slot in slots))
        haproxy = spawn(
            started,
            [str(HAPROXY), "-db", "-f", str(config)],
            dict(os.environ),
            logs / "haproxy.log",
        )
        async with api_client(f"http://127.0.0.1:{front}", tenant.headers) as client:
            await wait_until_serving(f"http://127.0.0.1:{front}", SERVE_STARTUP_SECONDS)
            contacts = await seed(client, receiver, tenant)
        print(
            f"soak: {minutes:g} min at {rate} req/s target; logs in {logs}; "
            f"load average {load_average()}"
        )
        loading = asyncio.create_task(
            asyncio.to_thread(
                wrk.run,
                front,
                mix(tenant.headers, contacts),
                seconds=seconds,
                connections=CONNECTIONS,
                threads=1,
                base=0,
                server_pid=haproxy.pid,
                scratch=logs,
                pace_ms=round(CONNECTIONS * 1000 / rate),
            )
        )
        outage = await chaos(seconds, slots, server, started, logs, stats)
        print(f"outage from {outage[0]:.1f} to {outage[1]:.1f}")
        loaded = await loading
        print(f"load average at the end {load_average()}")
        # This pool does not listen, so it is not renewed by itself after the restart.
        await db.engine.dispose()
        events, lost, repeats = await settle(db, receiver, tenant.location_id)
        await db.dispose()
        report_requests(logs / "haproxy.log", outage, loaded)
        print(f"\nevents: {events}; lost {lost}; delivered more than once {repeats}")
        report_memory(slots)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=500, help="target requests per second")
    args = parser.parse_args(argv)
    wrk.require()
    # Migrated before the loop runs: the migrations run their own.
    with private_postgres() as server:
        asyncio.run(soak(server, args.minutes, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
