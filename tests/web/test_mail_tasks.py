"""The tasks board over HTTP: open tasks by due date (undated last) with the overdue ones
marked, done ones apart, Complete through the tasks service (CSRF, the completion an event),
titles escaped, and the tenancy of the board and its action."""

import re
from datetime import UTC, datetime, timedelta

from contactflow.platform.db import Database
from tests.support import LiveServer, make_tenant
from tests.web.helpers import browser, make_person, second_location, signed_in
from tests.web.mailsuite_helpers import mail_location

XSS = "<script>alert(1)</script>"


def card_ids(html: str, column: str) -> list[str]:
    found = re.search(rf'id="{column}-heading".*?</section>', html, re.S)
    assert found is not None
    return re.findall(r'data-task-id="([^"]+)"', found.group(0))


async def test_the_board_orders_marks_and_completes_tasks(
    web_server: LiveServer, web_db: Database
) -> None:
    now = datetime.now(UTC)
    async with mail_location(web_server, web_db, sandbox=False) as (mail, person):
        tenant = mail.tenant
        sibling = await second_location(web_db, tenant)

        async def task(title: str, due: datetime | None) -> str:
            body = {"title": title, **({"dueAt": due.isoformat()} if due else {})}
            task_id: str = (await mail.post("/tasks", body))["task"]["id"]
            return task_id

        undated = await task("Whenever", None)
        later = await task("Next week", now + timedelta(days=7))
        late = await task(f"Late {XSS}", now - timedelta(days=1))
        soon = await task("Tomorrow", now + timedelta(days=1))
        here = f"/app/l/{tenant.location_id}/tasks"
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, person)
            board = await http.get(here)
            assert board.status_code == 200
            assert card_ids(board.text, "open") == [late, soon, later, undated]
            assert card_ids(board.text, "done") == []
            assert f'data-task-id="{late}" data-overdue="yes"' in board.text
            assert f'data-task-id="{soon}" data-overdue="no"' in board.text
            assert XSS not in board.text
            assert "Late &lt;script&gt;" in board.text
            assert 'sse-connect="' in board.text
            assert (await http.post(f"{here}/{late}/complete", data={})).status_code == 403
            other = f"/app/l/{sibling}/tasks/{late}/complete"
            assert (await http.post(other, data={"csrf_token": token})).status_code == 404
            missing = await http.post(f"{here}/nope/complete", data={"csrf_token": token})
            assert missing.status_code == 404
            done = await http.post(f"{here}/{late}/complete", data={"csrf_token": token})
            assert done.status_code == 303
            assert done.headers["location"] == here
            assert (await mail.get(f"/tasks/{late}"))["task"]["status"] == "done"
            after = await http.get(here)
            assert card_ids(after.text, "open") == [soon, later, undated]
            assert card_ids(after.text, "done") == [late]
            assert card_ids((await http.get(f"/app/l/{sibling}/tasks")).text, "open") == []
        stranger = await make_tenant(web_db)
        outsider = await make_person(web_db, stranger.location_id)
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, outsider)
            assert (await http.get(here)).status_code == 404
            answer = await http.post(f"{here}/{soon}/complete", data={"csrf_token": token})
            assert answer.status_code == 404
            theirs = f"/app/l/{stranger.location_id}/tasks/{soon}/complete"
            assert (await http.post(theirs, data={"csrf_token": token})).status_code == 404
        assert (await mail.get(f"/tasks/{soon}"))["task"]["status"] == "open"
