"""Every listing command: `--json` prints the listed items as the API shows them, and its table
keeps every id whole on one line at any width, at the 80 columns of a pipe as at 40 (the other
columns wrap, and a table too wide for the width is printed wider rather than cut)."""

import json
from dataclasses import dataclass

import pytest

from contactflow.cli_support import console
from contactflow.contacts import service as contacts
from contactflow.contacts.schemas import ContactCreate
from contactflow.flows import service as flows
from contactflow.flows.catalog import entries
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.templates import shipped
from contactflow.mailsuite import contacts as mail_contacts
from contactflow.mailsuite.schemas import ContactCreate as MailContactCreate
from contactflow.mailsuite.timeline import add_entry
from contactflow.platform import audit, events
from contactflow.platform.auth import api_keys
from contactflow.platform.auth.oauth import clients
from contactflow.platform.clock import to_iso
from contactflow.platform.db import Database
from contactflow.platform.webhooks.models import WebhookDelivery
from tests.flows.helpers import MANUAL_TASK_FLOW
from tests.support import Tenant, invoke_cli
from tests.webhooks.helpers import add_endpoint_row


@dataclass(frozen=True)
class Listing:
    args: tuple[str, ...]
    ids: list[str]  # printed whole, each on one line
    json_key: str  # the field of each JSON item that holds the first id


async def listings(db: Database, tenant: Tenant) -> list[Listing]:
    """One of each listing, of things this test makes in the tenant's location."""
    location = tenant.location_id
    async with db.unit_of_work() as uow:
        await contacts.create_contact(
            uow, location, ContactCreate.model_validate({"firstName": "Ada"}), "US"
        )
    # Made after the event, the endpoint starts past it: the server's fan-out never makes the
    # delivery this test writes by hand, which would otherwise collide with it.
    endpoint = await add_endpoint_row(db, location, "http://127.0.0.1:9/a/long/path/hook")
    async with db.reader() as session:
        [event] = await events.read_events(session, location, after=0, limit=1)
        [key] = await api_keys.list_keys(session, location)
        [entry] = await audit.entries(session, location, limit=1)
    async with db.unit_of_work() as uow:
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event.id,
            location_id=location,
            event_type=event.type,
            ordering_key=location,
            seq=event.seq,
            state="failed",
        )
        uow.session.add(delivery)
        app, _ = await clients.create_client(
            uow,
            company_id=tenant.company_id,
            name="Listing app",
            redirect_uris=["https://app.example.com/a/long/callback/path"],
            scopes=["contacts.readonly"],
        )
        definition = FlowDefinition.model_validate(MANUAL_TASK_FLOW)
        flow = await flows.create_flow(uow, location, "Listed", definition)
        await flows.publish(uow, location, flow.id)
        run = await flows.run_manually(uow, location, flow.id, {"name": "Ada"})
        mail_contact = await mail_contacts.create_contact(
            uow, location, MailContactCreate.model_validate({"email": "ada@example.com"}), "US"
        )
        note, _ = await add_entry(uow, location, mail_contact.id, "note", "Called Ada")
    return [
        Listing(("keys", "list", "--location", location), [key.id, location], "id"),
        Listing(
            ("audit", "--location", location, "--limit", "1"),
            [to_iso(entry.created_at), entry.actor],
            "createdAt",
        ),
        Listing(
            ("oauth", "apps", "list", "--company", tenant.company_id),
            [app.id, tenant.company_id, app.redirect_uris[0]],
            "clientId",
        ),
        Listing(("webhooks", "list", "--location", location), [endpoint.id, endpoint.url], "id"),
        Listing(
            ("webhooks", "deliveries", "--location", location, "--endpoint", endpoint.id),
            [delivery.id, event.id],
            "id",
        ),
        Listing(("flows", "runs", flow.id, "--location", location), [run.id], "id"),
        Listing(("flows", "templates"), list(shipped()), "key"),
        Listing(("catalog",), [item.key for item in entries(None, None, None)], "key"),
        Listing(
            ("mailsuite", "timeline", mail_contact.id),
            [to_iso(note.occurred_at)],
            "occurredAt",
        ),
    ]


@pytest.mark.parametrize("columns", [80, 40])
async def test_listing_tables_never_cut_an_id(
    database_url: str, db: Database, tenant: Tenant, columns: int
) -> None:
    for listing in await listings(db, tenant):
        result = await invoke_cli(database_url, *listing.args, columns=columns)
        assert result.exit_code == 0, result.output
        assert console.width == columns  # what it printed at
        lines = result.stdout.splitlines()
        for value in listing.ids:
            assert any(value in line for line in lines), (listing.args, value, result.stdout)


async def test_every_listing_prints_json(database_url: str, db: Database, tenant: Tenant) -> None:
    for listing in await listings(db, tenant):
        result = await invoke_cli(database_url, *listing.args, "--json")
        assert result.exit_code == 0, result.output
        items = json.loads(result.stdout)
        assert isinstance(items, list), listing.args
        assert listing.ids[0] in [item[listing.json_key] for item in items], listing.args
