"""Signing in and out, the sessions a person has, and which location they look at."""

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from contactflow.platform.auth import invitations, passwords, sessions
from contactflow.platform.auth.ip import over_tls
from contactflow.platform.errors import BadRequest, NotFound
from contactflow.web.guard import (
    CsrfRefused,
    ViewerDep,
    address_of,
    database,
    same_site,
)
from contactflow.web.pages import render
from contactflow.web.refusals import by_field, refusal_lines

router = APIRouter(prefix="/app", include_in_schema=False)
# The sign-in form's CSRF token, before there is a session to derive one from.
LOGIN_COOKIE = "cf_login"
SIGN_IN_FORM = "/app/login"
INVITE_FORM = "/app/invite"
MAX_EMAIL = 320


def _next(raw: str) -> str:
    """Where to go after signing in: a path of this site (a dashboard page, an OAuth
    authorization request), never another site. Browsers read `\\` as `/` and drop tabs and
    newlines, so `/\\evil.example` or `/<tab>/evil.example` would be `//evil.example`."""
    local = raw.startswith("/") and not raw.startswith("//")
    if local and raw.isprintable() and " " not in raw and "\\" not in raw:
        return raw
    return "/app/"


def _secure(request: Request) -> bool:
    return over_tls(request, trust_proxy=request.app.state.settings.trust_proxy)


def _before_sign_in(
    request: Request, template: str, path: str, status: int = 200, **values: Any
) -> Response:
    """A form sent before there is a session (signing in, accepting an invitation): its CSRF
    token is a random one, also in a cookie of the form's path (double submit)."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(template, status, csrf_token=token, **values)
    response.set_cookie(
        LOGIN_COOKIE, token, path=path, secure=_secure(request), httponly=True, samesite="lax"
    )
    return response


def _check_before_sign_in(request: Request, sent: str, refusal: str) -> None:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not same_site(request) or not expected or not secrets.compare_digest(expected, sent):
        raise CsrfRefused(refusal)


def _login_page(
    request: Request, *, status: int = 200, message: str = "", email: str = "", next: str = ""
) -> Response:
    return _before_sign_in(
        request, "login.html", SIGN_IN_FORM, status, message=message, email=email, next=next
    )


def _signed_in(request: Request, secret: str, where: str, form_path: str) -> Response:
    response = RedirectResponse(_next(where), status_code=303)
    sessions.set_cookie(response, secret, secure=_secure(request))
    response.delete_cookie(LOGIN_COOKIE, path=form_path)
    return response


@router.get("/login")
async def login_page(request: Request, next: str = "") -> Response:
    """Always the form, signed in or not: signing in replaces whatever session was there."""
    return _login_page(request, next=next)


@router.post("/login")
async def sign_in(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    _check_before_sign_in(
        request, csrf_token, "The sign-in form is stale or was not sent from this site"
    )
    if not email.strip() or len(email) > MAX_EMAIL:
        message = "Enter the email address you sign in with"
        return _login_page(request, status=422, message=message, email=email[:MAX_EMAIL], next=next)
    db, address = database(request), address_of(request)
    async with db.reader() as session:
        if await sessions.throttled(session, email, address):
            message = "Too many failed sign-ins; wait a quarter of an hour and try again"
            return _login_page(request, status=429, message=message, email=email, next=next)
        user = await passwords.sign_in(session, email, password)
    async with db.unit_of_work() as uow:
        if user is None:
            await sessions.record_failure(uow, email, address)
        else:
            # A new session id at every sign-in: one planted before it is worth nothing.
            previous = await sessions.find(uow.session, request.cookies.get(sessions.COOKIE))
            if previous is not None:
                await sessions.end(uow, previous.user.id, previous.session.id)
            agent = request.headers.get("user-agent", "")
            secret = await sessions.start(uow, user, address, agent)
    if user is None:
        message = "Wrong email or password"
        return _login_page(request, status=400, message=message, email=email, next=next)
    return _signed_in(request, secret, next, SIGN_IN_FORM)


def _signed_out() -> Response:
    response = RedirectResponse("/app/login", status_code=303)
    sessions.clear_cookie(response)
    return response


@router.post("/logout")
async def sign_out(request: Request, viewer: ViewerDep) -> Response:
    async with database(request).unit_of_work() as uow:
        await sessions.end(uow, viewer.signed_in.user.id, viewer.signed_in.session.id)
    return _signed_out()


@router.get("/account")
async def account(request: Request, viewer: ViewerDep) -> Response:
    async with database(request).reader() as session:
        rows = await sessions.of_user(session, viewer.signed_in.user.id)
    return render("account.html", viewer=viewer, sessions=rows)


@router.post("/account/sessions/{session_id}/end")
async def end_session(request: Request, viewer: ViewerDep, session_id: str) -> Response:
    async with database(request).unit_of_work() as uow:
        await sessions.end(uow, viewer.signed_in.user.id, session_id)
    return RedirectResponse("/app/account", status_code=303)


@router.post("/account/sign-out-everywhere")
async def sign_out_everywhere(request: Request, viewer: ViewerDep) -> Response:
    async with database(request).unit_of_work() as uow:
        await sessions.end_all(uow, viewer.signed_in.user.id)
    return _signed_out()


@router.get("/")
async def home(viewer: ViewerDep) -> Response:
    if not viewer.locations:
        return render(
            "problem.html",
            viewer=viewer,
            title="No location yet",
            text="Your user belongs to no location; ask an administrator to add you to one.",
        )
    return RedirectResponse(f"/app/l/{viewer.locations[0].id}/overview", status_code=303)


@router.get("/switch")
async def switch(viewer: ViewerDep, location: str = "") -> Response:
    chosen = viewer.location(location)
    return RedirectResponse(f"/app/l/{chosen.id}/overview", status_code=303)


def _invitation_refused() -> Response:
    text = (
        "This invitation link is unknown, was used already, or is older than 24 hours. "
        "Ask an administrator for a new one."
    )
    return render("problem.html", 404, title="Invitation not valid", text=text)


def _invite_page(
    request: Request, secret: str, email: str, status: int = 200, **values: Any
) -> Response:
    values.setdefault("errors", {})
    values.setdefault("message", "")
    return _before_sign_in(
        request,
        "invite.html",
        INVITE_FORM,
        status,
        action=f"{INVITE_FORM}/{secret}",
        email=email,
        min_length=passwords.MIN_LENGTH,
        **values,
    )


@router.get("/invite/{secret}")
async def invitation(request: Request, secret: str) -> Response:
    async with database(request).reader() as session:
        found = await invitations.find(session, secret)
    if found is None:
        return _invitation_refused()
    return _invite_page(request, secret, found.user.email)


@router.post("/invite/{secret}")
async def accept_invitation(
    request: Request,
    secret: str,
    password: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _check_before_sign_in(request, csrf_token, "The form is stale or was not sent from this site")
    db = database(request)
    async with db.reader() as session:
        found = await invitations.find(session, secret)
    if found is None:
        return _invitation_refused()
    if password != confirm:
        errors = {"confirm": "not the same password"}
        return _invite_page(request, secret, found.user.email, 422, errors=errors)
    try:
        async with db.unit_of_work() as uow:
            user = await invitations.accept(uow, secret, password)
            agent = request.headers.get("user-agent", "")
            session_secret = await sessions.start(uow, user, address_of(request), agent)
    except NotFound:
        return _invitation_refused()
    except BadRequest as error:
        errors, message = by_field(refusal_lines(error), {"password"})
        return _invite_page(request, secret, found.user.email, 422, errors=errors, message=message)
    return _signed_in(request, session_secret, "/app/", INVITE_FORM)
