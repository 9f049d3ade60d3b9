"""Who is asking, and may they: the signed-in person behind a dashboard request, the
locations they may see, and the CSRF checks on every request that changes something.

A request that changes state needs two things: the session's CSRF token (a hidden form
field, or the X-CSRF-Token header htmx sends from the page's body), and a browser that says
it comes from this site (Sec-Fetch-Site, else Origin). Either missing or wrong: 403.
"""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from contactflow.platform.auth import sessions
from contactflow.platform.db import Database
from contactflow.platform.tenancy import ADMIN, Location, locations_of

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """No live session: a page sends the browser to sign in, anything else is refused."""


class CsrfRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PageNotFound(Exception):
    """Not there, or not the viewer's: the same answer, so ids of others cannot be probed."""


@dataclass(frozen=True)
class Viewer:
    signed_in: sessions.SignedIn
    locations: list[Location]

    @property
    def csrf_token(self) -> str:
        return self.signed_in.csrf_token

    @property
    def actor(self) -> str:
        """Who the audit log says acted."""
        return f"user:{self.signed_in.user.id}"

    def location(self, location_id: str) -> Location:
        for location in self.locations:
            if location.id == location_id:
                return location
        raise PageNotFound

    def administered(self, location_id: str) -> Location:
        """A location of the viewer's company, for a company admin; nobody else has such
        pages (the same 404 as for a location they do not see)."""
        if self.signed_in.user.role != ADMIN:
            raise PageNotFound
        return self.location(location_id)


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def address_of(request: Request) -> str:
    return sessions.address_of(request, trust_proxy=request.app.state.settings.trust_proxy)


def same_site(request: Request) -> bool:
    """Whether the browser says the request comes from a page of this site. Browsers that
    send neither header are left to the token."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host") and parts.scheme in ("http", "https")


async def _sent_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def check_csrf(request: Request, secret: str) -> None:
    if not same_site(request):
        raise CsrfRefused("The request did not come from this site's pages")
    if not sessions.csrf_matches(secret, await _sent_token(request)):
        raise CsrfRefused("The form is stale or was not sent from this site; reload the page")


async def viewer(request: Request) -> Viewer:
    db = database(request)
    secret = request.cookies.get(sessions.COOKIE)
    signed_in = await sessions.resume(db, secret, address_of(request))
    if signed_in is None:
        raise SignInRequired
    if request.method not in SAFE_METHODS:
        await check_csrf(request, signed_in.secret)
    async with db.reader() as session:
        locations = await locations_of(session, signed_in.user)
    return Viewer(signed_in=signed_in, locations=locations)


ViewerDep = Annotated[Viewer, Depends(viewer)]
