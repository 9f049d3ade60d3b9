"""Webhook deliveries per second against a sink that is never the bottleneck, beside the same
signed requests sent by a bare client; and event-to-webhook latency at a write rate.

    uv run python -m bench.deliveries [--backend sqlite|postgresql|both] [--events N]

For each backend, on a fresh database (bench.api's: a temporary SQLite file, or a new
PostgreSQL database dropped afterwards), in one run:

(a) latency: contacts are written through the HTTP API at `--rate` writes/s in an open loop
    (bench.events' generator) with one endpoint pointing at the recording receiver
    (bench/receiver.py); latency is its arrival time minus the moment the write's response
    came back (monotonic clock).
(b) the sink: nginx answering 204 (bench/sink.py). wrk sends it the very requests our
    workers will send (bodies, signatures and all) to show what it takes.
(c) ours: with the workers stopped, N events are appended; that endpoint is switched off and
    one pointing at the sink added; the workers start and the rate is the deliveries from the
    first to the last arrival in nginx's log, divided by that time.
(d) bare: the same N signed requests POSTed by one asyncio process with the client our
    workers use (contactflow.platform.webhooks.transport), as many in flight as our workers
    have (delivery loops x batch size, per worker process), no database; then wrk again.

See bench/README.md.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from tests.support import Tenant, make_tenant
from tests.webhooks.helpers import LOOPBACK_POLICY

from bench.api import (
    _table,
    chosen_backends,
    postgres_database,
    sqlite_database,
)
from bench.events import (
    LATENCY_DRAIN,
    WORKER_PROCESSES,
    CpuSample,
    Matched,
    Paced,
    ReceiverClient,
    _by_marker,
    _create_endpoint,
    _effective_settings,
    _environment,
    _ours,
    _server,
    _stop_on_sigterm,
    _warm_up,
    cpu_use,
    match,
    paced_writes,
    percentile_ms,
    preload,
    writes,
)
from bench.sink import Request, Sink, capacity, nginx_sink
from bench.wrk import WrkResult
from contactflow.contacts import service as contacts
from contactflow.contacts.schemas import ContactCreate
from contactflow.platform.db import Database
from contactflow.platform.events import Event, delivered_payload
from contactflow.platform.migrate import upgrade
from contactflow.platform.webhooks import service as webhooks
from contactflow.platform.webhooks.delivery import USER_AGENT
from contactflow.platform.webhooks.models import WebhookEndpoint
from contactflow.platform.webhooks.signing import installation_signer, standard_signatures
from contactflow.platform.webhooks.transport import Poster, TransportError

AIM_RATE = 2000.0
AIM_RATIO = 0.5
AIM_P50_MS = 20.0
AIM_P99_MS = 100.0
WRK_CONNECTIONS = 64
WRK_REQUESTS = 2000  # distinct requests in wrk's script, sent in turn
POLL = 0.1
STALL = 20.0


@dataclass(frozen=True)
class Report:
    backend: str
    load: str
    rate: float
    paced: Paced
    latency: Matched
    capacity: WrkResult
    events: int
    ours_rate: float | None
    ours_delivered: int
    ours_duplicates: int
    ours_cpu_ms: float | None
    postgres_cpu_ms: float | None
    bare_rate: float
    bare_cpu_ms: float
    bare_errors: int
    concurrency: int
    ceiling: WrkResult


def _log(backend: str, message: str) -> None:
    print(f"[{backend}] {message}", flush=True)


async def _first_contact(database_url: str) -> Tenant:
    """A tenant with one contact (the ContactCreate the pre-loaded events copy)."""
    db = Database(database_url)
    try:
        tenant = await make_tenant(db)
        async with db.unit_of_work() as uow:
            fields = ContactCreate.model_validate({"firstName": "Bench", "lastName": "first"})
            await contacts.create_contact(uow, tenant.location_id, fields, "US")
    finally:
        await db.dispose()
    return tenant


async def _point_at(database_url: str, location_id: str, url: str) -> None:
    """Switch the location's endpoints off and add one to `url`."""
    db = Database(database_url)
    try:
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.location_id == location_id)
                .values(enabled=False)
            )
            await webhooks.create_endpoint(
                uow,
                location_id,
                LOOPBACK_POLICY,
                url=url,
                event_types=[],
                description="bench.deliveries",
                enabled=True,
                ordered=True,
            )
    finally:
        await db.dispose()


async def signed_requests(database_url: str, location_id: str, after: int) -> list[Request]:
    """What our workers send for the events after seq `after`: body and headers as
    delivery.py builds them, signed with the enabled endpoint's secret and the installation
    key."""
    db = Database(database_url)
    try:
        signer = await installation_signer(db)
        async with db.reader() as session:
            endpoint = await session.scalar(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.location_id == location_id, WebhookEndpoint.enabled
                )
            )
            assert endpoint is not None
            rows = await session.scalars(
                select(Event)
                .where(Event.location_id == location_id, Event.seq > after)
                .order_by(Event.seq)
            )
            timestamp = int(time.time())
            requests = []
            for event in rows:
                body = _body(delivered_payload(event))
                headers = {
                    "content-type": "application/json",
                    "user-agent": USER_AGENT,
                    "webhook-id": event.id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": standard_signatures(
                        [endpoint.secret], event.id, timestamp, body
                    ),
                    "x-ghl-signature": signer.sign(body),
                }
                requests.append(Request(headers, body))
    finally:
        await db.dispose()
    return requests


def _body(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def _last_seq(database_url: str, location_id: str) -> int:
    db = Database(database_url)
    try:
        async with db.reader() as session:
            value = await session.scalar(
                select(Event.seq)
                .where(Event.location_id == location_id)
                .order_by(Event.seq.desc())
                .limit(1)
            )
    finally:
        await db.dispose()
    return int(value or 0)


async def bare(url: str, requests: Sequence[Request], concurrency: int) -> tuple[float, int]:
    """POST every request once, `concurrency` at a time: (rate, errors)."""
    poster = Poster()
    errors = 0
    numbers = iter(range(len(requests)))

    async def worker() -> None:
        nonlocal errors
        for number in numbers:
            request = requests[number]
            try:
                answer = await poster.post(url, request.body, request.headers, 15.0)
            except TransportError:
                errors += 1
                continue
            if answer.status != 204:
                errors += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    await poster.aclose()
    return len(requests) / elapsed, errors


def wait_for_sink(
    sink: Sink, expected: int, deadline: float, since: float
) -> list[tuple[float, str]]:
    """The sink's arrivals from `since` (wall clock), once `expected` webhook ids are among
    them, or they stall, or the deadline passes."""
    seen, progress = 0, time.monotonic()
    while time.monotonic() < deadline:
        arrivals = sink.arrivals(since)
        if len({webhook_id for _, webhook_id in arrivals}) >= expected:
            time.sleep(0.5)  # a moment for duplicates, if any
            return sink.arrivals(since)
        if len(arrivals) != seen:
            seen, progress = len(arrivals), time.monotonic()
        elif time.monotonic() - progress > STALL:
            break
        time.sleep(POLL)
    return sink.arrivals(since)


def _uptime() -> str:
    try:
        with open("/proc/loadavg") as loadavg:
            return "load average " + ", ".join(loadavg.read().split()[:3])
    except OSError:
        return "load average n/a"


def run_backend(backend: str, args: argparse.Namespace) -> Report:
    database = sqlite_database() if backend == "sqlite" else postgres_database()
    with database as database_url, ExitStack() as stack:
        db_name = make_url(database_url).database if backend == "postgresql" else None
        upgrade(database_url)
        tenant = asyncio.run(_first_contact(database_url))
        location_id = tenant.location_id
        env = _environment(database_url, embedded=backend == "sqlite")
        settings = _effective_settings(env)

        # (a) latency through the API, to the recording receiver
        receiver = stack.enter_context(_server([sys.executable, "-m", "bench.receiver"], env))
        inbox = ReceiverClient(receiver)
        stack.callback(inbox.close)
        plan = writes("create", tenant, [])
        with _ours(backend, database_url, api=True, workers=True) as (api, _roles):
            assert api is not None
            _create_endpoint(api, tenant, receiver)
            _warm_up(api, plan, inbox)
            _log(backend, f"(a) {args.rate:g} writes/s for {args.seconds:g} s ...")
            paced = asyncio.run(paced_writes(api, plan, args.rate, args.seconds, "a"))
            inbox.wait_for(len(paced.sent), time.monotonic() + LATENCY_DRAIN)
            time.sleep(0.2)
            latency = match(paced.sent, inbox.drain(), _by_marker)

        # (b) the sink and what it takes
        sink = stack.enter_context(nginx_sink())
        asyncio.run(_point_at(database_url, location_id, sink.url))
        after = asyncio.run(_last_seq(database_url, location_id))
        _log(backend, f"(c) pre-loading {args.events} events with the workers off ...")
        asyncio.run(preload(database_url, location_id, args.events, "b"))
        requests = asyncio.run(signed_requests(database_url, location_id, after))
        load = _uptime()
        _log(backend, f"(b) wrk against nginx, {WRK_CONNECTIONS} connections ...")
        taken = capacity(
            sink, requests[:WRK_REQUESTS], connections=WRK_CONNECTIONS, seconds=args.wrk
        )

        # (c) ours: only what arrives from now on counts, the lines of wrk's requests that
        # nginx writes after the clear left out (they carry the same webhook ids)
        sink.clear()
        since = time.time()
        with _ours(backend, database_url, api=False, workers=True) as (_, roles):
            roles = {**roles, "sink": [sink.pid]}
            before = CpuSample.take(roles, db_name)
            _log(backend, "(c) workers started; waiting for the deliveries ...")
            arrivals = wait_for_sink(sink, args.events, time.monotonic() + args.timeout, since)
            after_cpu = CpuSample.take(roles, db_name)
        firsts: dict[str, float] = {}
        for at, webhook_id in arrivals:
            firsts.setdefault(webhook_id, at)
        times = sorted(firsts.values())
        ours_rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else None
        cpu = cpu_use(before, after_cpu)
        ours_ms = cpu.ms_per(len(times), "api", "workers")
        pg_ms = cpu.ms_per(len(times), "postgres")

        # (d) bare, then wrk again
        processes = 1 if backend == "sqlite" else WORKER_PROCESSES
        concurrency = settings.delivery_loops * settings.delivery_batch_size * processes
        _log(backend, f"(d) bare client, {concurrency} in flight ...")
        started_cpu = time.process_time()
        bare_rate, bare_errors = asyncio.run(bare(sink.url, requests, concurrency))
        bare_ms = (time.process_time() - started_cpu) / len(requests) * 1000
        ceiling = capacity(
            sink, requests[:WRK_REQUESTS], connections=WRK_CONNECTIONS, seconds=args.wrk
        )
        return Report(
            backend=backend,
            load=f"{load} before, {_uptime()} after",
            rate=args.rate,
            paced=paced,
            latency=latency,
            capacity=taken,
            events=args.events,
            ours_rate=ours_rate,
            ours_delivered=len(firsts),
            ours_duplicates=len(arrivals) - len(firsts),
            ours_cpu_ms=ours_ms,
            postgres_cpu_ms=pg_ms,
            bare_rate=bare_rate,
            bare_cpu_ms=bare_ms,
            bare_errors=bare_errors,
            concurrency=concurrency,
            ceiling=ceiling,
        )


def _f(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def render(report: Report) -> str:
    p50 = percentile_ms(report.latency.latencies, 0.5)
    p99 = percentile_ms(report.latency.latencies, 0.99)
    ratio = None if report.ours_rate is None else report.ours_rate / report.bare_rate
    topology = (
        "API with embedded workers, one process"
        if report.backend == "sqlite"
        else f"API without workers + {WORKER_PROCESSES} `contactflow worker` processes"
    )
    lines = [
        f"== {report.backend}: {topology} ==",
        report.load,
        "",
        f"(a) event-to-webhook latency, POST /contacts/ at {report.rate:g}/s (achieved "
        f"{report.paced.achieved:.0f}/s, {report.paced.errors} errors, {report.paced.unsent} "
        f"unsent): {report.latency.delivered}/{report.latency.expected} delivered, "
        f"p50 {_f(p50, 1)} ms, p99 {_f(p99, 1)} ms (aim <= {AIM_P50_MS:g} / {AIM_P99_MS:g})",
        "",
        f"(b)-(d) {report.events} deliveries to nginx (return 204)",
        _table(
            ["sender", "req/s", "CPU ms/req", "postgres ms/req", "errors/dup", "note"],
            [
                [
                    "wrk before (sink capacity)",
                    _f(report.capacity.rate),
                    "",
                    "",
                    str(report.capacity.errors),
                    f"{WRK_CONNECTIONS} connections, C",
                ],
                [
                    "ours",
                    _f(report.ours_rate),
                    _f(report.ours_cpu_ms, 3),
                    _f(report.postgres_cpu_ms, 3),
                    f"{report.events - report.ours_delivered}/{report.ours_duplicates}",
                    f"aim >= {AIM_RATE:,.0f}",
                ],
                [
                    "bare (same client, no db)",
                    _f(report.bare_rate),
                    _f(report.bare_cpu_ms, 3),
                    "",
                    str(report.bare_errors),
                    f"{report.concurrency} in flight",
                ],
                [
                    "ours/bare",
                    _f(ratio, 2),
                    "",
                    "",
                    "",
                    f"aim >= {AIM_RATIO:g}",
                ],
                [
                    "wrk after",
                    _f(report.ceiling.rate),
                    "",
                    "",
                    str(report.ceiling.errors),
                    "",
                ],
            ],
        ),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.deliveries",
        description="Webhook deliveries/s against nginx beside a bare client; latency.",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0, help="writes/s of the latency phase")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the latency phase")
    parser.add_argument("--wrk", type=float, default=5.0, help="seconds of each wrk run")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    if args.events < 2 or args.rate <= 0 or args.seconds <= 0:
        parser.error("--events >= 2, --rate and --seconds > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    backends = chosen_backends(args.backend)
    print(f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M %Z')}")
    reports = [render(run_backend(backend, args)) for backend in backends]
    for text in reports:
        print()
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
