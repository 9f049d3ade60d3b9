"""Mailsuite sending throughput and memory: a 10,000-recipient campaign to a local aiosmtpd,
beside a plain aiosmtplib loop sending the same messages in the same run.

    uv run python -m bench.mail [--backend sqlite|postgresql|both] [--recipients N]

For each backend, on a fresh database (a temporary SQLite file, or a new PostgreSQL database
dropped afterwards):

1. Seeding (not measured): a tenant, a sender whose SMTP server is the sink, a template with
   placeholders, fallbacks and a link, and N contacts on one list.
2. Mailsuite, in a child process: the campaign is launched (every recipient's message merged
   and queued in one transaction; timed on its own), then the workers run as `contactflow
   serve` runs them (platform/runtime.py with the Mailsuite loops: claim with leases, SMTP,
   one commit per message with its EmailSent event and timeline entry) until every email is
   sent. messages/s = N / (time from the workers' start to the last email recorded sent).
3. Plain, in another child process: the same N messages (the rows Mailsuite sent, loaded
   before the clock starts; each built by the same function inside the loop, as Mailsuite
   builds them) over one aiosmtplib connection, one after the other, with no database.

The sink is aiosmtpd in a process of its own, so its CPU is in neither measurement; it
counts what arrives, and the run checks it got 2 N messages. Memory is each child's resident
set: before its measured phase and its peak (ru_maxrss), both in MiB. CPU is each child's
user and system time over its measured phase (all threads: aiosqlite's too) per message:
steadier than rates on a busy machine. The ratio is Mailsuite's rate over the plain loop's:
the share of bare SMTP throughput left after what makes a send durable and observable
(claims, leases, a commit per group of answers, EmailSent and timeline events).
"""

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy import func, insert, select
from tests.support import free_port, make_tenant

from bench.api import (
    _table,
    chosen_backends,
    postgres_database,
    sqlite_database,
)
from contactflow.background import CONTEXT_WORKERS
from contactflow.mailsuite import campaigns
from contactflow.mailsuite.mail_schemas import CampaignCreate
from contactflow.mailsuite.models import (
    SENT,
    Campaign,
    Email,
    ListMember,
    MailContact,
    MailList,
    Sender,
    Template,
    Workspace,
)
from contactflow.mailsuite.outgoing import wire_message
from contactflow.mailsuite.sending import Dispatcher
from contactflow.mailsuite.tracking import Links, tracking_key
from contactflow.mailsuite.worker import send_settings
from contactflow.platform import crypto
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.ids import new_id
from contactflow.platform.migrate import upgrade
from contactflow.platform.runtime import running_workers
from contactflow.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BASE_URL = "https://mail.example.com"
HTML = (
    "<html><body><h1>Spring news for {{first_name|you}}</h1>"
    '<p>Dear {{ first_name | default("reader") }} {{ last_name }},'
    " your plan is {{ plan|free }}.</p>"
    '<p><a href="https://shop.example.com/spring?utm=mail">See the offers</a></p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)
SEED_BATCH = 2_000


def _settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        base_url=BASE_URL,
        smtp_allowed_networks=["127.0.0.1/32"],
        secret_key_file=str(ROOT / "contactflow.key"),
    )


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cpu_seconds() -> float:
    """CPU time of this process, all its threads (aiosqlite's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Seeding -------------------------------------------------------------------------------


async def _seed(database_url: str, port: int, recipients: int) -> str:
    """The campaign's id, on a database with a sender, a template and a list of N."""
    db = Database(database_url)
    try:
        tenant = await make_tenant(db)
        location = tenant.location_id
        now = utcnow()
        async with db.unit_of_work() as uow:
            sender = Sender(
                id=new_id(),
                location_id=location,
                name="Bench",
                from_email="news@bench.example.com",
                from_name="Bench News",
                smtp_host="127.0.0.1",
                smtp_port=port,
                smtp_security="none",
            )
            template = Template(
                id=new_id(),
                location_id=location,
                name="Spring",
                subject="{{first_name|Hi}}!",
                html=HTML,
                text="",
            )
            mailing_list = MailList(id=new_id(), location_id=location, name="Everyone")
            uow.session.add_all([sender, template, mailing_list])
        for start in range(0, recipients, SEED_BATCH):
            rows = [
                {
                    "id": new_id(),
                    "location_id": location,
                    "email": f"reader{number}@example.com",
                    "email_lower": f"reader{number}@example.com",
                    "first_name": f"Reader{number}" if number % 3 else None,
                    "last_name": "Bench",
                    "custom_fields": {"plan": "gold"} if number % 2 else {},
                    "status": "subscribed",
                    "source": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
                for number in range(start, min(start + SEED_BATCH, recipients))
            ]
            async with db.unit_of_work() as uow:
                await uow.session.execute(insert(MailContact), rows)
                await uow.session.execute(
                    insert(ListMember),
                    [{"list_id": mailing_list.id, "contact_id": row["id"]} for row in rows],
                )
        async with db.unit_of_work() as uow:
            uow.session.add(Workspace(location_id=location, name="", custom_field_keys=["plan"]))
            body = CampaignCreate(
                name="Spring", sender_id=sender.id, template_id=template.id, list_id=mailing_list.id
            )
            campaign = await campaigns.create_campaign(uow, location, body)
            return campaign.id
    finally:
        await db.dispose()


# Children ------------------------------------------------------------------------------


async def _mailsuite(database_url: str, campaign_id: str) -> dict[str, Any]:
    """Launch the campaign, then run the workers until every email is sent."""
    settings = _settings(database_url)
    crypto.configure(settings)
    db = Database(database_url)
    try:
        links = Links(BASE_URL, await tracking_key(db))
        async with db.reader() as session:
            campaign = await session.get(Campaign, campaign_id)
            assert campaign is not None
            location = campaign.location_id
        before = _rss_mib()
        started = time.perf_counter()
        async with db.unit_of_work() as uow:
            await campaigns.launch(uow, location, campaign_id, None, links)
        launch_seconds = time.perf_counter() - started
        async with db.reader() as session:
            total = await session.scalar(
                select(func.count()).where(Email.campaign_id == campaign_id)
            )
        after_launch = _rss_mib()
        cpu = _cpu_seconds()
        started = time.perf_counter()
        async with running_workers(db, settings, CONTEXT_WORKERS):
            while True:
                async with db.reader() as session:
                    sent = await session.scalar(
                        select(func.count()).where(
                            Email.campaign_id == campaign_id, Email.status == SENT
                        )
                    )
                if sent == total:
                    break
                await asyncio.sleep(0.1)
            send_seconds = time.perf_counter() - started
            send_cpu = _cpu_seconds() - cpu
        return {
            "messages": total,
            "launch_seconds": launch_seconds,
            "seconds": send_seconds,
            "cpu": send_cpu,
            "rss_before": before,
            "rss_after_launch": after_launch,
            "peak": _peak_mib(),
            "loops": settings.mailsuite_send_loops,
        }
    finally:
        await db.dispose()


async def _plain(database_url: str, campaign_id: str, port: int) -> dict[str, Any]:
    """The same messages through one aiosmtplib connection, no database."""
    settings = _settings(database_url)
    crypto.configure(settings)
    db = Database(database_url)
    try:
        links = Links(BASE_URL, await tracking_key(db))
        dispatcher = Dispatcher(db, send_settings(settings), "bench")
        async with db.reader() as session:
            senders = {row.id: row for row in await session.scalars(select(Sender))}
            rows = list(
                await session.scalars(
                    select(Email).where(Email.campaign_id == campaign_id).order_by(Email.id)
                )
            )
    finally:
        await db.dispose()
    before = _rss_mib()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await smtp.connect()
    for row in rows:
        wire = wire_message(dispatcher.outgoing(senders[row.sender_id], row, links))
        await smtp.sendmail(wire.mail_from, [wire.rcpt_to], wire.data)
    await smtp.quit()
    return {
        "messages": len(rows),
        "seconds": time.perf_counter() - started,
        "cpu": _cpu_seconds() - cpu,
        "rss_before": before,
        "peak": _peak_mib(),
    }


def _sink(port: int) -> None:
    """aiosmtpd counting messages until SIGTERM, then printing the count."""
    from aiosmtpd.controller import Controller

    received = 0
    lock = threading.Lock()

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            nonlocal received
            with lock:
                received += 1
            return "250 2.0.0 Ok"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print("ready", flush=True)
    stopped.wait()
    controller.stop()
    print(json.dumps({"received": received}), flush=True)


# The run -------------------------------------------------------------------------------


def _child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - this module, fixed arguments
        [sys.executable, "-m", "bench.mail", "--child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=3600)
    if process.returncode != 0:
        raise RuntimeError(f"child failed ({process.returncode}): {out[-2000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


@contextmanager
def _running_sink(port: int) -> Iterator[list[int]]:
    """The sink's process; the list receives its count when it stops."""
    process = _child("sink", "--port", str(port))
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the SMTP sink did not start")
    count: list[int] = []
    try:
        yield count
    finally:
        process.send_signal(signal.SIGTERM)
        count.append(_result(process)["received"])


@dataclass(frozen=True)
class Outcome:
    backend: str
    mailsuite: dict[str, Any]
    plain: dict[str, Any]
    received: int


def run_backend(backend: str, recipients: int) -> Outcome:
    with ExitStack() as stack:
        url = stack.enter_context(sqlite_database() if backend == "sqlite" else postgres_database())
        upgrade(url)
        port = free_port()
        received = stack.enter_context(_running_sink(port))
        campaign_id = asyncio.run(_seed(url, port, recipients))
        mailsuite = _result(_child("mailsuite", "--database", url, "--campaign", campaign_id))
        plain = _result(
            _child("plain", "--database", url, "--campaign", campaign_id, "--port", str(port))
        )
    return Outcome(backend, mailsuite, plain, received[0])


def report(outcome: Outcome) -> str:
    ours, bare = outcome.mailsuite, outcome.plain
    ours_rate = ours["messages"] / ours["seconds"]
    bare_rate = bare["messages"] / bare["seconds"]
    rows = [
        [
            f"Mailsuite ({ours['loops']} send loops)",
            str(ours["messages"]),
            f"{ours['seconds']:.1f}",
            f"{ours_rate:,.0f}",
            f"{ours_rate / bare_rate:.2f}",
            f"{ours['cpu'] * 1000 / ours['messages']:.2f}",
            f"{ours['rss_after_launch']:.0f}",
            f"{ours['peak']:.0f}",
        ],
        [
            "plain aiosmtplib loop",
            str(bare["messages"]),
            f"{bare['seconds']:.1f}",
            f"{bare_rate:,.0f}",
            "1.00",
            f"{bare['cpu'] * 1000 / bare['messages']:.2f}",
            f"{bare['rss_before']:.0f}",
            f"{bare['peak']:.0f}",
        ],
    ]
    table = _table(
        [
            "path",
            "messages",
            "seconds",
            "msg/s",
            "ratio",
            "CPU ms/msg",
            "RSS before MiB",
            "peak MiB",
        ],
        rows,
    )
    launch = ours["messages"] / ours["launch_seconds"]
    return (
        f"{outcome.backend}: campaign launch merged and queued {ours['messages']} emails in "
        f"{ours['launch_seconds']:.1f} s ({launch:,.0f}/s; RSS {ours['rss_before']:.0f} -> "
        f"{ours['rss_after_launch']:.0f} MiB); the sink received {outcome.received}\n{table}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--child", choices=("sink", "mailsuite", "plain"))
    parser.add_argument("--database")
    parser.add_argument("--campaign")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    if args.child == "sink":
        _sink(args.port)
        return 0
    if args.child == "mailsuite":
        print(json.dumps(asyncio.run(_mailsuite(args.database, args.campaign))))
        return 0
    if args.child == "plain":
        print(json.dumps(asyncio.run(_plain(args.database, args.campaign, args.port))))
        return 0
    backends = chosen_backends(args.backend)
    for backend in backends:
        outcome = run_backend(backend, args.recipients)
        print(report(outcome), flush=True)
        if outcome.received != 2 * args.recipients:
            print(f"the sink received {outcome.received}, expected {2 * args.recipients}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
