"""The issues service on both backends: a subject's first failure opens its issue with an
IssueOpened event, later ones count, its next success resolves it with an IssueResolved
event, a failure after that re-opens it; a person acknowledges, resolves and re-opens; the
failures kept are bounded; another location's issue is not found."""

from typing import Any

import pytest

from contactflow.platform import issues
from contactflow.platform.db import Database
from contactflow.platform.errors import NotFound
from contactflow.platform.events import read_events
from contactflow.platform.ids import new_id
from tests.conftest import TenantFactory
from tests.support import Tenant


async def fail(db: Database, location_id: str, subject_id: str, error: str = "boom") -> str:
    async with db.unit_of_work() as uow:
        issue = await issues.record_failure(
            uow,
            location_id,
            issues.WEBHOOK_ENDPOINT,
            subject_id,
            subject="https://example.org/hook",
            record=issues.DELIVERY,
            record_id=new_id(),
            error=error,
        )
    return issue.id


async def succeed(db: Database, *subject_ids: str) -> None:
    async with db.unit_of_work() as uow:
        await issues.record_successes(uow, issues.WEBHOOK_ENDPOINT, subject_ids)


async def issue_events(db: Database, location_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with db.reader() as session:
        rows = await read_events(
            session, location_id, after=0, limit=100, types=["IssueOpened", "IssueResolved"]
        )
    return [(row.type, row.payload) for row in rows]


async def current(db: Database, location_id: str, issue_id: str) -> issues.Issue:
    async with db.reader() as session:
        return await issues.find_issue(session, location_id, issue_id)


async def test_an_issue_opens_counts_resolves_on_success_and_reopens(
    db: Database, tenant: Tenant
) -> None:
    endpoint = new_id()
    issue_id = await fail(db, tenant.location_id, endpoint, "answered 500")
    assert await fail(db, tenant.location_id, endpoint, "answered 503") == issue_id
    opened = await current(db, tenant.location_id, issue_id)
    assert (opened.status, opened.count, opened.last_error) == ("open", 2, "answered 503")
    assert opened.first_failed_at <= opened.last_failed_at
    [(kind, payload)] = await issue_events(db, tenant.location_id)
    assert kind == "IssueOpened"
    assert payload["issueId"] == issue_id
    assert payload["subjectId"] == endpoint
    assert payload["reopened"] is False

    await succeed(db, endpoint, new_id())
    resolved = await current(db, tenant.location_id, issue_id)
    assert resolved.status == "resolved"
    assert resolved.resolved_at is not None
    await succeed(db, endpoint)
    logged = await issue_events(db, tenant.location_id)
    assert [kind for kind, _ in logged] == ["IssueOpened", "IssueResolved"]
    assert logged[1][1]["resolvedBy"] == "recovery"
    assert logged[1][1]["count"] == 2

    assert await fail(db, tenant.location_id, endpoint) == issue_id
    reopened = await current(db, tenant.location_id, issue_id)
    assert (reopened.status, reopened.count, reopened.resolved_at) == ("open", 3, None)
    assert reopened.first_failed_at == opened.first_failed_at
    logged = await issue_events(db, tenant.location_id)
    assert [kind for kind, _ in logged] == ["IssueOpened", "IssueResolved", "IssueOpened"]
    assert logged[2][1]["reopened"] is True
    async with db.reader() as session:
        failures = await issues.recent_failures(session, issue_id, 10)
    assert [row.error for row in failures] == ["boom", "answered 503", "answered 500"]


async def test_a_person_acknowledges_resolves_and_reopens(db: Database, tenant: Tenant) -> None:
    issue_id = await fail(db, tenant.location_id, new_id())
    async with db.unit_of_work() as uow:
        acknowledged = await issues.acknowledge(uow, tenant.location_id, issue_id)
    assert acknowledged.status == "acknowledged"
    assert acknowledged.acknowledged_at is not None
    await fail(db, tenant.location_id, acknowledged.subject_id)
    assert (await current(db, tenant.location_id, issue_id)).status == "acknowledged"

    async with db.unit_of_work() as uow:
        assert (await issues.resolve(uow, tenant.location_id, issue_id)).status == "resolved"
    async with db.unit_of_work() as uow:
        still = await issues.acknowledge(uow, tenant.location_id, issue_id)
    assert still.status == "resolved"
    async with db.unit_of_work() as uow:
        assert (await issues.reopen(uow, tenant.location_id, issue_id)).status == "open"
    logged = await issue_events(db, tenant.location_id)
    assert [kind for kind, _ in logged] == ["IssueOpened", "IssueResolved", "IssueOpened"]
    assert logged[1][1]["resolvedBy"] == "person"
    assert logged[2][1]["reopened"] is True


async def test_the_inbox_pages_latest_failing_first_by_status(
    db: Database, new_tenant: TenantFactory
) -> None:
    tenant = await new_tenant()
    ids = [await fail(db, tenant.location_id, new_id()) for _ in range(5)]
    async with db.unit_of_work() as uow:
        await issues.resolve(uow, tenant.location_id, ids[0])
    async with db.reader() as session:
        every = await issues.newest(session, tenant.location_id, limit=10)
        first = await issues.newest(session, tenant.location_id, limit=3)
        last = first[-1]
        rest = await issues.newest(
            session, tenant.location_id, limit=3, before=(last.last_failed_at, last.id)
        )
        resolved = await issues.newest(session, tenant.location_id, limit=10, status="resolved")
    latest_first = sorted(every, key=lambda row: (row.last_failed_at, row.id), reverse=True)
    assert sorted(row.id for row in every) == sorted(ids)
    assert [row.id for row in first + rest] == [row.id for row in latest_first]
    assert [row.id for row in resolved] == [ids[0]]


async def test_an_issue_keeps_its_latest_failures_only(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(issues, "KEPT_FAILURES", 3)
    endpoint = new_id()
    for number in range(7):
        issue_id = await fail(db, tenant.location_id, endpoint, f"failure {number}")
    async with db.reader() as session:
        kept = await issues.recent_failures(session, issue_id, 10)
    # Trimmed to 3 at the 6th failure; the 7th is added to them.
    assert [row.error for row in kept] == ["failure 6", "failure 5", "failure 4", "failure 3"]
    assert (await current(db, tenant.location_id, issue_id)).count == 7


async def test_another_locations_issue_is_not_found(
    db: Database, new_tenant: TenantFactory
) -> None:
    mine, theirs = await new_tenant(), await new_tenant()
    endpoint = new_id()
    issue_id = await fail(db, theirs.location_id, endpoint)
    with pytest.raises(NotFound):
        await current(db, mine.location_id, issue_id)
    for change in (issues.acknowledge, issues.resolve, issues.reopen):
        with pytest.raises(NotFound):
            async with db.unit_of_work() as uow:
                await change(uow, mine.location_id, issue_id)
    async with db.reader() as session:
        assert await issues.newest(session, mine.location_id, limit=10) == []
    assert await issue_events(db, mine.location_id) == []
