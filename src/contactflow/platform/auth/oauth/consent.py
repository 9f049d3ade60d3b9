"""The authorization endpoint as a browser sees it: sign in, choose a location, consent.

GET /oauth/authorize (HighLevel's spelling, /oauth/chooselocation, too) validates the
request through Authlib, then shows the sign-in form or the consent form. The consent form
posts back to the same URL; Authlib then redirects to the app with a code, or with
`error=access_denied`. Errors that cannot be sent to a verified redirect URI are shown here
(RFC 6749 4.1.2.1). These pages are HTML, so they stay out of the OpenAPI document.
"""

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from contactflow.platform.api_support import DatabaseDep, SettingsDep
from contactflow.platform.auth import passwords
from contactflow.platform.auth.ip import over_tls
from contactflow.platform.auth.oauth import login
from contactflow.platform.auth.oauth.models import OAuthClient
from contactflow.platform.auth.oauth.server import (
    Context,
    HttpRequest,
    OAuthServer,
    read_request,
    run,
)
from contactflow.platform.auth.scopes import KNOWN_SCOPES

router = APIRouter(prefix="/oauth", include_in_schema=False)
templates = Environment(
    loader=PackageLoader("contactflow.platform.auth.oauth", "templates"),
    autoescape=select_autoescape(default=True),
)
# The pages hold a consent button: no framing (clickjacking), no scripts, no caching.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _scope_label(scope: str) -> str:
    resource, _, access = scope.partition(".")
    verb = "Read" if access == "readonly" else "Change"
    return f"{verb} {resource.replace('/', ' ')}"


SCOPE_LABELS = {scope: _scope_label(scope) for scope in KNOWN_SCOPES}


def _page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = templates.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _error(error: OAuth2Error) -> Response:
    """An error that must not be redirected, on a page for the user in front of the browser
    (RFC 6749 4.1.2.1), whatever the request's Accept header says."""
    status, body, _ = error()
    description = body.get("error_description", "")
    return _page("error.html", status, error=body["error"], description=description)


@dataclass(frozen=True)
class Pending:
    """A valid authorization request waiting for the user."""

    client: OAuthClient
    scope: str


def _validate(server: OAuthServer, request: HttpRequest) -> Pending | Response:
    """Authlib's checks of client, redirect URI, scope and PKCE. An error found once the
    redirect URI is known goes back to the app, as RFC 6749 wants."""
    try:
        grant = server.get_consent_grant(request)
    except OAuth2Error as error:
        if error.redirect_uri:
            response: Response = server.handle_error_response(request, error)
            return response
        raise
    return Pending(client=grant.client, scope=grant.request.scope)


@router.get("/authorize")
@router.get("/chooselocation")
async def authorize(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    try:
        proxied = settings.trust_proxy
        oauth_request = await read_request(request, form=False, query=True, trust_proxy=proxied)
        async with db.reader() as session:
            context = Context.of(request, settings)
            pending = await run(session, context, lambda s: _validate(s, oauth_request))
            if not isinstance(pending, Pending):
                return pending
            secret = request.cookies.get(login.SESSION_COOKIE)
            user = await login.signed_in_user(session, secret)
            if user is None or secret is None:
                return _login_page(request, pending)
            options = await login.choices(session, user, pending.client, pending.scope)
    except OAuth2Error as error:
        return _error(error)
    return _page(
        "consent.html",
        app_name=pending.client.name,
        user_name=user.name,
        user_email=user.email,
        scopes=[(scope, SCOPE_LABELS.get(scope, scope)) for scope in pending.scope.split()],
        choices=options,
        csrf_token=login.csrf_token(secret),
        next=request.url.query,
        message="",
    )


def _login_page(request: Request, pending: Pending) -> Response:
    return _page(
        "login.html", app_name=pending.client.name, next=request.url.query, message="", email=""
    )


@router.post("/authorize")
async def decide(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    """The consent form's answer: allow (for the chosen location) or deny."""
    try:
        proxied = settings.trust_proxy
        oauth_request = await read_request(request, form=True, query=True, trust_proxy=proxied)
    except OAuth2Error as error:
        return _error(error)
    answer = oauth_request.form
    secret = request.cookies.get(login.SESSION_COOKIE) or ""
    if not login.csrf_matches(secret, answer.get("csrf_token", "")):
        expired = InvalidRequestError("The sign-in expired or the form is stale; start again")
        return _error(expired)
    async with db.unit_of_work() as uow:
        try:
            context = Context.of(request, settings, uow)
            pending = await run(uow.session, context, lambda s: _validate(s, oauth_request))
            if not isinstance(pending, Pending):
                return pending
            user = await login.signed_in_user(uow.session, secret)
            if user is None:
                raise InvalidRequestError("The sign-in expired; start again")
            grantee = None
            if answer.get("decision") == "allow":
                options = await login.choices(uow.session, user, pending.client, pending.scope)
                chosen = next((o for o in options if o.value == answer.get("location")), None)
                if chosen is None:
                    raise InvalidRequestError("Choose one of the offered locations")
                grantee = chosen.grantee(user)

            def respond(server: OAuthServer) -> Response:
                # Authlib wants the grant object it validated itself for this response.
                grant = server.get_consent_grant(oauth_request, end_user=grantee)
                response: Response = server.create_authorization_response(
                    oauth_request, grant_user=grantee, grant=grant
                )
                return response

            return await run(uow.session, context, respond)
        except OAuth2Error as error:
            return _error(error)


def _authorize_url(next_query: str) -> str:
    """Back to the authorization endpoint and nowhere else: `next` is only ever a query."""
    return "/oauth/authorize?" + urlencode(parse_qsl(next_query, keep_blank_values=True))


@router.post("/login")
async def sign_in(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    next: Annotated[str, Form(max_length=8192)] = "",
) -> Response:
    async with db.reader() as session:
        user = await passwords.sign_in(session, email, password) if email else None
    if user is None:
        message = "Wrong email or password"
        return _page("login.html", 400, app_name="", next=next, message=message, email=email)
    async with db.unit_of_work() as uow:
        secret = await login.start_session(uow, user)
    response = RedirectResponse(_authorize_url(next), status_code=303)
    response.set_cookie(
        login.SESSION_COOKIE,
        secret,
        max_age=int(login.SESSION_LIFETIME.total_seconds()),
        path="/oauth",
        secure=over_tls(request, trust_proxy=settings.trust_proxy),
        httponly=True,
        samesite="lax",
    )
    return response


@router.post("/logout")
async def sign_out(
    request: Request, db: DatabaseDep, next: Annotated[str, Form(max_length=8192)] = ""
) -> Response:
    secret = request.cookies.get(login.SESSION_COOKIE)
    if secret:
        async with db.unit_of_work() as uow:
            await login.end_session(uow, secret)
    response = RedirectResponse(_authorize_url(next), status_code=303)
    response.delete_cookie(login.SESSION_COOKIE, path="/oauth")
    return response
