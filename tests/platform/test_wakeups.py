"""Wake-ups by topic: a commit wakes the loops waiting on the topics it named and no other, a
loop whose next item falls due at a time wakes then, PostgreSQL carries the topics to other
processes, and a server whose poll interval is out of reach still does every piece of work
at once: a webhook and its retry, a flow run through its delay, a record-relative timer, an
email and its retry."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contactflow.platform import topics
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import Database
from contactflow.platform.jobs import Loop, Worker
from contactflow.settings import Settings
from tests.flows.helpers import Hub, hub_of
from tests.mailsuite.smtpd import Mailbox, running_mailbox
from tests.receiver import Receiver, running_receiver, wait_for
from tests.support import (
    LiveServer,
    live_server,
    migrated_database,
    server_settings,
)
from tests.webhooks.helpers import add_endpoint

# Far beyond every deadline below: whatever happens in time was woken, not polled for.
NEVER = 600.0


class Counted:
    """A step that finds nothing to do, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        return False


@pytest.fixture
async def running(db: Database) -> AsyncIterator[Worker]:
    worker = Worker(db, poll_seconds=NEVER)
    yield worker
    worker.stop()


async def test_a_commit_wakes_the_loops_of_its_topics_only(db: Database, running: Worker) -> None:
    runs, deliveries, mail = Counted(), Counted(), Counted()
    loops = {
        "runs": Loop(runs, (topics.FLOW_RUNS,)),
        "deliveries": Loop(deliveries, (topics.DELIVERIES,)),
        "mail": Loop(mail, (topics.MAIL,)),
    }
    task = asyncio.create_task(running.run(loops))
    await wait_for(lambda: runs.calls == deliveries.calls == mail.calls == 1)

    async with db.unit_of_work() as uow:
        uow.wake(topics.FLOW_RUNS)
    await wait_for(lambda: runs.calls == 2)
    async with db.unit_of_work() as uow:
        uow.wake(topics.DELIVERIES)
    await wait_for(lambda: deliveries.calls == 2)
    assert (runs.calls, mail.calls) == (2, 1)

    # A transaction that fails wakes nobody: by the time a later commit's loop has run,
    # theirs would have too.
    async def rolled_back() -> None:
        async with db.unit_of_work() as uow:
            uow.wake(topics.FLOW_RUNS, topics.DELIVERIES)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await rolled_back()
    async with db.unit_of_work() as uow:
        uow.wake(topics.MAIL)
    await wait_for(lambda: mail.calls == 2)
    assert (runs.calls, deliveries.calls) == (2, 2)
    running.stop()
    await task


async def test_an_idle_loop_wakes_when_its_next_item_falls_due(
    db: Database, running: Worker
) -> None:
    step = Counted()
    due = utcnow() + timedelta(seconds=0.3)

    async def next_due(after: datetime) -> datetime | None:
        return due if due > after else None

    task = asyncio.create_task(running.run({"timed": Loop(step, (), next_due)}))
    await wait_for(lambda: step.calls == 2, within=10)
    assert utcnow() >= due
    running.stop()
    await task


@pytest.fixture
async def listener(database_url: str, postgres_only: None) -> AsyncIterator[Database]:
    """The same database as another process sees it, listening for NOTIFY."""
    other = Database(database_url)
    async with other.listening():
        yield other
    await other.dispose()


async def test_postgresql_carries_the_topics_to_other_processes(
    db: Database, listener: Database
) -> None:
    with (
        listener.wakeups.waiter([topics.event("ContactCreate")]) as created,
        listener.wakeups.waiter([topics.MAIL]) as mail,
        listener.wakeups.waiter([topics.DELIVERIES]) as deliveries,
    ):
        async with db.unit_of_work() as uow:
            uow.wake(*topics.of_event("ContactCreate"), topics.MAIL)
        assert await created.wait(10)
        assert await mail.wait(10)
        # Both arrived with the commit: nothing else is on its way.
        assert not await deliveries.wait(0)


async def test_a_process_is_not_woken_again_by_its_own_commits_notification(
    db: Database, listener: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit fires its topics in its process as it commits; its notification, which
    comes back through the same process's listener, fires nothing more there."""
    fired: Counter[str] = Counter()
    fire = listener.wakeups.fire

    def counted(woken: Iterable[str]) -> None:
        woken = list(woken)
        fired.update(woken)
        fire(woken)

    monkeypatch.setattr(listener.wakeups, "fire", counted)
    with listener.wakeups.waiter([topics.DELIVERIES]) as delivered:
        async with listener.unit_of_work() as uow:
            uow.wake(topics.MAIL)
        # PostgreSQL delivers notifications in the order their transactions committed: once
        # another process's later one has come, the first has too.
        async with db.unit_of_work() as uow:
            uow.wake(topics.DELIVERIES)
        assert await delivered.wait(10)

    assert fired == {topics.MAIL: 1, topics.DELIVERIES: 1}


# A server that never polls ------------------------------------------------------------------


@pytest.fixture
def patient_settings(database_url: str, tmp_path: Path) -> Iterator[Settings]:
    with migrated_database(database_url, tmp_path) as url:
        yield server_settings(
            url,
            worker_poll_seconds=NEVER,
            webhook_retry_delays=[0.5],
            mailsuite_retry_delays=[0.5],
            smtp_allowed_networks=["127.0.0.1/32"],
        )


@pytest.fixture
def patient_server(patient_settings: Settings) -> Iterator[LiveServer]:
    with live_server(patient_settings) as running:
        yield running


@pytest.fixture
async def patient_hub(patient_server: LiveServer) -> AsyncIterator[Hub]:
    async with hub_of(patient_server) as hub:
        yield hub


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with running_mailbox() as running:
        yield running


async def test_work_is_done_at_once_without_polling(
    patient_hub: Hub, receiver: Receiver, mailbox: Mailbox
) -> None:
    hub = patient_hub
    receiver.fail_next(503)
    await add_endpoint(hub.http, receiver.url(), eventTypes=["ContactCreate"])
    mailbox.refuse_next("451 4.3.0 try later")
    sender = await hub.mail_sender(mailbox.host, mailbox.port)
    welcome = await hub.flow(
        {
            "trigger": {"key": "contacts.contact.created"},
            "steps": [
                {"type": "delay", "id": "pause", "for": {"seconds": 1}},
                {
                    "type": "action",
                    "id": "contact",
                    "action": "mailsuite.contact.upsert",
                    "input": {"email": "{{ trigger.email }}", "source": "flows"},
                },
                {
                    "type": "action",
                    "id": "welcome",
                    "action": "mailsuite.email.send",
                    "input": {
                        "senderId": sender["id"],
                        "contactId": "{{ steps.contact.id }}",
                        "subject": "Welcome",
                        "html": "<p>Hello</p>",
                    },
                },
            ],
        },
        name="Welcome",
    )
    reminder = await hub.flow(
        {
            "trigger": {"key": "contacts.task.due"},
            "steps": [
                {
                    "type": "action",
                    "id": "remind",
                    "action": "mailsuite.task.create",
                    "input": {"title": "Due: {{ trigger.title }}"},
                },
            ],
        },
        name="Reminder",
    )

    contact = await hub.crm_contact(firstName="Ada", email="ada@example.com")
    due = datetime.now(UTC) + timedelta(seconds=2)
    body = {"title": "Call Ada", "dueDate": to_iso(due), "completed": False}
    await hub.post(f"/contacts/{contact['id']}/tasks", body)

    # The webhook's first attempt failed; its retry came on time.
    await wait_for(lambda: [a.status for a in receiver.arrivals] == [503, 200], within=20)
    [run] = await hub.finished_runs(welcome["id"], within=20)
    assert run["state"] == "succeeded", run
    # The email's first attempt was refused for now; its retry went through.
    await wait_for(lambda: len(mailbox.to("ada@example.com")) == 1, within=20)
    [fired] = await hub.finished_runs(reminder["id"], within=20)
    assert fired["state"] == "succeeded", fired
    # Not before the task's due time (to the millisecond the task keeps).
    assert datetime.fromisoformat(fired["createdAt"]) >= due - timedelta(milliseconds=1)
    assert Counter(task["title"] for task in await hub.mail_tasks()) == {"Due: Call Ada": 1}
