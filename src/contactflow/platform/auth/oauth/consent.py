"""The authorization endpoint as a browser sees it: sign in, choose a location, consent.

GET /oauth/authorize (HighLevel's spelling, /oauth/chooselocation, too) validates the
request through Authlib, then shows the consent form to a signed-in person, or sends the
browser to the sign-in page (platform.auth.sessions: the dashboard's sign-in), which brings
it back to the same request. The consent form, carrying the session's CSRF token, posts
back to the same URL; Authlib then redirects to the app with a code, or with
`error=access_denied`. Errors that cannot be sent to a verified redirect URI are shown here
(RFC 6749 4.1.2.1). These pages are HTML, so they stay out of the OpenAPI document.
"""

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from contactflow.platform.api_support import DatabaseDep, SettingsDep
from contactflow.platform.auth import sessions
from contactflow.platform.auth.oauth.choices import choices
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
        address = sessions.address_of(request, trust_proxy=proxied)
        signed_in = await sessions.resume(db, request.cookies.get(sessions.COOKIE), address)
        if signed_in is None:
            return sessions.sign_in_first(request)
        async with db.reader() as session:
            options = await choices(session, signed_in.user, pending.client, pending.scope)
    except OAuth2Error as error:
        return _error(error)
    return _page(
        "consent.html",
        app_name=pending.client.name,
        user_name=signed_in.user.name,
        user_email=signed_in.user.email,
        scopes=[(scope, SCOPE_LABELS.get(scope, scope)) for scope in pending.scope.split()],
        choices=options,
        csrf_token=signed_in.csrf_token,
        query=request.url.query,
        switch_user=sessions.sign_in_url(request),
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
    secret = request.cookies.get(sessions.COOKIE) or ""
    if not sessions.csrf_matches(secret, answer.get("csrf_token", "")):
        expired = InvalidRequestError("The sign-in expired or the form is stale; start again")
        return _error(expired)
    async with db.unit_of_work() as uow:
        try:
            context = Context.of(request, settings, uow)
            pending = await run(uow.session, context, lambda s: _validate(s, oauth_request))
            if not isinstance(pending, Pending):
                return pending
            signed_in = await sessions.find(uow.session, secret)
            if signed_in is None:
                raise InvalidRequestError("The sign-in expired; start again")
            user, grantee = signed_in.user, None
            if answer.get("decision") == "allow":
                options = await choices(uow.session, user, pending.client, pending.scope)
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
