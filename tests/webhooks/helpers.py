"""Helpers of the webhook and event-log tests: signature verifiers, polling, isolated
databases, writes through the service layer and `contactflow` processes."""

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from highlevel.logging import Logger
from highlevel.storage.memory_session_storage import MemorySessionStorage
from highlevel.webhook.webhook_manager import WebhookManager
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from contactflow.contacts import service as contacts
from contactflow.contacts.schemas import ContactCreate, ContactUpdate
from contactflow.platform.db import Database
from contactflow.platform.events import Event
from contactflow.platform.webhooks import service as webhooks
from contactflow.platform.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from contactflow.platform.webhooks.ssrf import UrlPolicy
from tests.receiver import Arrival
from tests.support import CONTACTFLOW, Tenant, cli_env

Json = dict[str, Any]
T = TypeVar("T")
TenantFactory = Callable[..., Coroutine[Any, Any, Tenant]]
LOOPBACK_POLICY = UrlPolicy(allow_http=True, allowed=["127.0.0.1/32"])


def json_of(response: httpx.Response) -> Json:
    body: Json = response.json()
    return body


async def poll(
    fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, within: float = 10.0
) -> T:
    """Call `fetch` until `done` accepts its result; fail after `within` seconds, showing the
    last result."""
    deadline = time.monotonic() + within
    while True:
        value = await fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {within} s; last value: {value!r}"[:4000])
        await asyncio.sleep(0.03)


# Verifiers -------------------------------------------------------------------------------


def highlevel_verifier() -> Any:
    """The official SDK's webhook verifier, constructed as the SDK's HighLevel class does
    (logger, session storage, OAuth service: the last is used only for INSTALL webhooks)."""
    logger = Logger("warn", "GHL SDK test")
    return WebhookManager(logger, MemorySessionStorage(logger), None)


@dataclass
class Verifier:
    """Checks both signatures of a delivery: Standard Webhooks (every secret given) and the
    HighLevel SDK's Ed25519 verifier with the installation's public key."""

    secrets: list[str]
    public_key: str
    sdk: Any = field(default_factory=highlevel_verifier)

    def verify(self, arrival: Arrival) -> Json:
        payloads = [Webhook(key).verify(arrival.body, arrival.headers) for key in self.secrets]
        assert self.sdk.verify_ed25519_signature(
            arrival.body.decode(), arrival.headers["x-ghl-signature"], self.public_key
        ), "the HighLevel SDK rejected x-ghl-signature"
        payload: Json = payloads[0]
        assert payload["webhookId"] == arrival.headers["webhook-id"]
        return payload


async def public_key(client: httpx.AsyncClient) -> str:
    response = await client.get("/webhooks/public-key")
    assert response.status_code == 200, response.text
    body = json_of(response)
    assert body["algorithm"] == "Ed25519"
    assert body["header"] == "x-ghl-signature"
    key: str = body["publicKey"]
    return key


# The HTTP API ----------------------------------------------------------------------------


async def add_endpoint(client: httpx.AsyncClient, url: str, **fields: Any) -> tuple[Json, str]:
    """Create an endpoint; its wire form and the secret (shown once)."""
    response = await client.post("/webhooks", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    body = json_of(response)
    assert body["secret"].startswith("whsec_")
    endpoint: Json = body["endpoint"]
    return endpoint, body["secret"]


async def deliveries(client: httpx.AsyncClient, endpoint_id: str, **params: Any) -> list[Json]:
    response = await client.get(f"/webhooks/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    rows: list[Json] = json_of(response)["deliveries"]
    return rows


async def attempts(client: httpx.AsyncClient, endpoint_id: str, delivery_id: str) -> list[Json]:
    response = await client.get(f"/webhooks/{endpoint_id}/deliveries/{delivery_id}/attempts")
    assert response.status_code == 200, response.text
    rows: list[Json] = json_of(response)["attempts"]
    return rows


async def log_events(client: httpx.AsyncClient, **params: Any) -> list[Json]:
    """Every event of the caller's location (following pages), oldest first."""
    found: list[Json] = []
    after = int(params.pop("after", 0))
    while True:
        response = await client.get("/events", params={**params, "after": after, "limit": 1000})
        assert response.status_code == 200, response.text
        page = json_of(response)
        found.extend(page["events"])
        if not page["events"]:
            return found
        after = page["nextAfter"]


async def create_contact(client: httpx.AsyncClient, **fields: Any) -> Json:
    response = await client.post("/contacts/", json=fields)
    assert response.status_code == 201, response.text
    contact: Json = json_of(response)["contact"]
    return contact


async def update_contact(client: httpx.AsyncClient, contact_id: str, **fields: Any) -> Json:
    response = await client.put(f"/contacts/{contact_id}", json=fields)
    assert response.status_code == 200, response.text
    contact: Json = json_of(response)["contact"]
    return contact


def arrivals_at(arrivals: list[Arrival], path: str) -> list[Arrival]:
    return [arrival for arrival in list(arrivals) if arrival.path == path]


def webhook_ids(arrivals: list[Arrival]) -> list[str]:
    return [arrival.headers["webhook-id"] for arrival in arrivals]


# The service layer (for tests that must not go through a server with embedded workers) --


async def add_endpoint_row(db: Database, location_id: str, url: str) -> WebhookEndpoint:
    async with db.unit_of_work() as uow:
        return await webhooks.create_endpoint(
            uow,
            location_id,
            LOOPBACK_POLICY,
            url=url,
            event_types=[],
            description="",
            enabled=True,
            ordered=True,
        )


async def create_contacts(db: Database, location_id: str, names: list[str]) -> list[str]:
    """One transaction creating a contact per name (a ContactCreate event each)."""
    async with db.unit_of_work() as uow:
        ids = []
        for name in names:
            fields = ContactCreate.model_validate({"firstName": name})
            ids.append((await contacts.create_contact(uow, location_id, fields, "US")).id)
        return ids


async def rename_contacts(db: Database, location_id: str, ids: list[str], suffix: str) -> None:
    """One transaction renaming each contact (a ContactUpdate event each)."""
    async with db.unit_of_work() as uow:
        for contact_id in ids:
            fields = ContactUpdate.model_validate({"lastName": f"L{suffix}"})
            await contacts.update_contact(uow, location_id, contact_id, fields, "US")


async def stored_events(db: Database, location_id: str) -> list[Event]:
    async with db.reader() as session:
        rows = await session.scalars(
            select(Event).where(Event.location_id == location_id).order_by(Event.seq)
        )
        return list(rows)


async def stored_deliveries(db: Database, endpoint_id: str) -> list[WebhookDelivery]:
    async with db.reader() as session:
        rows = await session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        )
        return list(rows)


async def stored_attempts(db: Database, endpoint_id: str) -> list[WebhookAttempt]:
    async with db.reader() as session:
        rows = await session.scalars(
            select(WebhookAttempt)
            .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
        )
        return list(rows)


def assert_per_subject_order(events: list[Event], delivered: list[str]) -> None:
    """`delivered` (webhook ids in arrival order, duplicates allowed) reaches each subject's
    events in sequence order: the first arrival of each event comes after the first arrival
    of every earlier event about the same subject."""
    first: dict[str, int] = {}
    for position, event_id in enumerate(delivered):
        first.setdefault(event_id, position)
    last_seen: dict[str, tuple[int, int]] = {}
    for event in events:
        subject = event.subject_id or event.id
        position = first[event.id]
        if subject in last_seen:
            previous_seq, previous_position = last_seen[subject]
            assert previous_position < position, (
                f"event seq {event.seq} about {subject} arrived before seq {previous_seq}"
            )
        last_seen[subject] = (event.seq, position)


# `contactflow` processes ------------------------------------------------------------------


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def failures(self) -> str:
        """A summary of the steps that raised (each is retried; a failed record leaves its
        batch leased until the lease expires, so those deliveries go out again)."""
        lines = self.output().splitlines()
        failed = [line for line in lines if line.startswith("worker step ")]
        errors = sorted(
            {
                line
                for line in lines
                if line[:1].isalpha() and ("Error" in line or "Exception" in line)
            }
        )
        return f"{len(failed)} failed steps; errors: {[e[:200] for e in errors[:5]]}"

    async def started(self, within: float = 90.0) -> None:
        deadline = time.monotonic() + within
        while "started" not in self.output():
            assert self.process.poll() is None, f"worker exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"worker did not start:\n{self.output()}"
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def stop(self, within: float = 20.0) -> int:
        """SIGTERM, then wait for a clean exit; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + within
        while (code := self.process.poll()) is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"worker did not stop:\n{self.output()}")
            await asyncio.sleep(0.05)
        return code


@contextmanager
def worker_processes(database_url: str, directory: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """A factory of `contactflow worker ARGS` processes; any still running are killed at
    exit."""
    started: list[WorkerProcess] = []

    def start(*args: str, **settings: str) -> WorkerProcess:
        log = directory / f"worker-{len(started)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(  # noqa: S603 - our own CLI, the test's arguments
                [str(CONTACTFLOW), "worker", *args],
                env=cli_env(database_url, **settings),
                stdout=sink,
                stderr=subprocess.STDOUT,
                # Its own process group: a signal to the test's group never reaches it, and
                # killing its group at the end leaves nothing of it behind.
                start_new_session=True,
            )
        worker = WorkerProcess(process, log)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            with suppress(ProcessLookupError):
                os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=10)


def assert_error(response: httpx.Response, status: int, field: str) -> str:
    """The error envelope with `status`, naming `field`: a "field: reason" line of a 422, the
    message otherwise. Returns the line or message."""
    assert response.status_code == status, response.text
    body = json_of(response)
    assert body["statusCode"] == status
    assert body["traceId"]
    message = body["message"]
    if status == 422:
        lines = [line for line in message if line.startswith(f"{field}: ")]
        assert lines, (field, message)
        line: str = lines[0]
        return line
    assert isinstance(message, str)
    assert field in message, (field, message)
    return message
