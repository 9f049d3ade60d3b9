"""Helpers of the Mailsuite tests: the API through one tenant's key, polling, and the public
tracking links fetched from the live server."""

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx

from tests.mailsuite.smtpd import Mailbox
from tests.support import CLIENT_TIMEOUT_SECONDS, Tenant

Json = dict[str, Any]
T = TypeVar("T")
# The server's public address in links (settings.base_url): links are fetched from the live
# server by path, so the test checks that mail points at the configured address.
PUBLIC_BASE = "https://mail.example.test"
RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8)
# Wide enough that a fetch made right after the send is seen sending lands inside it on a
# loaded machine (the test waits it out before fetching as a person).
MACHINE_SECONDS = 4.0
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
API = "/mailsuite/v1"


def json_of(response: httpx.Response) -> Json:
    body: Json = response.json()
    return body


async def poll(
    fetch: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    within: float = 10.0,
    every: float = 0.03,
) -> T:
    """Call `fetch` every `every` seconds until `done` accepts its result; fail after
    `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {within} s; last value: {value!r}"[:4000])
        await asyncio.sleep(every)


def error_lines(response: httpx.Response, status: int) -> list[str]:
    """The envelope's messages (a 422's "field: reason" lines)."""
    assert response.status_code == status, response.text
    body = json_of(response)
    assert body["statusCode"] == status
    assert body["traceId"]
    message = body["message"]
    return message if isinstance(message, list) else [message]


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML of a multipart/alternative message."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def links_in(html: str, kind: str) -> list[str]:
    found = re.findall(rf'"({re.escape(PUBLIC_BASE)}/mailsuite/v1/{kind}/[^"]+)"', html)
    return [url.replace("&amp;", "&") for url in found]


@dataclass
class Mail:
    http: httpx.AsyncClient
    tenant: Tenant

    async def call(self, method: str, path: str, status: int, **options: Any) -> Json:
        response = await self.http.request(method, API + path, **options)
        assert response.status_code == status, (method, path, response.text)
        return json_of(response) if response.content else {}

    async def post(self, path: str, body: Json | None = None, status: int = 201) -> Json:
        return await self.call("POST", path, status, json=body or {})

    async def get(self, path: str, **params: Any) -> Json:
        return await self.call("GET", path, 200, params=params)

    async def sender(self, mailbox: Mailbox, **fields: Any) -> Json:
        body = {
            "name": "Newsletter",
            "fromEmail": "news@acme.example.org",
            "fromName": "Acme News",
            "smtpHost": mailbox.host,
            "smtpPort": mailbox.port,
            "smtpSecurity": "none",
            **fields,
        }
        sender: Json = (await self.post("/senders", body))["sender"]
        return sender

    async def contact(self, email: str, **fields: Any) -> Json:
        contact: Json = (await self.post("/contacts", {"email": email, **fields}))["contact"]
        return contact

    async def template(self, **fields: Any) -> Json:
        body = {"name": "Hello", "subject": "Hello {{first_name|there}}", "html": "<p>Hi</p>"}
        template: Json = (await self.post("/templates", {**body, **fields}))["template"]
        return template

    async def send(self, **fields: Any) -> Json:
        email: Json = (await self.post("/emails", fields))["email"]
        return email

    async def email(self, email_id: str) -> Json:
        email: Json = (await self.get(f"/emails/{email_id}"))["email"]
        return email

    async def wait_email(
        self, email_id: str, done: Callable[[Json], bool], *, within: float = 10.0
    ) -> Json:
        return await poll(lambda: self.email(email_id), done, within=within)

    async def wait_sent(self, email_id: str, *, within: float = 10.0) -> Json:
        return await self.wait_email(email_id, lambda row: row["status"] == "sent", within=within)

    async def events(self, *types: str) -> list[Json]:
        response = await self.http.get("/events", params={"types": ",".join(types), "limit": 1000})
        assert response.status_code == 200, response.text
        found: list[Json] = json_of(response)["events"]
        return found

    async def timeline(self, contact_id: str) -> list[Json]:
        entries: list[Json] = []
        cursor: str | None = None
        while True:
            params: Json = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = await self.get(f"/contacts/{contact_id}/timeline", **params)
            entries.extend(page["entries"])
            cursor = page["nextCursor"]
            if cursor is None:
                return entries

    async def public(
        self, url: str, method: str = "GET", agent: str = BROWSER, **options: Any
    ) -> httpx.Response:
        """Fetch a link from an email as a mail client would: no credentials."""
        assert url.startswith(PUBLIC_BASE), url
        async with httpx.AsyncClient(
            timeout=CLIENT_TIMEOUT_SECONDS, base_url=str(self.http.base_url)
        ) as anonymous:
            return await anonymous.request(
                method,
                url.removeprefix(PUBLIC_BASE),
                headers={"user-agent": agent},
                follow_redirects=False,
                **options,
            )
