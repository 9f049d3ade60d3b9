"""The issues pages over HTTP on both backends: the inbox's empty state, its issues latest
failing first, filtered by status in the address (a bad status named beside its field) and
paged by keyset; an issue's page with its failures linked to their deliveries, runs or
emails, its subject and errors escaped; acknowledge, resolve and re-open through its forms
with CSRF; another location's issues a 404."""

import re

from contactflow.platform import issues
from contactflow.platform.db import Database
from contactflow.platform.ids import new_id
from contactflow.web.issues import ISSUES_PER_PAGE
from tests.support import LiveServer, Tenant, make_tenant
from tests.web.helpers import browser, make_person, second_location, signed_in

SCRIPT = "<script>alert(1)</script>"
RECORDS = {
    issues.WEBHOOK_ENDPOINT: issues.DELIVERY,
    issues.FLOW_STEP: issues.RUN,
    issues.MAILSUITE_SENDER: issues.EMAIL,
}


def issue_ids(html: str) -> list[str]:
    return re.findall(r'data-issue-id="([^"]+)"', html)


async def failing(
    db: Database, location_id: str, kind: str = issues.WEBHOOK_ENDPOINT, times: int = 1
) -> tuple[issues.Issue, list[str]]:
    subject_id, records = new_id(), []
    for _ in range(times):
        records.append(new_id())
        async with db.unit_of_work() as uow:
            issue = await issues.record_failure(
                uow,
                location_id,
                kind,
                subject_id,
                subject=f"https://example.org/{SCRIPT}",
                record=RECORDS[kind],
                record_id=records[-1],
                error=f"answered 500: {SCRIPT}",
                flow_id=new_id() if kind == issues.FLOW_STEP else None,
            )
    return issue, records


async def test_the_inbox_lists_filters_and_pages_its_issues_and_each_shows_its_failures(
    web_server: LiveServer, web_db: Database
) -> None:
    tenant = await make_tenant(web_db)
    person = await make_person(web_db, tenant.location_id)
    here = f"/app/l/{tenant.location_id}/issues"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        empty = await http.get(here)
        assert empty.status_code == 200
        assert "No issues: nothing has failed." in empty.text
        assert f'href="{here}"' in empty.text

        endpoint, deliveries = await failing(web_db, tenant.location_id, times=3)
        step, runs = await failing(web_db, tenant.location_id, issues.FLOW_STEP)
        page = await http.get(here)
        assert issue_ids(page.text) == [step.id, endpoint.id]
        assert SCRIPT not in page.text
        assert "&lt;script&gt;" in page.text
        assert 'sse-connect="' in page.text

        detail = await http.get(f"{here}/{endpoint.id}")
        assert detail.status_code == 200
        assert SCRIPT not in detail.text
        webhooks = f"/app/l/{tenant.location_id}/webhooks/{endpoint.subject_id}"
        for delivery in deliveries:
            assert f'href="{webhooks}/deliveries/{delivery}"' in detail.text
        assert f'href="{webhooks}"' in detail.text
        step_page = await http.get(f"{here}/{step.id}")
        assert f'href="/app/l/{tenant.location_id}/runs/{runs[0]}"' in step_page.text
        assert f'href="/app/l/{tenant.location_id}/flows/{step.flow_id}"' in step_page.text
        sender, emails = await failing(web_db, tenant.location_id, issues.MAILSUITE_SENDER)
        sender_page = await http.get(f"{here}/{sender.id}")
        assert f'href="/app/l/{tenant.location_id}/emails/{emails[0]}"' in sender_page.text
        assert f"Mailsuite sender</a> <code>{sender.subject_id}</code>" in sender_page.text

        async with web_db.unit_of_work() as uow:
            await issues.resolve(uow, tenant.location_id, endpoint.id)
        resolved = await http.get(here, params={"status": "resolved"})
        assert issue_ids(resolved.text) == [endpoint.id]
        assert '<option value="resolved" selected>' in resolved.text
        none = await http.get(here, params={"status": "acknowledged"})
        assert "No acknowledged issue." in none.text
        bogus = await http.get(here, params={"status": "<b>closed</b>"})
        assert bogus.status_code == 422
        assert 'id="filter-status-error">not a status' in bogus.text
        assert "<b>closed" not in bogus.text

        more = [
            (await failing(web_db, tenant.location_id))[0].id for _ in range(ISSUES_PER_PAGE - 1)
        ]
        first = await http.get(here)
        assert len(issue_ids(first.text)) == ISSUES_PER_PAGE
        older = re.search(r'href="([^"]+)">Older issues', first.text)
        assert older is not None
        rest = await http.get(older.group(1).replace("&amp;", "&"))
        assert 'sse-connect="' not in rest.text
        seen = issue_ids(first.text) + issue_ids(rest.text)
        assert sorted(seen) == sorted([*more, sender.id, step.id, endpoint.id])
        assert (await http.get(here, params={"cursor": "nope"})).status_code == 200


async def test_a_person_acknowledges_resolves_and_reopens_an_issue_with_csrf(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    issue, _ = await failing(web_db, web_tenant.location_id)
    here = f"/app/l/{web_tenant.location_id}/issues/{issue.id}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        refused = await http.post(f"{here}/acknowledge")
        assert refused.status_code == 403
        for change, status, notice in (
            ("acknowledge", "acknowledged", "Acknowledged"),
            ("resolve", "resolved", "Resolved"),
            ("reopen", "open", "Re-opened"),
        ):
            done = await http.post(f"{here}/{change}", data={"csrf_token": token})
            assert done.status_code == 303, change
            shown = await http.get(done.headers["location"])
            assert f'class="state state-{status}"' in shown.text
            assert f'role="status">{notice}' in shown.text
        assert (await http.post(f"{here}/close", data={"csrf_token": token})).status_code == 404


async def test_issue_pages_are_404_across_locations_by_role(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    other = await make_tenant(web_db)
    theirs, _ = await failing(web_db, other.location_id)
    sibling = await second_location(web_db, web_tenant)
    sibling_issue, _ = await failing(web_db, sibling)
    admin = await make_person(web_db, web_tenant.location_id)
    user = await make_person(web_db, web_tenant.location_id, role="user")
    ours = f"/app/l/{web_tenant.location_id}/issues"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, admin)
        for path in (f"{ours}/{theirs.id}", f"/app/l/{other.location_id}/issues"):
            assert (await http.get(path)).status_code == 404, path
        for change in ("acknowledge", "resolve", "reopen"):
            response = await http.post(f"{ours}/{theirs.id}/{change}", data={"csrf_token": token})
            assert response.status_code == 404, change
        assert (await http.get(f"/app/l/{sibling}/issues/{sibling_issue.id}")).status_code == 200
        assert (await http.get(f"{ours}/{sibling_issue.id}")).status_code == 404
    async with browser(web_server.base_url) as http:
        await signed_in(http, user)
        assert (await http.get(f"/app/l/{sibling}/issues")).status_code == 404
        assert (await http.get(f"/app/l/{sibling}/issues/{sibling_issue.id}")).status_code == 404
        assert (await http.get(ours)).status_code == 200
