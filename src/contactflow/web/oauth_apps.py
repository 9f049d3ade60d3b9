"""The company's OAuth apps, for its admins (an app is registered for the company, not for
one location): the list, a form to register one or change it (redirect URIs, scopes picked
by resource, the addresses its tokens may be used from), and an app's page. Every action calls
the OAuth clients service, as `contactflow oauth apps` does.

A confidential app's client secret is shown once, in the answer that registered it (forms.py).
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from contactflow.platform.auth.oauth import clients
from contactflow.platform.auth.oauth.models import OAuthClient
from contactflow.platform.auth.scopes import SCOPES_BY_RESOURCE
from contactflow.platform.errors import DomainError, NotFound
from contactflow.platform.tenancy import Location
from contactflow.web.forms import NewSecret, shown_once
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.pages import render
from contactflow.web.refusals import FilledForm, form_text

router = APIRouter(prefix="/app/l/{location_id}/apps", include_in_schema=False)
FORM_FIELDS = {"name", "redirectUris", "scope", "allowedIps"}
# The service's names of the fields, as the API and the CLI have them.
RENAMED = {"redirectUri": "redirectUris", "allowIp": "allowedIps"}


def apps_path(location_id: str) -> str:
    return f"/app/l/{location_id}/apps"


def _given(form: FormData) -> dict[str, Any]:
    return {
        "name": form_text(form, "name"),
        "redirectUris": form_text(form, "redirectUris"),
        "scope": [value for value in form.getlist("scope") if isinstance(value, str)],
        "allowedIps": form_text(form, "allowedIps"),
        "public": form.get("public") == "on",
    }


def _values_of(client: OAuthClient) -> dict[str, Any]:
    return {
        "name": client.name,
        "redirectUris": "\n".join(client.redirect_uris),
        "scope": client.scopes,
        "allowedIps": "\n".join(client.allowed_ips or []),
        "public": client.public,
    }


def _lines(raw: str) -> list[str]:
    """A list as typed: one entry per line (a redirect URI has no spaces to split on)."""
    return raw.split()


async def _find(request: Request, location: Location, client_id: str) -> OAuthClient:
    async with database(request).reader() as session:
        return await clients.find_client(session, location.company_id, client_id)


@router.get("")
async def apps_page(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.administered(location_id)
    async with database(request).reader() as session:
        apps = await clients.list_clients(session, location.company_id)
    saved = request.query_params.get("done") == "saved"
    return render("oauth_apps.html", viewer=viewer, location=location, apps=apps, saved=saved)


def _form_page(
    viewer: Viewer,
    location: Location,
    form: FilledForm,
    app: OAuthClient | None = None,
    status: int = 200,
) -> Response:
    return render(
        "oauth_app_form.html",
        status,
        viewer=viewer,
        location=location,
        form=form,
        app=app,
        groups=SCOPES_BY_RESOURCE,
    )


@router.get("/new")
async def new_page(viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.administered(location_id)
    blank = {"name": "", "redirectUris": "", "scope": [], "allowedIps": "", "public": False}
    return _form_page(viewer, location, FilledForm(blank))


async def app_page(
    request: Request,
    viewer: Viewer,
    location: Location,
    client_id: str,
    *,
    secret: NewSecret | None = None,
) -> Response:
    app = await _find(request, location, client_id)
    saved = request.query_params.get("done") == "saved"
    response = render(
        "oauth_app.html", viewer=viewer, location=location, app=app, secret=secret, saved=saved
    )
    if secret is not None:
        return shown_once(response, f"{apps_path(location.id)}/{app.id}")
    return response


@router.post("/new")
async def create(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.administered(location_id)
    values = _given(await request.form())
    try:
        async with database(request).unit_of_work() as uow:
            app, secret = await clients.create_client(
                uow,
                company_id=location.company_id,
                name=values["name"],
                redirect_uris=_lines(values["redirectUris"]),
                scopes=values["scope"],
                public=values["public"],
                allowed_ips=_lines(values["allowedIps"]),
                actor=viewer.actor,
            )
    except DomainError as error:
        refused = FilledForm.refused(values, error, FORM_FIELDS, RENAMED)
        return _form_page(viewer, location, refused, status=422)
    shown = None if secret is None else NewSecret(secret)
    return await app_page(request, viewer, location, app.id, secret=shown)


@router.get("/{client_id}")
async def app_view(
    request: Request, viewer: ViewerDep, location_id: str, client_id: str
) -> Response:
    return await app_page(request, viewer, viewer.administered(location_id), client_id)


@router.get("/{client_id}/edit")
async def edit_page(
    request: Request, viewer: ViewerDep, location_id: str, client_id: str
) -> Response:
    location = viewer.administered(location_id)
    app = await _find(request, location, client_id)
    return _form_page(viewer, location, FilledForm(_values_of(app)), app)


@router.post("/{client_id}/edit")
async def edit(request: Request, viewer: ViewerDep, location_id: str, client_id: str) -> Response:
    location = viewer.administered(location_id)
    values = _given(await request.form())
    try:
        async with database(request).unit_of_work() as uow:
            app = await clients.find_client(uow.session, location.company_id, client_id)
            values["public"] = app.public
            await clients.update_client(
                uow,
                app,
                name=values["name"],
                redirect_uris=_lines(values["redirectUris"]),
                scopes=values["scope"],
                allowed_ips=_lines(values["allowedIps"]),
                actor=viewer.actor,
            )
    except NotFound:
        raise PageNotFound from None
    except DomainError as error:
        found = await _find(request, location, client_id)
        refused = FilledForm.refused(values, error, FORM_FIELDS, RENAMED)
        return _form_page(viewer, location, refused, found, 422)
    where = f"{apps_path(location.id)}/{client_id}?done=saved"
    return RedirectResponse(where, status_code=303)
