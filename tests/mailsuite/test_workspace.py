"""The workspace API: contacts (one per address, upsert, events with changes), lists, tasks
and their events, the timeline newest first across keyset pages, tenancy and scopes, and the
SMTP password encrypted at rest."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from contactflow.platform.db import Database
from tests.mailsuite.helpers import API, Mail, error_lines
from tests.mailsuite.smtpd import Mailbox
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, make_tenant


async def test_contacts_are_one_per_address_and_upserts_say_what_changed(mail: Mail) -> None:
    created = await mail.contact(
        "Zoe@Example.com", firstName="Zoe", phone="(415) 555-0100", customFields={"tier": "b"}
    )
    assert created["email"] == "Zoe@example.com"
    assert created["phone"] == "+14155550100"
    assert created["subscriptionStatus"] == "subscribed"
    again = await mail.post("/contacts/upsert", {"email": "zoe@example.com", "lastName": "Ng"}, 200)
    assert again["new"] is False
    assert again["contact"]["id"] == created["id"]
    assert again["contact"]["name"] == "Zoe Ng"
    fresh = await mail.post("/contacts/upsert", {"email": "yan@example.com"})
    assert fresh["new"] is True

    upserts = await mail.events("MailsuiteContactUpsert")
    assert [event["payload"]["new"] for event in upserts] == [True, False, True]
    assert upserts[1]["payload"]["changes"] == {"lastName": {"old": None, "new": "Ng"}}
    workspace = (await mail.get("/workspace"))["workspace"]
    assert workspace["customFieldKeys"] == ["tier"]
    entries = await mail.timeline(created["id"])
    assert [(entry["kind"], entry["body"]) for entry in entries] == [
        ("contact_updated", "Changed last name")
    ]
    bad_key = await mail.http.post(
        f"{API}/contacts", json={"email": "k@example.com", "customFields": {"no spaces": 1}}
    )
    assert error_lines(bad_key, 422)[0].startswith("customFields.no spaces")
    unknown = await mail.http.post(
        f"{API}/contacts", json={"email": "k@example.com", "nickname": "k"}
    )
    assert error_lines(unknown, 422)[0].startswith("nickname:")


async def test_list_endpoints_page_newest_first(mail: Mail) -> None:
    ids = [(await mail.contact(f"p{number}@example.com"))["id"] for number in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        page = await mail.get("/contacts", limit=2, **({"cursor": cursor} if cursor else {}))
        seen.extend(row["id"] for row in page["contacts"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    bad = await mail.http.get(f"{API}/contacts", params={"cursor": "nonsense"})
    assert error_lines(bad, 422) == ["cursor: use the nextCursor of the previous page"]


async def test_tasks_emit_their_events_and_reach_the_timeline(mail: Mail) -> None:
    contact = await mail.contact("tasked@example.com")
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    task = (
        await mail.post(
            "/tasks",
            {
                "title": "Call back",
                "dueAt": due,
                "contactId": contact["id"],
                "assigneeId": mail.tenant.user_ids[0],
            },
        )
    )["task"]
    assert task["status"] == "open"
    renamed = await mail.call("PUT", f"/tasks/{task['id']}", 200, json={"notes": "after 5pm"})
    assert renamed["task"]["notes"] == "after 5pm"
    done = await mail.call("PUT", f"/tasks/{task['id']}", 200, json={"status": "done"})
    assert done["task"]["completedAt"] is not None
    assert [
        event["type"]
        for event in await mail.events(
            "MailsuiteTaskCreate", "MailsuiteTaskUpdate", "MailsuiteTaskComplete"
        )
    ] == [
        "MailsuiteTaskCreate",
        "MailsuiteTaskUpdate",
        "MailsuiteTaskUpdate",
        "MailsuiteTaskComplete",
    ]
    kinds = [entry["kind"] for entry in await mail.timeline(contact["id"])]
    assert kinds == ["task_completed", "task_created"]
    open_tasks = await mail.get("/tasks", status="open")
    assert open_tasks["tasks"] == []
    stranger = await mail.http.post(f"{API}/tasks", json={"title": "x", "assigneeId": "nobody"})
    assert error_lines(stranger, 422) == ["assigneeId: not a user of this location"]
    orphan = await mail.http.post(f"{API}/tasks", json={"title": "x", "contactId": "nobody"})
    assert error_lines(orphan, 422) == ["contactId: not found in this workspace"]


async def test_a_task_copied_from_another_system_is_kept_once(mail: Mail) -> None:
    copy = {"title": "Send quote", "sourceSystem": "crm", "sourceId": "tk_42"}
    first = (await mail.post("/tasks", copy))["task"]
    again = (await mail.post("/tasks", {**copy, "title": "Send the quote"}))["task"]
    assert again == first
    assert (first["sourceSystem"], first["sourceId"]) == ("crm", "tk_42")
    other = (await mail.post("/tasks", {**copy, "sourceSystem": "erp"}))["task"]
    assert other["id"] != first["id"]
    plain = (await mail.post("/tasks", {"title": "Send quote"}))["task"]
    assert (plain["sourceSystem"], plain["sourceId"]) == (None, None)
    assert len((await mail.get("/tasks"))["tasks"]) == 3
    half = await mail.http.post(f"{API}/tasks", json={"title": "x", "sourceId": "tk_43"})
    assert error_lines(half, 422) == ["sourceId: sourceSystem and sourceId go together"]


async def test_the_timeline_reads_newest_first_and_keeps_other_systems_entries_once(
    mail: Mail,
) -> None:
    contact = await mail.contact("history@example.com")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in (3, 1, 4, 2, 5):
        await mail.post(
            f"/contacts/{contact['id']}/timeline",
            {
                "kind": "appointment" if day % 2 else "note",
                "body": f"day {day}",
                "sourceSystem": "calendar",
                "sourceId": f"evt-{day}",
                "occurredAt": (start + timedelta(days=day)).isoformat(),
            },
        )
    repeat = await mail.post(
        f"/contacts/{contact['id']}/timeline",
        {"kind": "note", "body": "changed?", "sourceSystem": "calendar", "sourceId": "evt-3"},
        status=200,
    )
    assert repeat["entry"]["body"] == "day 3"
    bodies: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await mail.get(f"/contacts/{contact['id']}/timeline", **params)
        bodies.extend(entry["body"] for entry in page["entries"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert bodies == ["day 5", "day 4", "day 3", "day 2", "day 1"]
    assert len(await mail.events("TimelineEntryCreate")) == 5


async def test_other_tenants_and_missing_scopes_are_refused(
    mail: Mail, mail_db: Database, mail_server: LiveServer
) -> None:
    contact = await mail.contact("mine@example.com")
    other = await make_tenant(mail_db)
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=mail_server.base_url, headers=other.headers
    ) as http:
        response = await http.get(f"{API}/contacts/{contact['id']}")
        assert error_lines(response, 404) == ["Mailsuite contact not found"]
    reader = await make_tenant(mail_db, scopes=("mailsuite.readonly",))
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=mail_server.base_url, headers=reader.headers
    ) as http:
        assert (await http.get(f"{API}/contacts")).status_code == 200
        refused = await http.post(f"{API}/contacts", json={"email": "x@example.com"})
        assert "mailsuite.write" in error_lines(refused, 401)[0]
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=mail_server.base_url
    ) as http:
        assert (await http.get(f"{API}/contacts")).status_code == 401


async def test_the_smtp_password_is_encrypted_at_rest(
    mail: Mail, mail_db: Database, smtp: Mailbox
) -> None:
    sender = await mail.sender(smtp, smtpUsername="u", smtpPassword="hunter2-very-secret")
    async with mail_db.reader() as session:
        stored = await session.scalar(
            text("SELECT smtp_password FROM mailsuite_senders WHERE id = :id"),
            {"id": sender["id"]},
        )
        keys = await session.scalar(text("SELECT secret FROM mailsuite_tracking_keys"))
    assert stored is not None
    assert "hunter2" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert keys is not None
    assert keys.startswith("gAAAA")
