"""`kill -9` of a `contactflow worker` in the middle of a flow run: the run was past its
email step and waiting in its delay, and the email was in the middle of its SMTP exchange.
Another worker finishes the run (its earlier steps are not performed again) and, once the
dead worker's lease on the email has expired, sends the email: it arrives exactly once."""

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from contactflow.contacts import service as contacts
from contactflow.contacts.schemas import ContactCreate
from contactflow.flows import service as flows
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import FlowRun, StepRun
from contactflow.mailsuite import senders
from contactflow.mailsuite.mail_schemas import SenderCreate
from contactflow.mailsuite.models import Email
from contactflow.mailsuite.models import Task as MailTask
from contactflow.platform.db import Database
from contactflow.platform.webhooks.ssrf import UrlPolicy
from tests.mailsuite.smtpd import Mailbox
from tests.support import free_port, make_tenant, migrated_database
from tests.webhooks.helpers import (
    WorkerProcess,
    poll,
    worker_processes,
)

LOOPBACK_SMTP = UrlPolicy(allow_http=False, allowed=["127.0.0.1/32"])
# An email's lease is 4 SMTP timeouts: the dead worker's claim on it expires 12 s later.
WORKER_SETTINGS = {
    "lease_seconds": "2",
    "smtp_timeout_seconds": "3",
    "smtp_allowed_networks": json.dumps(["127.0.0.1/32"]),
    "mailsuite_retry_delays": json.dumps([0.1, 0.2, 0.4]),
}


@dataclass
class HoldingMailbox(Mailbox):
    """Answers MAIL FROM only once `released` is set; counts the MAIL commands it saw."""

    released: threading.Event = field(default_factory=threading.Event)
    mail_commands: int = 0

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.mail_commands += 1
        await asyncio.to_thread(self.released.wait)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def held(self) -> int:
        return self.mail_commands


@pytest.fixture
def mailbox() -> Iterator[HoldingMailbox]:
    held = HoldingMailbox(port=free_port())
    held.start()
    try:
        yield held
    finally:
        held.released.set()
        held.stop()


@pytest.fixture
def crash_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    with migrated_database(database_url, tmp_path, "isolated.db") as url:
        yield url


@pytest.fixture
async def crash_db(crash_url: str) -> AsyncIterator[Database]:
    database = Database(crash_url)
    yield database
    await database.dispose()


@pytest.fixture
def workers(crash_url: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    with worker_processes(crash_url, tmp_path) as start:
        yield start


def _definition(sender_id: str) -> FlowDefinition:
    return FlowDefinition.model_validate(
        {
            "trigger": {"key": "contacts.contact.created"},
            "steps": [
                {
                    "type": "action",
                    "id": "welcome",
                    "action": "mailsuite.email.send",
                    "input": {
                        "senderId": sender_id,
                        "to": "{{ trigger.email }}",
                        "subject": "Welcome, {{ trigger.firstName }}",
                        "html": "<p>Hello</p>",
                    },
                },
                {"type": "delay", "id": "pause", "for": {"seconds": 5}},
                {
                    "type": "action",
                    "id": "task",
                    "action": "mailsuite.task.create",
                    "input": {"title": "Follow up with {{ trigger.firstName }}"},
                },
            ],
        }
    )


async def _flow_and_sender(db: Database, location_id: str, mailbox: Mailbox) -> str:
    async with db.unit_of_work() as uow:
        fields = {
            "name": "Welcome",
            "fromEmail": "hello@acme.example.org",
            "smtpHost": mailbox.host,
            "smtpPort": mailbox.port,
            "smtpSecurity": "none",
        }
        sender = await senders.create_sender(
            uow, location_id, SenderCreate.model_validate(fields), LOOPBACK_SMTP
        )
        await uow.session.flush()
        flow = await flows.create_flow(uow, location_id, "Welcome", _definition(sender.id))
        await flows.publish(uow, location_id, flow.id)
        await flows.set_enabled(uow, location_id, flow.id, True)
        return flow.id


@dataclass(frozen=True)
class Step:
    id: str
    state: str
    attempts: int
    output: Any
    error: str | None


async def _run(db: Database, flow_id: str) -> tuple[str, str | None, list[Step]]:
    """The flow's one run: its state, error and steps (("none", ...) before it exists)."""
    async with db.reader() as session:
        run = await session.scalar(select(FlowRun).where(FlowRun.flow_id == flow_id))
        if run is None:
            return "none", None, []
        rows = await session.scalars(
            select(StepRun).where(StepRun.run_id == run.id).order_by(StepRun.position)
        )
        steps = [Step(r.step_id, r.state, r.attempts, r.output, r.error) for r in rows]
        return run.state, run.error, steps


async def _rows(db: Database, model: type[Email] | type[MailTask], location_id: str) -> list[Any]:
    async with db.reader() as session:
        return list(await session.scalars(select(model).where(model.location_id == location_id)))


async def test_a_run_cut_off_by_kill_9_finishes_and_its_email_arrives_once(
    crash_db: Database, workers: Callable[..., WorkerProcess], mailbox: HoldingMailbox
) -> None:
    tenant = await make_tenant(crash_db)
    location = tenant.location_id
    flow_id = await _flow_and_sender(crash_db, location, mailbox)
    first = workers(**WORKER_SETTINGS)
    await first.started()
    async with crash_db.unit_of_work() as uow:
        fields = ContactCreate.model_validate({"firstName": "Ada", "email": "ada@example.com"})
        await contacts.create_contact(uow, location, fields, "US")

    # The run is in its delay, past the email step; the email is in its SMTP exchange.
    _, _, steps = await poll(
        lambda: _run(crash_db, flow_id), lambda run: run[0] == "waiting", within=60
    )
    assert [(step.id, step.state) for step in steps] == [
        ("welcome", "succeeded"),
        ("pause", "waiting"),
    ]
    await poll(mailbox.held, bool, within=30)
    first.kill()
    state, _, _ = await _run(crash_db, flow_id)
    assert state == "waiting"
    (email,) = await _rows(crash_db, Email, location)
    assert email.status == "sending"
    assert email.lease_owner is not None
    mailbox.released.set()

    second = workers(**WORKER_SETTINGS)
    await second.started()
    _, _, steps = await poll(
        lambda: _run(crash_db, flow_id), lambda run: run[0] == "succeeded", within=60
    )
    assert [(step.id, step.state, step.attempts) for step in steps] == [
        ("welcome", "succeeded", 1),
        ("pause", "succeeded", 0),
        ("task", "succeeded", 1),
    ]
    (task,) = await _rows(crash_db, MailTask, location)
    assert task.title == "Follow up with Ada"

    (email,) = await poll(
        lambda: _rows(crash_db, Email, location),
        lambda rows: rows[0].status == "sent",
        within=60,
    )
    assert steps[0].output is not None
    assert steps[0].output["id"] == email.id
    (received,) = mailbox.to("ada@example.com")
    assert received.message["Subject"] == "Welcome, Ada"
    assert received.message["Message-ID"] == email.message_id
    assert await second.stop() == 0
