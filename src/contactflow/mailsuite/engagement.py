"""What recipients do with an email: opens, clicks and unsubscribing, reached through the
signed links (the token is the authority, so these take no location).

Every open and click is counted, human or machine; the first ACTIVITY_DETAIL of an email
are also kept with time, user agent and address and announced as events (beyond that only
the counters move, so a replayed pixel cannot flood the log or the webhooks). The first
human open and click of an email are recorded once and go on the contact's timeline.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import events as mail_events
from contactflow.mailsuite.contacts import set_status
from contactflow.mailsuite.models import UNSUBSCRIBED, Activity, ActivityKind, Email, MailContact
from contactflow.mailsuite.timeline import add_entry
from contactflow.mailsuite.tracking import machine_reason
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound
from contactflow.platform.event_types import (
    EMAIL_FIRST_OPENED,
    EMAIL_OPENED,
    EMAIL_UNSUBSCRIBED,
    LINK_CLICKED,
    LINK_FIRST_CLICKED,
)
from contactflow.platform.ids import new_id

ACTIVITY_DETAIL = 100
LINK_NOT_FOUND = "This link is not valid"


@dataclass(frozen=True)
class Visit:
    """Who fetched a tracking link."""

    user_agent: str
    ip: str | None
    # Opens and clicks this many seconds after sending are pre-fetches.
    machine_window: float


async def _email(uow: UnitOfWork, email_id: str) -> Email:
    # Locked, so two opens at once cannot both be the first.
    email = await uow.session.get(Email, email_id, with_for_update=True)
    if email is None:
        raise NotFound(LINK_NOT_FOUND)
    return email


async def opened(uow: UnitOfWork, email_id: str, visit: Visit) -> Email:
    email = await _email(uow, email_id)
    now = utcnow()
    reason = machine_reason(visit.user_agent, visit.ip, email.sent_at, now, visit.machine_window)
    if reason is None:
        email.open_count += 1
    else:
        email.machine_open_count += 1
    if email.open_count + email.machine_open_count <= ACTIVITY_DETAIL:
        await _record(uow, email, "open", None, visit, reason)
        await mail_events.email_event(uow, EMAIL_OPENED, email, **_detail(visit, reason, now))
    if reason is None and email.first_opened_at is None:
        email.first_opened_at = now
        await mail_events.email_event(uow, EMAIL_FIRST_OPENED, email, **_detail(visit, None, now))
        await add_entry(
            uow,
            email.location_id,
            email.contact_id,
            "email_opened",
            f"Opened “{email.subject}”",
            email_id=email.id,
            occurred_at=now,
        )
    return email


async def clicked(uow: UnitOfWork, email_id: str, url: str, visit: Visit) -> Email:
    email = await _email(uow, email_id)
    now = utcnow()
    reason = machine_reason(visit.user_agent, visit.ip, email.sent_at, now, visit.machine_window)
    if reason is None:
        email.click_count += 1
    else:
        email.machine_click_count += 1
    detailed = email.click_count + email.machine_click_count <= ACTIVITY_DETAIL
    if detailed:
        await _record(uow, email, "click", url, visit, reason)
        await mail_events.email_event(
            uow, LINK_CLICKED, email, url=url, **_detail(visit, reason, now)
        )
    if reason is not None:
        return email
    if email.first_clicked_at is None:
        email.first_clicked_at = now
        await mail_events.email_event(
            uow, LINK_FIRST_CLICKED, email, url=url, **_detail(visit, None, now)
        )
    if detailed:
        await add_entry(
            uow,
            email.location_id,
            email.contact_id,
            "link_clicked",
            f"Clicked {url} in “{email.subject}”",
            email_id=email.id,
            occurred_at=now,
        )
    return email


async def _record(
    uow: UnitOfWork,
    email: Email,
    kind: ActivityKind,
    url: str | None,
    visit: Visit,
    reason: str | None,
) -> None:
    uow.session.add(
        Activity(
            id=new_id(),
            email_id=email.id,
            kind=kind,
            url=url,
            user_agent=visit.user_agent[:1000],
            ip=visit.ip,
            machine=reason is not None,
            machine_reason=reason,
            occurred_at=utcnow(),
        )
    )
    email.updated_at = utcnow()


def _detail(visit: Visit, reason: str | None, now: datetime) -> dict[str, object]:
    return {
        "at": to_iso(now),
        "userAgent": visit.user_agent[:1000],
        "ip": visit.ip,
        "machine": reason is not None,
        "machineReason": reason,
    }


async def _recipient(session: AsyncSession, email_id: str) -> tuple[Email, MailContact]:
    email = await session.get(Email, email_id)
    contact = await session.get(MailContact, email.contact_id) if email else None
    if email is None or contact is None:
        raise NotFound(LINK_NOT_FOUND)
    return email, contact


async def contact_of(session: AsyncSession, email_id: str) -> MailContact:
    return (await _recipient(session, email_id))[1]


async def unsubscribed(uow: UnitOfWork, email_id: str, method: str) -> MailContact:
    """Unsubscribe the email's recipient from the workspace (EmailUnsubscribed); doing it
    again changes nothing."""
    email, contact = await _recipient(uow.session, email_id)
    if set_status(contact, UNSUBSCRIBED, f"{method} from “{email.subject}”"):
        email.unsubscribed_at = email.updated_at = utcnow()
        await mail_events.email_event(uow, EMAIL_UNSUBSCRIBED, email, method=method)
        await add_entry(
            uow,
            email.location_id,
            contact.id,
            "contact_updated",
            f"Unsubscribed ({method})",
            email_id=email.id,
        )
    return contact
