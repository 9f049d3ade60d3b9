"""`make run` is `contactflow serve --demo` with the default settings: no SMTP server, and no
SMTP network allowed. A contact created in the first demo location still gets the demo's
welcome email, readable in the sandbox outbox. The demo runs on SQLite, the database `make
run` uses (its ~200 contacts cost ~20 s more on PostgreSQL, where the outbox itself is tested
by the other tests of this package)."""

import asyncio
from pathlib import Path

from contactflow.demo import demo_for_serve
from contactflow.platform.db import Database
from contactflow.platform.migrate import upgrade
from contactflow.settings import Settings
from tests.mailsuite.helpers import API, Json, json_of, poll
from tests.support import api_client, live_server


async def test_a_new_contact_of_the_demo_gets_its_welcome_email_in_the_outbox(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'contactflow.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url)
    assert settings.smtp_allowed_networks == []
    db = Database(url)
    try:
        demo = await demo_for_serve(db, region=settings.default_phone_region)
    finally:
        await db.dispose()
    first = demo.locations[0]
    headers = {"Authorization": f"Bearer {first.api_key}", "Version": "2021-07-28"}

    with live_server(settings) as server:
        async with api_client(server.base_url, headers, timeout=30) as http:
            created = await http.post(
                "/contacts/",
                json={
                    "locationId": first.id,
                    "firstName": "Grace",
                    "lastName": "Hopper",
                    "email": "grace.hopper@example.com",
                },
            )
            assert created.status_code == 201, created.text

            async def welcomes() -> list[Json]:
                # The demo's own contacts get their welcome emails at the same time, so
                # Grace's may be anywhere in the outbox: every page is read.
                found: list[Json] = []
                params: dict[str, str | int] = {"limit": 100}
                while True:
                    response = await http.get(f"{API}/sandbox/messages", params=params)
                    assert response.status_code == 200, response.text
                    page = json_of(response)
                    found += [
                        row
                        for row in page["messages"]
                        if row["rcptTo"] == "grace.hopper@example.com"
                    ]
                    if page["nextCursor"] is None:
                        return found
                    params["cursor"] = page["nextCursor"]

            # The demo keeps the API's default rate limit (100 requests per 10 s): ask within it.
            [welcome] = await poll(welcomes, bool, within=90, every=0.5)
            assert welcome["subject"] == "Welcome, Grace"
            read = await http.get(f"{API}/sandbox/messages/{welcome['id']}")
            assert read.status_code == 200, read.text
            message = json_of(read)
            assert "Hello Grace, welcome aboard." in message["text"]
            assert "Hello Grace, welcome aboard." in message["html"]

            # The sandbox catches the message before the sender records the answer.
            async def email() -> Json:
                response = await http.get(f"{API}/emails/{welcome['emailId']}")
                found: Json = json_of(response)["email"]
                return found

            assert (await poll(email, lambda row: row["status"] != "sending", within=60))[
                "status"
            ] == "sent"
