"""A location's API keys: the list, a form to create one (its scopes picked by resource, an
expiry, the addresses it may be used from), and a key's page with its levers: rotate with a
grace period for the old key, revoke, change the IP allowlist. Every action calls the
api_keys service, as `contactflow keys` does, and the audit log names the person who acted.

The key itself is shown once, in the answer to the request that made it (forms.py).
"""

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from contactflow.platform.auth import api_keys
from contactflow.platform.auth.scopes import COMPANY_SCOPES, SCOPES_BY_RESOURCE
from contactflow.platform.clock import utcnow
from contactflow.platform.errors import BadRequest, DomainError, NotFound
from contactflow.platform.tenancy import Location
from contactflow.web.forms import NewSecret, shown_once
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.pages import render
from contactflow.web.refusals import MOMENT_HINT, FilledForm, form_text, utc_moment

router = APIRouter(prefix="/app/l/{location_id}/keys", include_in_schema=False)
FORM_FIELDS = {"name", "scope", "expires", "allowedIps"}
# What a location's key may carry: company scopes would grant it nothing.
KEY_SCOPES = {
    group: scopes
    for group, names in SCOPES_BY_RESOURCE.items()
    if (scopes := tuple(name for name in names if name not in COMPANY_SCOPES))
}
DEFAULT_GRACE_HOURS = 24
NOTICES = {
    "revoked": "Revoked: the API refuses the key from now on.",
    "allowlist": "Saved the addresses the key may be used from.",
}


def keys_path(location_id: str) -> str:
    return f"/app/l/{location_id}/keys"


def _addresses(raw: str) -> list[str]:
    """The allowlist as typed: one address or CIDR per line (commas and spaces also part)."""
    return raw.replace(",", " ").split()


def _given(form: FormData) -> dict[str, Any]:
    return {
        "name": form_text(form, "name"),
        "scope": [value for value in form.getlist("scope") if isinstance(value, str)],
        "expires": form_text(form, "expires"),
        "allowedIps": form_text(form, "allowedIps"),
    }


def _refused(values: dict[str, Any], error: DomainError) -> FilledForm:
    return FilledForm.refused(values, error, FORM_FIELDS, {"allowedIps": "allowedIps"})


def _expiry(raw: str) -> datetime | None:
    if not raw:
        return None
    try:
        return utc_moment(raw)
    except ValueError:
        raise BadRequest(f"expires: {MOMENT_HINT}") from None


async def _find(request: Request, location_id: str, key_id: str) -> api_keys.ApiKey:
    async with database(request).reader() as session:
        return await api_keys.find_key(session, location_id, key_id)


@router.get("")
async def keys_page(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        keys = await api_keys.list_keys(session, location.id)
    return render(
        "keys.html",
        viewer=viewer,
        location=location,
        keys=list(reversed(keys)),
        now=utcnow(),
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
    )


def _form_page(viewer: Viewer, location: Location, form: FilledForm, status: int = 200) -> Response:
    return render(
        "key_form.html", status, viewer=viewer, location=location, form=form, groups=KEY_SCOPES
    )


@router.get("/new")
async def new_page(viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    blank = FilledForm({"name": "", "scope": [], "expires": "", "allowedIps": ""})
    return _form_page(viewer, location, blank)


async def key_page(
    request: Request,
    viewer: Viewer,
    location: Location,
    key_id: str,
    *,
    secret: NewSecret | None = None,
    allowlist: FilledForm | None = None,
    rotate: FilledForm | None = None,
    status: int = 200,
) -> Response:
    key = await _find(request, location.id, key_id)
    response = render(
        "key.html",
        status,
        viewer=viewer,
        location=location,
        key=key,
        now=utcnow(),
        secret=secret,
        allowlist=allowlist or FilledForm({"allowedIps": "\n".join(key.allowed_ips or [])}),
        rotate=rotate or FilledForm({"grace": str(DEFAULT_GRACE_HOURS)}),
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
    )
    if secret is not None:
        return shown_once(response, f"{keys_path(location.id)}/{key.id}")
    return response


@router.post("/new")
async def create(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    values = _given(await request.form())
    try:
        async with database(request).unit_of_work() as uow:
            key, plaintext = await api_keys.create_key(
                uow,
                location.id,
                values["scope"],
                values["name"].strip(),
                expires_at=_expiry(values["expires"]),
                allowed_ips=_addresses(values["allowedIps"]),
                actor=viewer.actor,
            )
    except DomainError as error:
        return _form_page(viewer, location, _refused(values, error), 422)
    return await key_page(request, viewer, location, key.id, secret=NewSecret(plaintext))


@router.get("/{key_id}")
async def key_view(request: Request, viewer: ViewerDep, location_id: str, key_id: str) -> Response:
    return await key_page(request, viewer, viewer.location(location_id), key_id)


def _grace(raw: str) -> timedelta:
    try:
        hours = float(raw)
    except ValueError:
        raise BadRequest("grace: a number of hours, from 0 to 168") from None
    if not 0 <= hours <= api_keys.MAX_ROTATION_GRACE / timedelta(hours=1):
        raise BadRequest("grace: a number of hours, from 0 to 168")
    return timedelta(hours=hours)


@router.post("/{key_id}/rotate")
async def rotate(request: Request, viewer: ViewerDep, location_id: str, key_id: str) -> Response:
    location = viewer.location(location_id)
    values = {"grace": form_text(await request.form(), "grace")}
    try:
        async with database(request).unit_of_work() as uow:
            old = await api_keys.find_key(uow.session, location.id, key_id)
            new, plaintext = await api_keys.rotate_key(
                uow, key_id, _grace(values["grace"]), actor=viewer.actor
            )
            secret = NewSecret(plaintext, old.expires_at)
    except NotFound:
        raise PageNotFound from None
    except DomainError as error:
        refused = FilledForm.refused(values, error, {"grace"})
        return await key_page(request, viewer, location, key_id, rotate=refused, status=422)
    return await key_page(request, viewer, location, new.id, secret=secret)


@router.post("/{key_id}/revoke")
async def revoke(request: Request, viewer: ViewerDep, location_id: str, key_id: str) -> Response:
    location = viewer.location(location_id)
    async with database(request).unit_of_work() as uow:
        await api_keys.find_key(uow.session, location.id, key_id)
        await api_keys.revoke_key(uow, key_id, actor=viewer.actor)
    return RedirectResponse(f"{keys_path(location.id)}/{key_id}?done=revoked", status_code=303)


@router.post("/{key_id}/allowlist")
async def allowlist(request: Request, viewer: ViewerDep, location_id: str, key_id: str) -> Response:
    location = viewer.location(location_id)
    values = {"allowedIps": form_text(await request.form(), "allowedIps")}
    try:
        async with database(request).unit_of_work() as uow:
            await api_keys.find_key(uow.session, location.id, key_id)
            await api_keys.set_allowed_ips(
                uow, key_id, _addresses(values["allowedIps"]), actor=viewer.actor
            )
    except DomainError as error:
        if isinstance(error, NotFound):
            raise PageNotFound from None
        refused = _refused(values, error)
        return await key_page(request, viewer, location, key_id, allowlist=refused, status=422)
    return RedirectResponse(f"{keys_path(location.id)}/{key_id}?done=allowlist", status_code=303)
