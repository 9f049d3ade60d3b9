"""Mailsuite's background loops, run by the process's workers (platform/runtime.py): sending
emails, and enrolling contacts the Contacts API put in Mailsuite campaigns."""

from datetime import timedelta

import httpx

from contactflow.mailsuite.enrolment import WATCHED, consume
from contactflow.mailsuite.sending import Dispatcher, SendSettings
from contactflow.mailsuite.smtp import host_policy
from contactflow.mailsuite.tracking import Links, tracking_key
from contactflow.platform import topics
from contactflow.platform.db import Database
from contactflow.platform.jobs import Loop, RetrySchedule
from contactflow.settings import Settings


def send_settings(settings: Settings) -> SendSettings:
    # A lease must outlast the slowest SMTP exchange (each command may take the timeout).
    lease = max(settings.lease_seconds, 4 * settings.smtp_timeout_seconds)
    return SendSettings(
        schedule=RetrySchedule(tuple(settings.mailsuite_retry_delays)),
        lease=timedelta(seconds=lease),
        batch_size=settings.mailsuite_batch_size,
        smtp_timeout=settings.smtp_timeout_seconds,
        policy=host_policy(settings.smtp_allowed_networks),
        base_url=settings.base_url,
    )


def worker_loops(
    db: Database, settings: Settings, owner: str, _http: httpx.AsyncClient
) -> dict[str, Loop]:
    """Mailsuite's loops; its mail goes over SMTP, not the process's HTTP client."""

    async def enrol() -> bool:
        return await consume(db, Links(settings.base_url, await tracking_key(db)))

    memberships = tuple(topics.event(event_type) for event_type in WATCHED)
    loops = {"mailsuite-enrol": Loop(enrol, memberships)}
    for number in range(settings.mailsuite_send_loops):
        dispatcher = Dispatcher(db, send_settings(settings), owner)
        loops[f"mailsuite-send-{number}"] = Loop(
            dispatcher.step, (topics.MAIL,), dispatcher.next_due
        )
    return loops
