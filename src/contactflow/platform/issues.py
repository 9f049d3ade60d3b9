"""The issues inbox: repeated failures grouped by their cause.

An issue is one failing subject of a location: a webhook endpoint whose deliveries fail, a
flow's step whose runs fail, a Mailsuite sender whose emails its SMTP server refuses, or a
connection whose OAuth token no longer refreshes (or is refused once refreshed). It
is kept as the failures happen, in the transaction that records each failure or success, so
the inbox reads one indexed table and never scans the deliveries, runs or emails behind it.

An issue opens at the first failure of its subject (an attempt that fails is enough: a
receiver that answers 500 is worth knowing about before its retries run out), counts every
failure after it, and resolves on its own at the subject's next success. A failure after that
re-opens it. Opening and resolving are events of the log (IssueOpened, IssueResolved), so
webhooks and flows can tell the team. A person can acknowledge an open issue (it stays in the
inbox, marked as seen), resolve it, and re-open a resolved one.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform import events
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import Base, UnitOfWork, UTCDateTime
from contactflow.platform.errors import NotFound
from contactflow.platform.event_types import ISSUE_OPENED, ISSUE_RESOLVED
from contactflow.platform.ids import new_id

# What fails: the kinds of subject, and the kind of record each failure is.
WEBHOOK_ENDPOINT = "webhook_endpoint"
FLOW_STEP = "flow_step"
MAILSUITE_SENDER = "mailsuite_sender"
CONNECTION = "connection"
KINDS = (WEBHOOK_ENDPOINT, FLOW_STEP, MAILSUITE_SENDER, CONNECTION)
DELIVERY = "delivery"
RUN = "run"
EMAIL = "email"
# A connection's failures are the calls made through it: a run's step, a poll, a test, a
# sync's batch.
POLL = "poll"
CONNECTION_TEST = "test"
SYNC = "sync"

# What a failure asks of a person: connect the connection again (its provider refused).
RECONNECT = "reconnect"

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)

# The failures an issue keeps for its page: older ones are trimmed as new ones come.
KEPT_FAILURES = 100
ERROR_LIMIT = 1000


class Issue(Base):
    __tablename__ = "issues"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    # The failing subject: an endpoint id, "<flow id>/<step id>", a sender id, a connection id.
    subject_id: Mapped[str] = mapped_column(String(200))
    # How people know the subject: the endpoint's URL, the step's id, the sender's address,
    # the connection's name.
    subject: Mapped[str] = mapped_column(String(2048))
    # The flow of a failing step (its page links to it); None for other kinds.
    flow_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # What the latest failure asks of a person (RECONNECT), when the inbox can tell.
    remedy: Mapped[str | None] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Subjects' ids are unique on their own: a success looks its issue up without the
        # location (a delivery batch spans locations).
        UniqueConstraint("kind", "subject_id", "location_id"),
        Index(None, "location_id", "last_failed_at", "id"),
        Index(None, "location_id", "status", "last_failed_at", "id"),
    )


class IssueFailure(Base):
    """One failure behind an issue: the delivery, run, email, poll or connection test it was,
    when, and why."""

    __tablename__ = "issue_failures"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    issue_id: Mapped[str] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    record: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(32))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index(None, "issue_id", "failed_at", "id"),)


def _payload(issue: Issue, event_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": event_type,
        "locationId": issue.location_id,
        "issueId": issue.id,
        "kind": issue.kind,
        "subjectId": issue.subject_id,
        "subject": issue.subject,
        "count": issue.count,
        "firstFailedAt": to_iso(issue.first_failed_at),
        "lastFailedAt": to_iso(issue.last_failed_at),
        "lastError": issue.last_error,
        **extra,
    }


async def _opened(uow: UnitOfWork, issue: Issue, reopened: bool) -> None:
    issue.status, issue.opened_at = OPEN, utcnow()
    issue.acknowledged_at = issue.resolved_at = None
    payload = _payload(issue, ISSUE_OPENED, reopened=reopened)
    await events.append(uow, issue.location_id, ISSUE_OPENED, payload, subject_id=issue.id)


async def _resolved(uow: UnitOfWork, issue: Issue, by: str) -> None:
    issue.status, issue.resolved_at = RESOLVED, utcnow()
    payload = _payload(issue, ISSUE_RESOLVED, resolvedBy=by)
    await events.append(uow, issue.location_id, ISSUE_RESOLVED, payload, subject_id=issue.id)


async def record_failure(
    uow: UnitOfWork,
    location_id: str,
    kind: str,
    subject_id: str,
    *,
    subject: str,
    record: str,
    record_id: str,
    error: str,
    flow_id: str | None = None,
    remedy: str | None = None,
) -> Issue:
    """Count a failure of the subject in the caller's transaction: its issue opens (or
    re-opens) with an IssueOpened event, or an open one counts it. `remedy`: what this
    failure asks of a person, if the inbox can tell."""
    now = utcnow()
    dialect = postgresql if uow.dialect == "postgresql" else sqlite
    await uow.session.execute(
        dialect.insert(Issue)
        .values(
            id=new_id(),
            location_id=location_id,
            kind=kind,
            subject_id=subject_id,
            subject=subject,
            flow_id=flow_id,
            status=RESOLVED,
            count=0,
            first_failed_at=now,
            last_failed_at=now,
            last_error="",
            opened_at=now,
        )
        .on_conflict_do_nothing()
    )
    query = select(Issue).where(
        Issue.kind == kind, Issue.subject_id == subject_id, Issue.location_id == location_id
    )
    if uow.dialect == "postgresql":
        query = query.with_for_update()
    issue = (await uow.session.scalars(query.execution_options(populate_existing=True))).one()
    issue.count += 1
    issue.subject = subject
    issue.last_failed_at = now
    issue.last_error = error[:ERROR_LIMIT]
    issue.remedy = remedy
    uow.session.add(
        IssueFailure(
            id=new_id(),
            issue_id=issue.id,
            record=record,
            record_id=record_id,
            failed_at=now,
            error=issue.last_error,
        )
    )
    if issue.status == RESOLVED:
        await _opened(uow, issue, reopened=issue.count > 1)
    if issue.count % KEPT_FAILURES == 0:
        await _trim(uow, issue.id)
    return issue


async def _trim(uow: UnitOfWork, issue_id: str) -> None:
    await uow.session.flush()
    kept = (
        select(IssueFailure.id)
        .where(IssueFailure.issue_id == issue_id)
        .order_by(IssueFailure.failed_at.desc(), IssueFailure.id.desc())
        .limit(KEPT_FAILURES)
    )
    await uow.session.execute(
        delete(IssueFailure)
        .where(IssueFailure.issue_id == issue_id, IssueFailure.id.not_in(kept))
        .execution_options(synchronize_session=False)
    )


async def record_successes(uow: UnitOfWork, kind: str, subject_ids: Iterable[str]) -> None:
    """The subjects worked again: their unresolved issues resolve, each with its event. One
    indexed look-up, whatever the number of subjects, that finds nothing in the usual case."""
    wanted = set(subject_ids)
    if not wanted:
        return
    query = select(Issue).where(
        Issue.kind == kind, Issue.subject_id.in_(wanted), Issue.status != RESOLVED
    )
    if uow.dialect == "postgresql":
        query = query.with_for_update()
    for issue in await uow.session.scalars(query):
        await _resolved(uow, issue, "recovery")


async def unresolved(uow: UnitOfWork, location_id: str, kind: str, subject_id: str) -> bool:
    """Whether the subject has an issue not resolved yet: one look-up on the unique index."""
    query = select(Issue.id).where(
        Issue.kind == kind,
        Issue.subject_id == subject_id,
        Issue.location_id == location_id,
        Issue.status != RESOLVED,
    )
    return await uow.session.scalar(query) is not None


async def find_issue(session: AsyncSession, location_id: str, issue_id: str) -> Issue:
    issue = await session.scalar(
        select(Issue).where(Issue.id == issue_id, Issue.location_id == location_id)
    )
    if issue is None:
        raise NotFound("Issue not found")
    return issue


async def newest(
    session: AsyncSession,
    location_id: str,
    *,
    limit: int,
    before: tuple[datetime, str] | None = None,
    status: str | None = None,
) -> list[Issue]:
    """Up to `limit` issues (of `status`) whose last failure is before `before`, the latest
    failing first: keyset paging on (last_failed_at, id)."""
    query = select(Issue).where(Issue.location_id == location_id)
    if status is not None:
        query = query.where(Issue.status == status)
    if before is not None:
        moment, last_id = before
        query = query.where(
            (Issue.last_failed_at < moment)
            | ((Issue.last_failed_at == moment) & (Issue.id < last_id))
        )
    order = (Issue.last_failed_at.desc(), Issue.id.desc())
    return list(await session.scalars(query.order_by(*order).limit(limit)))


async def recent_failures(session: AsyncSession, issue_id: str, limit: int) -> list[IssueFailure]:
    query = (
        select(IssueFailure)
        .where(IssueFailure.issue_id == issue_id)
        .order_by(IssueFailure.failed_at.desc(), IssueFailure.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(query))


async def _locked(uow: UnitOfWork, location_id: str, issue_id: str) -> Issue:
    query = select(Issue).where(Issue.id == issue_id, Issue.location_id == location_id)
    if uow.dialect == "postgresql":
        query = query.with_for_update()
    issue = await uow.session.scalar(query)
    if issue is None:
        raise NotFound("Issue not found")
    return issue


async def acknowledge(uow: UnitOfWork, location_id: str, issue_id: str) -> Issue:
    """Mark an open issue as seen; an acknowledged or resolved one stays as it is."""
    issue = await _locked(uow, location_id, issue_id)
    if issue.status == OPEN:
        issue.status, issue.acknowledged_at = ACKNOWLEDGED, utcnow()
    return issue


async def resolve(uow: UnitOfWork, location_id: str, issue_id: str) -> Issue:
    """Resolve by hand, with its IssueResolved event; a resolved issue stays as it is."""
    issue = await _locked(uow, location_id, issue_id)
    if issue.status != RESOLVED:
        await _resolved(uow, issue, "person")
    return issue


async def reopen(uow: UnitOfWork, location_id: str, issue_id: str) -> Issue:
    """Re-open a resolved issue by hand, with its IssueOpened event."""
    issue = await _locked(uow, location_id, issue_id)
    if issue.status == RESOLVED:
        await _opened(uow, issue, reopened=True)
    return issue
