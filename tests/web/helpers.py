"""Helpers of the dashboard tests: people who sign in, and browsers as httpx clients."""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import update

from contactflow.platform.auth.passwords import hash_password
from contactflow.platform.auth.sessions import WebSession
from contactflow.platform.db import Database
from contactflow.platform.tenancy import Location, User
from tests.support import Tenant

# Debian's chromium, for Playwright (which never downloads a browser here).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Person:
    email: str
    password: str
    user_id: str
    location_id: str


async def make_person(db: Database, location_id: str, *, role: str = "admin") -> Person:
    """A user of the location who can sign in (an admin sees the company's locations)."""
    email = f"p{secrets.token_hex(6)}@people.example.org"
    password = secrets.token_urlsafe(12)
    async with db.unit_of_work() as uow:
        user = User(
            location_id=location_id,
            first_name="Pat",
            last_name="Example",
            email=email,
            role=role,
            password_hash=hash_password(password),
        )
        uow.session.add(user)
        await uow.session.flush()
        return Person(email, password, user.id, location_id)


async def second_location(db: Database, tenant: Tenant, name: str = "Second Location") -> str:
    async with db.unit_of_work() as uow:
        location = Location(company_id=tenant.company_id, name=name)
        uow.session.add(location)
        await uow.session.flush()
        return location.id


async def set_last_use(db: Database, user_id: str, moment: datetime) -> None:
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(WebSession).where(WebSession.user_id == user_id).values(last_used_at=moment)
        )


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found is not None, html[:2000]
    return found.group(1)


def session_cookie(response: httpx.Response) -> str:
    """The Set-Cookie header that gives the browser a session, lower-cased ("" if none)."""
    given = [
        header.lower()
        for header in response.headers.get_list("set-cookie")
        if header.startswith("cf_session=cf_web_")
    ]
    assert len(given) <= 1, given
    return given[0] if given else ""


def browser(base_url: str, **headers: str) -> httpx.AsyncClient:
    """A client that keeps cookies, as a browser does, and sends what a page of the site
    would (Sec-Fetch-Site); redirects are left for the test to see."""
    sent = {"Sec-Fetch-Site": "same-origin", **headers}
    return httpx.AsyncClient(base_url=base_url, headers=sent, timeout=30)


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await http.get("/app/login")
    assert page.status_code == 200, page.text
    form = {"email": email, "password": password, "csrf_token": csrf_of(page.text)}
    return await http.post("/app/login", data=form)


async def signed_in(http: httpx.AsyncClient, person: Person) -> str:
    """Sign in; returns the CSRF token of the signed-in pages."""
    response = await sign_in(http, person.email, person.password)
    assert response.status_code == 303, response.text
    page = await http.get("/app/account")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
