"""The public routes a recipient's mail client reaches: the open pixel, click redirects and
the unsubscribe page with RFC 8058 one-click. No credential: the signed token in the path is
the authority, and a token that does not verify is a 404."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from contactflow.mailsuite import engagement
from contactflow.mailsuite.api_common import PREFIX
from contactflow.mailsuite.tracking import PIXEL, Kind, Token, read_token, tracking_key
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, SettingsDep
from contactflow.platform.auth.ip import client_ip
from contactflow.platform.db import Database
from contactflow.platform.errors import NotFound

TAG = "Mailsuite tracking (public)"
router = APIRouter(
    prefix=PREFIX,
    tags=[TAG],
    responses={status: ERROR_RESPONSES[status] for status in (404, 413, 422)},
)
# No Authorization: the operation declares an empty security requirement.
PUBLIC: dict[str, Any] = {"security": []}
TokenPath = Annotated[str, Path(min_length=1, max_length=4096, pattern=r"^[A-Za-z0-9_\-.]+$")]
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}
# The page holds one form that posts back to itself: nothing else may load or frame it.
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
_pages = Environment(autoescape=True)
_PAGE = _pages.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
button{font-size:1rem;padding:.5rem 1rem}</style></head>
<body><h1>{{ title }}</h1><p>{{ message }}</p>
{% if form %}<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>{% endif %}</body></html>
"""
)


async def _token(db: Database, kind: Kind, token: str) -> Token:
    found = read_token(await tracking_key(db), kind, token)
    if found is None:
        raise NotFound(engagement.LINK_NOT_FOUND)
    return found


def _visit(request: Request, window: float) -> engagement.Visit:
    trust_proxy: bool = request.app.state.settings.trust_proxy
    return engagement.Visit(
        user_agent=request.headers.get("user-agent", ""),
        ip=client_ip(request, trust_proxy=trust_proxy),
        machine_window=window,
    )


@router.get(
    "/track/open/{token}",
    response_class=Response,
    responses={200: {"content": {"image/gif": {}}, "description": "A transparent 1x1 GIF"}},
    openapi_extra=PUBLIC,
    summary="Open pixel (public)",
)
async def open_pixel(
    token: TokenPath, request: Request, db: DatabaseDep, settings: SettingsDep
) -> Response:
    found = await _token(db, "open", token)
    async with db.unit_of_work() as uow:
        await engagement.opened(
            uow, found.email_id, _visit(request, settings.mailsuite_machine_seconds)
        )
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get(
    "/track/click/{token}",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {
            "description": "To the link's target (signed into the token)",
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    },
    openapi_extra=PUBLIC,
    summary="Click redirect (public)",
)
async def click(
    token: TokenPath, request: Request, db: DatabaseDep, settings: SettingsDep
) -> RedirectResponse:
    found = await _token(db, "click", token)
    assert found.url is not None
    async with db.unit_of_work() as uow:
        await engagement.clicked(
            uow, found.email_id, found.url, _visit(request, settings.mailsuite_machine_seconds)
        )
    return RedirectResponse(found.url, status_code=302, headers=NO_STORE)


def _page(title: str, message: str, *, form: bool) -> HTMLResponse:
    html = _PAGE.render(title=title, message=message, form=form)
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get(
    "/unsubscribe/{token}",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "The confirmation form"}},
    openapi_extra=PUBLIC,
    summary="Unsubscribe page: asks to confirm (public)",
)
async def unsubscribe_page(token: TokenPath, db: DatabaseDep) -> HTMLResponse:
    found = await _token(db, "unsubscribe", token)
    async with db.reader() as session:
        contact = await engagement.contact_of(session, found.email_id)
    return _page(
        "Unsubscribe",
        f"Stop sending email to {contact.email}?",
        form=contact.status == "subscribed",
    )


@router.post(
    "/unsubscribe/{token}",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "Unsubscribed"}},
    openapi_extra=PUBLIC,
    summary="Unsubscribe: the page's form and RFC 8058 one-click POST (public)",
)
async def unsubscribe(
    token: TokenPath,
    db: DatabaseDep,
    list_unsubscribe: Annotated[str | None, Form(alias="List-Unsubscribe", max_length=64)] = None,
) -> HTMLResponse:
    found = await _token(db, "unsubscribe", token)
    method = "one-click" if list_unsubscribe == "One-Click" else "unsubscribe page"
    async with db.unit_of_work() as uow:
        contact = await engagement.unsubscribed(uow, found.email_id, method)
    return _page("Unsubscribed", f"{contact.email} will get no more email from us.", form=False)
