"""Sending: claim due emails with a lease, send each over its sender's SMTP connection (or
into the sandbox outbox, for a sandbox sender), and record the server's answers.

An email is a work item. A claim (one short transaction) marks due rows `sending` under a
lease, within each sender's and campaign's per-minute budget; contacts that unsubscribed or
bounced since the email was queued are failed there, without any SMTP traffic. Each message
goes out with the Message-ID fixed at creation, and the transaction that records a server's
answer is the one that marks the email sent (with its EmailSent event and timeline entry),
so a committed `sent` always means the server said 250. Answers that arrive while such a
commit runs are recorded together by the next one (a group commit), so the SMTP connection
never waits for the database.

If the process dies after the server accepted a message and before the commit that records
it, the row is still `sending` under a lease nobody renews. When the lease expires another
worker claims it and sends it again, with the same Message-ID: an email is never lost, and
the only duplicates are the messages accepted during the one commit that did not finish;
mail clients and providers that see a Message-ID again treat it as the same message. 4xx
answers and connection errors are retried on the schedule; 5xx answers fail the email at
once with the server's answer. An email failed for good appends EmailFailed with the reason.
"""

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from contactflow.mailsuite import events as mail_events
from contactflow.mailsuite.campaign_state import finish_if_done, not_held
from contactflow.mailsuite.contacts import unsendable_reason
from contactflow.mailsuite.models import (
    FAILED,
    SANDBOX_DELIVERY,
    SCHEDULED,
    SENDING,
    SENT,
    Campaign,
    Email,
    MailContact,
    Sender,
)
from contactflow.mailsuite.outgoing import Outgoing, wire_message
from contactflow.mailsuite.sandbox import SandboxOutbox
from contactflow.mailsuite.senders import smtp_server
from contactflow.mailsuite.smtp import SmtpAnswer, SmtpConnection, SmtpHostRefused, check_host
from contactflow.mailsuite.timeline import add_entry
from contactflow.mailsuite.tracking import Links, tracked_html, tracking_key
from contactflow.platform import issues, tracing
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database, UnitOfWork, one_of
from contactflow.platform.event_types import EMAIL_FAILED, EMAIL_SENT
from contactflow.platform.jobs import RetrySchedule, claim, lease_free, next_due_at
from contactflow.platform.webhooks.ssrf import UrlPolicy

THROTTLE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class SendSettings:
    schedule: RetrySchedule
    lease: timedelta
    batch_size: int
    smtp_timeout: float
    policy: UrlPolicy
    base_url: str


async def _budgets(
    uow: UnitOfWork,
    model: type[Sender] | type[Campaign],
    column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
    now: datetime,
) -> dict[str, int]:
    """What each throttled sender (or campaign) may still send in the current minute."""
    rows = await uow.session.execute(
        select(model.id, model.max_per_minute, func.count(Email.id))
        .outerjoin(Email, and_(column == model.id, Email.last_attempt_at > now - THROTTLE_WINDOW))
        .where(model.max_per_minute.is_not(None))
        .group_by(model.id, model.max_per_minute)
    )
    return {row_id: max(0, (limit or 0) - used) for row_id, limit, used in rows}


def _due(now: datetime) -> list[ColumnElement[bool]]:
    # `sending` rows are due again once their lease has expired (their worker died).
    return [
        one_of(Email.status, (SCHEDULED, SENDING)),
        Email.next_attempt_at <= now,
        lease_free(Email.lease_expires_at, now),
        not_held(),
    ]


class Dispatcher:
    """One sending loop: `step` claims a batch, sends it (one connection per sender, the
    senders concurrently) and records the answers as they come (a group commit)."""

    def __init__(self, db: Database, settings: SendSettings, owner: str) -> None:
        self.db = db
        self.settings = settings
        self.owner = owner

    async def step(self) -> bool:
        return await self.run_once() > 0

    async def run_once(self, only: str | None = None) -> int:
        """One round (only the email `only` when given); how many emails it dealt with."""
        links = Links(self.settings.base_url, await tracking_key(self.db))
        if not await self._anything_due(only):
            return 0
        async with self.db.unit_of_work() as uow:
            claimed, suppressed = await self._claim(uow, only)
            senders = {
                row.id: row
                for row in await uow.session.scalars(
                    select(Sender).where(Sender.id.in_({email.sender_id for email in claimed}))
                )
            }
        groups: dict[str, list[Email]] = defaultdict(list)
        for email in claimed:
            groups[email.sender_id].append(email)
        await asyncio.gather(
            *(self._send_all(senders[key], rows, links) for key, rows in groups.items())
        )
        return len(claimed) + suppressed

    async def next_due(self, after: datetime) -> datetime | None:
        """When the first email scheduled for later (a send time, a retry) falls due after
        `after`."""
        return await next_due_at(self.db, Email.next_attempt_at, Email.status, [SCHEDULED], after)

    async def _anything_due(self, only: str | None) -> bool:
        """A look without the write lock: most wake-ups find the emails taken by another
        loop, which must not cost a write transaction (SQLite has one writer)."""
        query = select(Email.id).where(*_due(utcnow()))
        if only is not None:
            query = query.where(Email.id == only)
        found = await self.db.read(lambda connection: connection.scalar(query.limit(1)))
        return found is not None

    async def _claim(self, uow: UnitOfWork, only: str | None) -> tuple[list[Email], int]:
        """Lease due emails within the throttles; fail those whose contact may no longer be
        mailed. Returns the emails to send and how many were failed here."""
        now = utcnow()
        # One claimer at a time (PostgreSQL; SQLite has one writer): the budgets hold.
        await uow.lock("mailsuite-claim")
        sender_left = await _budgets(uow, Sender, Email.sender_id, now)
        campaign_left = await _budgets(uow, Campaign, Email.campaign_id, now)
        query = select(Email).where(*_due(now))
        if only is not None:
            query = query.where(Email.id == only)
        if spent := [key for key, left in sender_left.items() if left == 0]:
            query = query.where(Email.sender_id.not_in(spent))
        if spent := [key for key, left in campaign_left.items() if left == 0]:
            query = query.where(or_(Email.campaign_id.is_(None), Email.campaign_id.not_in(spent)))
        candidates = await uow.session.scalars(
            query.order_by(Email.next_attempt_at, Email.id).limit(self.settings.batch_size)
        )
        kept = []
        for email in candidates:
            budgets = [(sender_left, email.sender_id), (campaign_left, email.campaign_id)]
            if any(key in left and left[key] == 0 for left, key in budgets):
                continue
            for left, key in budgets:
                if key in left:
                    left[key] -= 1
            kept.append(email.id)
        if not kept:
            return [], 0
        leased: list[Email] = await claim(
            uow,
            select(Email).where(Email.id.in_(kept), *_due(now)),
            owner=self.owner,
            lease=self.settings.lease,
        )
        contacts = {
            row.id: row
            for row in await uow.session.scalars(
                select(MailContact).where(MailContact.id.in_({e.contact_id for e in leased}))
            )
        }
        sendable = []
        for email in leased:
            refused = unsendable_reason(contacts[email.contact_id])
            if refused is None:
                email.status, email.last_attempt_at = SENDING, now
                sendable.append(email)
                continue
            email.lease_owner = email.lease_expires_at = None
            email.finished_at = email.updated_at = now
            await _fail(uow, email, f"not sent: {refused}")
        sent_on = {email.id for email in sendable}
        await finish_if_done(
            uow, [email.campaign_id for email in leased if email.id not in sent_on]
        )
        return sendable, len(leased) - len(sendable)

    async def _connection(self, sender: Sender) -> SmtpConnection | SandboxOutbox:
        """Where the sender's mail goes; SmtpHostRefused when its server may not be reached."""
        if sender.delivery == SANDBOX_DELIVERY:
            return SandboxOutbox(self.db, sender.location_id)
        server = smtp_server(sender, self.settings.smtp_timeout)
        await check_host(self.settings.policy, server.host)
        return SmtpConnection(server)

    async def _send_all(self, sender: Sender, emails: list[Email], links: Links) -> None:
        try:
            connection = await self._connection(sender)
        except SmtpHostRefused as error:
            refused = SmtpAnswer(False, error.temporary, f"refused: {error}")
            await self._record(sender, [(email.id, refused) for email in emails])
            return
        pending = [email.id for email in emails]
        renew_at = utcnow() + self.settings.lease / 2
        # Group commit: answers that come while a commit runs go in the next one, so the
        # SMTP connection never waits for the database and a slow database means fewer,
        # larger commits (and fewer wake-ups of the event consumers), not a slower send.
        answered: list[tuple[str, SmtpAnswer]] = []
        recording: asyncio.Task[None] | None = None
        try:
            for email in emails:
                if utcnow() >= renew_at:
                    pending, renew_at = await self._renew(pending)
                if email.id not in pending:
                    continue  # lost to another worker while this batch was slow
                answer = await self._send_one(connection, sender, email, links)
                answered.append((email.id, answer))
                pending.remove(email.id)
                if recording is None or recording.done():
                    if recording is not None:
                        await recording
                    recording = asyncio.create_task(self._record(sender, answered))
                    answered = []
        finally:
            await connection.close()
            if recording is not None:
                await recording
            if answered:
                await self._record(sender, answered)

    async def _send_one(
        self,
        connection: SmtpConnection | SandboxOutbox,
        sender: Sender,
        email: Email,
        links: Links,
    ) -> SmtpAnswer:
        """One email built and handed to the connection, a span of its own (ids only: no
        address, no subject)."""
        attributes = {
            tracing.LOCATION: sender.location_id,
            "contactflow.email.id": email.id,
            "contactflow.mailsuite.sender.id": sender.id,
            "contactflow.mailsuite.campaign.id": email.campaign_id,
        }
        with tracing.span("email send", attributes, "client") as span:
            try:
                wire = wire_message(self.outgoing(sender, email, links))
            except (ValueError, TypeError) as error:
                answer = SmtpAnswer(False, False, f"the message cannot be built: {error}")
            else:
                answer = await connection.send(wire)
            if not answer.accepted:
                span.fail("temporary" if answer.temporary else "permanent")
            return answer

    def outgoing(self, sender: Sender, email: Email, links: Links) -> Outgoing:
        """What `email` becomes on the wire through `sender` (the benchmark builds the same)."""
        unsubscribe = links.unsubscribe(email.id)
        html = tracked_html(
            email.html,
            email.id,
            links,
            opens=email.track_opens,
            clicks=email.track_clicks,
            keep=unsubscribe,
        )
        return Outgoing(
            message_id=email.message_id,
            from_email=sender.from_email,
            from_name=sender.from_name,
            reply_to=sender.reply_to,
            to_email=email.to_email,
            to_name=email.to_name,
            subject=email.subject,
            html=html,
            text=email.text,
            unsubscribe_url=unsubscribe,
            email_id=email.id,
        )

    async def _renew(self, ids: Sequence[str]) -> tuple[list[str], datetime]:
        """Extend the leases of a batch still being sent; the ids still ours."""
        now = utcnow()
        async with self.db.unit_of_work() as uow:
            await uow.session.execute(
                update(Email)
                .where(Email.id.in_(ids), Email.lease_owner == self.owner, Email.status == SENDING)
                .values(lease_expires_at=now + self.settings.lease)
            )
            ours = set(
                await uow.session.scalars(
                    select(Email.id).where(Email.id.in_(ids), Email.lease_owner == self.owner)
                )
            )
        return [email_id for email_id in ids if email_id in ours], now + self.settings.lease / 2

    async def _record(self, sender: Sender, answers: Sequence[tuple[str, SmtpAnswer]]) -> None:
        """Record SMTP answers in one transaction: this is where an email becomes sent, and
        where the sender's issue counts a failure or resolves."""
        async with self.db.unit_of_work() as uow:
            ids = [email_id for email_id, _ in answers]
            emails = {
                row.id: row
                for row in await uow.session.scalars(
                    select(Email).where(Email.id.in_(ids)).with_for_update()
                )
            }
            for email_id, answer in answers:
                if email_id in emails:
                    await self._record_one(uow, sender, emails[email_id], answer)
            if any(answer.accepted for email_id, answer in answers if email_id in emails):
                await issues.record_successes(uow, issues.MAILSUITE_SENDER, [sender.id])
            await finish_if_done(uow, [email.campaign_id for email in emails.values()])

    async def _record_one(
        self, uow: UnitOfWork, sender: Sender, email: Email, answer: SmtpAnswer
    ) -> None:
        now = utcnow()
        if answer.accepted:
            if email.status == SENT:
                return  # sent twice after a lost lease: recorded once
            email.status, email.sent_at, email.error = SENT, now, None
            _finish_attempt(email, answer, now)
            await mail_events.email_event(uow, EMAIL_SENT, email, smtpResponse=answer.response)
            await add_entry(
                uow,
                email.location_id,
                email.contact_id,
                "email_sent",
                f"Sent “{email.subject}” to {email.to_email}",
                email_id=email.id,
                occurred_at=now,
            )
            return
        if email.lease_owner != self.owner or email.status != SENDING:
            return  # our lease expired: the worker that took the email over decides
        _finish_attempt(email, answer, now)
        await issues.record_failure(
            uow,
            email.location_id,
            issues.MAILSUITE_SENDER,
            sender.id,
            subject=f"{sender.name} <{sender.from_email}>",
            record=issues.EMAIL,
            record_id=email.id,
            error=answer.response,
        )
        delay = self.settings.schedule.decide(email.attempts) if answer.temporary else None
        if delay is None:
            tries = f" (gave up after {email.attempts} attempts)" if answer.temporary else ""
            await _fail(uow, email, answer.response + tries)
        else:
            email.status, email.error = SCHEDULED, answer.response
            email.next_attempt_at = now + timedelta(seconds=delay)


async def _fail(uow: UnitOfWork, email: Email, reason: str) -> None:
    email.status, email.error = FAILED, reason
    await mail_events.email_event(uow, EMAIL_FAILED, email, error=reason, attempts=email.attempts)


def _finish_attempt(email: Email, answer: SmtpAnswer, now: datetime) -> None:
    email.attempts += 1
    email.last_response = answer.response
    email.lease_owner = email.lease_expires_at = None
    email.updated_at = now
    if answer.accepted or not answer.temporary:
        email.finished_at = now
