"""What the catalog's generated tests act on: the records an entry needs, made through the
live server's APIs on first use, and a flow around one action or one trigger."""

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema_rs

from contactflow.flows.catalog import CATALOG
from contactflow.mailsuite.tracking import Links
from contactflow.platform.db import Database
from tests.flows.helpers import Hub, Json
from tests.mailsuite.helpers import poll
from tests.mailsuite.smtpd import Mailbox
from tests.receiver import Receiver

MAIL = "/mailsuite/v1"
LATER = "2031-01-01T09:00:00.000Z"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
_numbers = itertools.count()


def problems(schema: Json, value: Any) -> list[str]:
    return [str(error) for error in jsonschema_rs.validator_for(schema).iter_errors(value)]


@dataclass
class World:
    hub: Hub
    mailbox: Mailbox
    links: Links
    # The server's database, for what no API shows (flows' stored values, timers), and a
    # receiver on loopback for the steps that call out.
    db: Database
    receiver: Receiver
    made: dict[str, Json] = field(default_factory=dict)

    def unique(self, stem: str) -> str:
        return f"{stem}{next(_numbers)}"

    async def _once(self, name: str, make: Any) -> Json:
        if name not in self.made:
            self.made[name] = await make()
        return self.made[name]

    # The Contacts API -------------------------------------------------------------------

    async def new_contact(self, **fields: Any) -> Json:
        address = f"{self.unique('person')}@example.com"
        return await self.hub.crm_contact(firstName="Ada", email=address, **fields)

    async def contact(self) -> Json:
        return await self._once("contact", lambda: self.new_contact(tags=["lead"]))

    async def task(self) -> Json:
        async def make() -> Json:
            contact = await self.contact()
            body = {"title": "Call back", "dueDate": LATER, "completed": False}
            task: Json = (await self.hub.post(f"/contacts/{contact['id']}/tasks", body))["task"]
            return task

        return await self._once("task", make)

    async def note(self) -> Json:
        async def make() -> Json:
            contact = await self.contact()
            body = {"body": "Prefers email."}
            note: Json = (await self.hub.post(f"/contacts/{contact['id']}/notes", body))["note"]
            return note

        return await self._once("note", make)

    async def business(self) -> Json:
        async def make() -> Json:
            business: Json = (await self.hub.post("/businesses/", {"name": "Engines Ltd"}))[
                "business"
            ]
            return business

        return await self._once("business", make)

    async def appointment(self) -> Json:
        async def make() -> Json:
            contact = await self.contact()
            body = {
                "calendarId": self.hub.tenant.calendar_id,
                "contactId": contact["id"],
                "startTime": LATER,
                "title": "Intro call",
            }
            return await self.hub.post("/calendars/events/appointments", body)

        return await self._once("appointment", make)

    async def workflow(self) -> Json:
        """Another flow of the location, run for each contact added to it."""

        async def make() -> Json:
            return await self.hub.flow(_observer("contacts.contact.enrolled"), name="Workflow")

        return await self._once("workflow", make)

    # Mailsuite --------------------------------------------------------------------------

    async def new_mail_contact(self) -> Json:
        body = {"email": f"{self.unique('reader')}@example.com", "firstName": "Ada"}
        contact: Json = (await self.hub.post(f"{MAIL}/contacts", body))["contact"]
        return contact

    async def mail_contact(self) -> Json:
        return await self._once("mail_contact", self.new_mail_contact)

    async def sender(self) -> Json:
        return await self._once(
            "sender", lambda: self.hub.mail_sender(self.mailbox.host, self.mailbox.port)
        )

    async def template(self) -> Json:
        async def make() -> Json:
            body = {"name": "Hello", "subject": "Hello {{ first_name }}", "html": "<p>Hi</p>"}
            template: Json = (await self.hub.post(f"{MAIL}/templates", body))["template"]
            return template

        return await self._once("template", make)

    async def mail_list(self) -> Json:
        async def make() -> Json:
            found: Json = (await self.hub.post(f"{MAIL}/lists", {"name": "News"}))["list"]
            return found

        return await self._once("mail_list", make)

    async def campaign(self, *, contacts: list[str] | None = None) -> Json:
        """A draft campaign (to `contacts`, when given)."""
        body = {
            "name": self.unique("Campaign "),
            "senderId": (await self.sender())["id"],
            "templateId": (await self.template())["id"],
            "contactIds": contacts or [],
        }
        campaign: Json = (await self.hub.post(f"{MAIL}/campaigns", body))["campaign"]
        return campaign

    async def launched_campaign(self) -> Json:
        """A running campaign whose one email waits until later (so it can be paused)."""
        contact = await self.new_mail_contact()
        campaign = await self.campaign(contacts=[contact["id"]])
        path = f"{MAIL}/campaigns/{campaign['id']}/send"
        launched: Json = (await self.hub.post(path, {"scheduledAt": LATER}, status=200))["campaign"]
        return launched

    async def email(self, *, scheduled_at: str | None = LATER, html: str = "<p>Hi</p>") -> Json:
        body = {
            "senderId": (await self.sender())["id"],
            "contactId": (await self.mail_contact())["id"],
            "subject": "Hello",
            "html": html,
        }
        if scheduled_at is not None:
            body["scheduledAt"] = scheduled_at
        email: Json = (await self.hub.post(f"{MAIL}/emails", body))["email"]
        return email

    async def sent_email(self) -> Json:
        """An email the SMTP server has accepted, with one tracked link."""
        email = await self.email(scheduled_at=None, html='<p><a href="https://example.com/x">x</a>')
        return await poll(
            lambda: self.hub.get(f"{MAIL}/emails/{email['id']}"),
            lambda found: found["email"]["status"] == "sent",
            within=15,
        )

    async def mail_task(self) -> Json:
        async def make() -> Json:
            body = {"title": "Follow up", "contactId": (await self.mail_contact())["id"]}
            task: Json = (await self.hub.post(f"{MAIL}/tasks", body))["task"]
            return task

        return await self._once("mail_task", make)

    async def timeline_note(self) -> Json:
        async def make() -> Json:
            contact = await self.mail_contact()
            body = {"kind": "note", "body": "Met at the fair", "sourceId": self.unique("n")}
            path = f"{MAIL}/contacts/{contact['id']}/timeline"
            entry: Json = (await self.hub.post(path, body))["entry"]
            return entry

        return await self._once("timeline_note", make)

    async def visit(self, url: str) -> httpx.Response:
        return await self.hub.http.get(url, headers={"User-Agent": BROWSER})

    # Flows ------------------------------------------------------------------------------

    async def run_steps(self, name: str, steps: list[Json]) -> Json:
        """Run a flow of these steps (started for a contact of its own) to its successful
        end; the run with its step runs."""
        flow = await self.hub.flow(
            {"trigger": {"key": "contacts.contact.enrolled"}, "steps": steps}, name=name
        )
        starter = await self.new_contact()
        await self.hub.post(f"/contacts/{starter['id']}/workflow/{flow['id']}", status=200)
        (run,) = await self.hub.finished_runs(flow["id"])
        detail = await self.hub.run(run["id"])
        assert run["state"] == "succeeded", detail
        return detail

    async def run_action(self, key: str, step_input: Json) -> Json:
        """Run a flow of this one action to its end; the action's step."""
        step = {"type": "action", "id": "act", "action": key, "input": step_input}
        steps: list[Json] = (await self.run_steps(key, [step]))["steps"]
        assert len(steps) == 1, steps
        return steps[0]

    async def watch(self, key: str, options: Json | None = None) -> Json:
        """An enabled flow on the trigger `key`, from now on."""
        return await self.hub.flow(_observer(key, options), name=key)

    async def fired(self, flow: Json, count: int = 1) -> list[Json]:
        """The trigger payloads of the flow's runs, once it has `count`. A sync trigger's run
        follows a batch of the sync's, which a loaded machine may take as long to come to as
        the sync's backfill: both are given 30 s (15 s failed a conflict's run once)."""
        runs = await self.hub.finished_runs(flow["id"], count=count, within=30)
        return [run["input"] for run in runs]


@dataclass
class RemoteWorld(World):
    """The same records, made on another server (a remote account, which `hub` calls), and
    each action run by a flow of `local`'s location through its connection to that account:
    what the action changed is read back on the remote."""

    local: Hub = field(kw_only=True)
    connection_id: str = field(kw_only=True)

    async def run_action(self, key: str, step_input: Json) -> Json:
        step_input = {**step_input, "connectionId": self.connection_id}
        step = {"type": "action", "id": "act", "action": key, "input": step_input}
        flow = await self.local.flow({"trigger": {"key": "core.manual"}, "steps": [step]}, key)
        await self.local.post(f"/flows/{flow['id']}/run", {})
        (run,) = await self.local.finished_runs(flow["id"])
        steps: list[Json] = (await self.local.run(run["id"]))["steps"]
        assert len(steps) == 1, steps
        return steps[0]


def _observer(key: str, options: Json | None = None) -> Json:
    """A flow whose only step lets every run through: what fired it is its run's input."""
    trigger: Json = {"key": key}
    if options:
        trigger["options"] = options
    return {
        "trigger": trigger,
        "steps": [{"type": "filter", "id": "seen", "conditions": {"conditions": []}}],
    }


def entry_output(key: str) -> Json:
    return CATALOG[key].output
