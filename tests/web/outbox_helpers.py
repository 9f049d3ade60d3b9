"""A sandbox location with one email caught in its outbox, for the dashboard's tests."""

from dataclasses import dataclass

from contactflow.platform.db import Database
from tests.mailsuite.helpers import Json, Mail, poll
from tests.support import Tenant, api_client, make_tenant

HTML = "<p>Hello <b>Tess</b>, welcome aboard.</p>"


@dataclass(frozen=True)
class Caught:
    tenant: Tenant
    message: Json


async def caught_email(base_url: str, db: Database, subject: str) -> Caught:
    """A sandbox location whose sender's email (HTML and text) is in its outbox."""
    tenant = await make_tenant(db, sandbox=True)
    async with api_client(base_url, tenant.headers, timeout=30) as http:
        mail = Mail(http, tenant)
        sender = (
            await mail.post("/senders", {"name": "Team", "fromEmail": "team@acme.example.org"})
        )["sender"]
        contact = await mail.contact("tess@example.com", firstName="Tess")
        await mail.send(senderId=sender["id"], contactId=contact["id"], subject=subject, html=HTML)
        page = await poll(
            lambda: mail.get("/sandbox/messages", limit=10),
            lambda found: len(found["messages"]) == 1,
            within=30,
        )
    return Caught(tenant, page["messages"][0])
