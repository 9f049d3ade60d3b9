"""The issues inbox over the API: list, get, acknowledge and resolve a location's issues."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from contactflow.platform import issues
from contactflow.platform.api_support import (
    ERROR_RESPONSES,
    DatabaseDep,
    format_cursor,
    parse_cursor,
)
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import ISSUES_READ, ISSUES_WRITE
from contactflow.platform.clock import to_iso
from contactflow.platform.db import Database, UnitOfWork

router = APIRouter(prefix="/issues", tags=["Issues"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, requires(ISSUES_READ)]
Writer = Annotated[Principal, requires(ISSUES_WRITE)]
RECENT_FAILURES = 20
IssueId = Annotated[str, Path(alias="issueId", min_length=1, max_length=64)]


class FailureOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    record: Literal["delivery", "run", "email", "poll", "test", "sync"]
    record_id: str
    failed_at: str
    error: str


class IssueOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    kind: Literal["webhook_endpoint", "flow_step", "mailsuite_sender", "connection"]
    subject_id: str
    subject: str
    flow_id: str | None
    status: Literal["open", "acknowledged", "resolved"]
    count: int
    first_failed_at: str
    last_failed_at: str
    last_error: str
    subject_url: str = Field(description="The subject's page in the dashboard")
    reconnect_url: str | None = Field(
        description=(
            "A connection's page in the dashboard that connects it again, while its provider "
            "refuses its token (not while the token endpoint is down)"
        )
    )
    opened_at: str
    acknowledged_at: str | None
    resolved_at: str | None


class IssueWithFailures(IssueOut):
    recent_failures: list[FailureOut]


class IssuePage(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    issues: list[IssueOut]
    next_cursor: str | None


def _when(value: datetime | None) -> str | None:
    return None if value is None else to_iso(value)


def subject_url(issue: issues.Issue) -> str:
    """The failing subject's page in the dashboard."""
    base = f"/app/l/{issue.location_id}"
    return {
        issues.WEBHOOK_ENDPOINT: f"{base}/webhooks/{issue.subject_id}",
        issues.FLOW_STEP: f"{base}/flows/{issue.flow_id}",
        issues.MAILSUITE_SENDER: f"{base}/senders",
        issues.CONNECTION: f"{base}/connections#connection-{issue.subject_id}",
    }[issue.kind]


def reconnect_url(issue: issues.Issue) -> str | None:
    """Where a person connects the connection again, while that is what its issue asks."""
    if issue.remedy != issues.RECONNECT or issue.status == issues.RESOLVED:
        return None
    return f"/app/l/{issue.location_id}/connections/{issue.subject_id}/connect"


def issue_out(issue: issues.Issue) -> IssueOut:
    return IssueOut.model_validate(
        {
            "id": issue.id,
            "kind": issue.kind,
            "subject_id": issue.subject_id,
            "subject": issue.subject,
            "flow_id": issue.flow_id,
            "status": issue.status,
            "count": issue.count,
            "first_failed_at": to_iso(issue.first_failed_at),
            "last_failed_at": to_iso(issue.last_failed_at),
            "last_error": issue.last_error,
            "subject_url": subject_url(issue),
            "reconnect_url": reconnect_url(issue),
            "opened_at": to_iso(issue.opened_at),
            "acknowledged_at": _when(issue.acknowledged_at),
            "resolved_at": _when(issue.resolved_at),
        }
    )


@router.get("", response_model=IssuePage, summary="The location's issues, latest failing first")
async def list_issues(
    caller: Reader,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> IssuePage:
    async with db.reader() as session:
        rows = await issues.newest(
            session, caller.location_id, limit=limit, before=parse_cursor(cursor), status=status
        )
    last = rows[-1] if len(rows) == limit else None
    return IssuePage(
        issues=[issue_out(row) for row in rows],
        next_cursor=format_cursor(last.last_failed_at, last.id) if last else None,
    )


async def _with_failures(db: Database, location_id: str, issue_id: str) -> IssueWithFailures:
    async with db.reader() as session:
        issue = await issues.find_issue(session, location_id, issue_id)
        failures = await issues.recent_failures(session, issue.id, RECENT_FAILURES)
    return IssueWithFailures.model_validate(
        {
            **issue_out(issue).model_dump(),
            "recent_failures": [
                {
                    "record": row.record,
                    "record_id": row.record_id,
                    "failed_at": to_iso(row.failed_at),
                    "error": row.error,
                }
                for row in failures
            ],
        }
    )


@router.get(
    "/{issueId}", response_model=IssueWithFailures, summary="An issue with its recent failures"
)
async def get_issue(caller: Reader, db: DatabaseDep, issue_id: IssueId) -> IssueWithFailures:
    return await _with_failures(db, caller.location_id, issue_id)


Change = Callable[[UnitOfWork, str, str], Awaitable[issues.Issue]]


async def _changed(db: Database, location_id: str, issue_id: str, change: Change) -> IssueOut:
    async with db.unit_of_work() as uow:
        issue = await change(uow, location_id, issue_id)
    return issue_out(issue)


@router.post(
    "/{issueId}/acknowledge",
    response_model=IssueOut,
    summary="Acknowledge an open issue (it stays listed, marked as seen)",
)
async def acknowledge_issue(caller: Writer, db: DatabaseDep, issue_id: IssueId) -> IssueOut:
    return await _changed(db, caller.location_id, issue_id, issues.acknowledge)


@router.post(
    "/{issueId}/resolve",
    response_model=IssueOut,
    summary="Resolve an issue by hand (an IssueResolved event); a new failure re-opens it",
)
async def resolve_issue(caller: Writer, db: DatabaseDep, issue_id: IssueId) -> IssueOut:
    return await _changed(db, caller.location_id, issue_id, issues.resolve)


@router.post(
    "/{issueId}/reopen",
    response_model=IssueOut,
    summary="Re-open a resolved issue (an IssueOpened event)",
)
async def reopen_issue(caller: Writer, db: DatabaseDep, issue_id: IssueId) -> IssueOut:
    return await _changed(db, caller.location_id, issue_id, issues.reopen)
