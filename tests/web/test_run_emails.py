"""A run's page shows what became of the emails its steps queued, as the API does: the send
step's output is the email as it is now, and an email that did not get through is listed with
the reason."""

import html
import re

from contactflow.platform.db import Database
from tests.flows.helpers import Hub, welcome_flow
from tests.mailsuite.helpers import poll
from tests.mailsuite.smtpd import running_mailbox
from tests.support import LiveServer, Tenant
from tests.web.helpers import browser, make_person, signed_in

REFUSAL = "550 5.1.1 <lin@example.com>: Recipient address rejected"


async def test_a_runs_page_shows_its_email_refused(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    with running_mailbox() as smtp:
        smtp.refuse("lin@example.com", REFUSAL)
        sender = await web_hub.mail_sender(smtp.host, smtp.port)
        flow = await web_hub.flow(welcome_flow(sender["id"]), name="Welcome")
        await web_hub.crm_contact(name="Lin Wu", email="lin@example.com")
        (run,) = await web_hub.finished_runs(flow["id"])
        person = await make_person(web_db, web_tenant.location_id)
        async with browser(web_server.base_url) as http:
            await signed_in(http, person)
            path = f"/app/l/{web_tenant.location_id}/runs/{run['id']}"

            async def page() -> str:
                return (await http.get(path)).text

            shown = await poll(
                page, lambda text: "Emails that did not get through" in text, within=20
            )
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", shown)).split())
    assert f"lin@example.com, queued by step welcome: failed {REFUSAL}" in text
    assert '"status": "failed"' in text
