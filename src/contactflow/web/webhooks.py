"""A location's webhook endpoints: the list with each one's last delivery, a form to add or
change one (its event types picked from the platform's list, by resource), and an endpoint's
page with its levers: rotate the signing secret, send a test event, send again what failed
since a time, disable and re-enable, delete. Every action calls the webhooks service, as the
/webhooks API does.

A signing secret is shown once, in the answer to the request that made it (adding the
endpoint, rotating its secret), never on the endpoint's page read again (forms.py).
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from contactflow.platform.errors import DomainError, NotFound
from contactflow.platform.event_types import EVENT_TYPES_BY_RESOURCE
from contactflow.platform.runtime import url_policy
from contactflow.platform.tenancy import Location
from contactflow.platform.webhooks import api as webhooks_api
from contactflow.platform.webhooks import service
from contactflow.platform.webhooks.models import WebhookEndpoint
from contactflow.platform.webhooks.schemas import EndpointCreate, EndpointUpdate
from contactflow.web.forms import NewSecret, shown_once
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.pages import api_docs, render
from contactflow.web.refusals import MOMENT_HINT, FilledForm, utc_moment
from contactflow.web.webhook_deliveries import DeliveryFilter, endpoint_path, listing

router = APIRouter(prefix="/app/l/{location_id}/webhooks", include_in_schema=False)
ENDPOINTS_DOCS = api_docs(webhooks_api.router, webhooks_api.list_endpoints)
ENDPOINT_DOCS = api_docs(webhooks_api.router, webhooks_api.get_endpoint)
NEW_DOCS = api_docs(webhooks_api.router, webhooks_api.create_endpoint)
EDIT_DOCS = api_docs(webhooks_api.router, webhooks_api.update_endpoint)
FORM_FIELDS = {"url", "description", "eventTypes", "ordered"}
NOTICES = {
    "saved": "Saved the endpoint.",
    "enabled": "Enabled: deliveries go out again, starting with those waiting.",
    "disabled": "Disabled: nothing is sent to it until it is enabled again.",
    "deleted": "Deleted the endpoint and its deliveries.",
}


@dataclass
class Recover:
    since: str = ""
    error: str = ""


def _values_of(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "eventTypes": endpoint.event_types,
        "ordered": endpoint.ordered,
    }


def _given(form: FormData) -> dict[str, Any]:
    """The form as the wire model takes it: an unticked box is not sent, so it is false."""
    return {
        "url": form.get("url") or "",
        "description": form.get("description") or "",
        "eventTypes": [value for value in form.getlist("eventTypes") if isinstance(value, str)],
        "ordered": form.get("ordered") == "on",
    }


async def _find(request: Request, location_id: str, endpoint_id: str) -> WebhookEndpoint:
    async with database(request).reader() as session:
        return await service.find_endpoint(session, location_id, endpoint_id)


@router.get("")
async def endpoints_page(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        endpoints = await service.list_endpoints(session, location.id)
        last = {}
        for endpoint in endpoints:
            newest = await service.list_deliveries(
                session, location.id, endpoint.id, limit=1, state=None, before=None
            )
            last[endpoint.id] = newest[0] if newest else None
    return render(
        "webhooks.html",
        viewer=viewer,
        location=location,
        api_docs=ENDPOINTS_DOCS,
        endpoints=endpoints,
        last=last,
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
    )


def _form_page(
    viewer: Viewer,
    location: Location,
    form: FilledForm,
    endpoint: WebhookEndpoint | None = None,
    status: int = 200,
) -> Response:
    return render(
        "webhook_form.html",
        status,
        viewer=viewer,
        location=location,
        api_docs=NEW_DOCS if endpoint is None else EDIT_DOCS,
        endpoint=endpoint,
        form=form,
        groups=EVENT_TYPES_BY_RESOURCE,
    )


@router.get("/new")
async def new_page(viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    blank = FilledForm({"url": "", "description": "", "eventTypes": [], "ordered": True})
    return _form_page(viewer, location, blank)


async def endpoint_page(
    request: Request,
    viewer: Viewer,
    location: Location,
    endpoint_id: str,
    *,
    secret: NewSecret | None = None,
    recover: Recover | None = None,
    status: int = 200,
) -> Response:
    shown = DeliveryFilter.of(request) if request.method == "GET" else DeliveryFilter()
    async with database(request).reader() as session:
        endpoint = await service.find_endpoint(session, location.id, endpoint_id)
        deliveries = await listing(session, location.id, endpoint.id, shown)
    errors = deliveries["delivery_errors"]
    response = render(
        "webhook.html",
        422 if errors and status == 200 else status,
        viewer=viewer,
        location=location,
        api_docs=ENDPOINT_DOCS,
        endpoint=endpoint,
        secret=secret,
        recover=recover or Recover(),
        notice=_notice(request),
        **deliveries,
    )
    if secret is not None:
        return shown_once(response, endpoint_path(location.id, endpoint.id))
    return response


def _notice(request: Request) -> str:
    recovered = request.query_params.get("recovered", "")
    if recovered.isascii() and recovered.isdigit() and len(recovered) < 10:
        count = int(recovered)
        return (
            f"Queued {count} failed deliver{'y' if count == 1 else 'ies'} to be sent again."
            if count
            else "No delivery failed since then: nothing to send again."
        )
    return NOTICES.get(request.query_params.get("done", ""), "")


@router.post("/new")
async def create(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    values = _given(await request.form())
    try:
        body = EndpointCreate.model_validate(values)
        async with database(request).unit_of_work() as uow:
            endpoint = await service.create_endpoint(
                uow,
                location.id,
                url_policy(request.app.state.settings),
                url=body.url,
                event_types=body.event_types,
                description=body.description,
                enabled=True,
                ordered=body.ordered,
            )
    except (ValidationError, DomainError) as error:
        return _form_page(
            viewer, location, FilledForm.refused(values, error, FORM_FIELDS), status=422
        )
    secret = NewSecret(endpoint.secret)
    return await endpoint_page(request, viewer, location, endpoint.id, secret=secret)


@router.get("/{endpoint_id}")
async def endpoint_view(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str
) -> Response:
    return await endpoint_page(request, viewer, viewer.location(location_id), endpoint_id)


@router.get("/{endpoint_id}/edit")
async def edit_page(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str
) -> Response:
    location = viewer.location(location_id)
    found = await _find(request, location.id, endpoint_id)
    return _form_page(viewer, location, FilledForm(_values_of(found)), found)


@router.post("/{endpoint_id}/edit")
async def edit(request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str) -> Response:
    location = viewer.location(location_id)
    found = await _find(request, location.id, endpoint_id)
    values = _given(await request.form())
    try:
        body = EndpointUpdate.model_validate(values)
        async with database(request).unit_of_work() as uow:
            await service.update_endpoint(
                uow,
                location.id,
                endpoint_id,
                url_policy(request.app.state.settings),
                url=body.url,
                event_types=body.event_types,
                description=body.description,
                ordered=body.ordered,
            )
    except NotFound:
        raise PageNotFound from None
    except (ValidationError, DomainError) as error:
        return _form_page(
            viewer, location, FilledForm.refused(values, error, FORM_FIELDS), found, 422
        )
    where = f"{endpoint_path(location.id, endpoint_id)}?done=saved"
    return RedirectResponse(where, status_code=303)


@router.post("/{endpoint_id}/rotate-secret")
async def rotate_secret(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str
) -> Response:
    location = viewer.location(location_id)
    overlap = timedelta(hours=request.app.state.settings.webhook_secret_overlap_hours)
    async with database(request).unit_of_work() as uow:
        rotated = await service.rotate_secret(uow, location.id, endpoint_id, overlap)
    secret = NewSecret(rotated.secret, rotated.previous_secret_expires_at)
    return await endpoint_page(request, viewer, location, endpoint_id, secret=secret)


async def _act(
    request: Request, location: Location, endpoint_id: str, done: str, enabled: bool | None = None
) -> Response:
    """Enable or disable the endpoint, or delete it (`enabled` None), then show the outcome."""
    async with database(request).unit_of_work() as uow:
        if enabled is None:
            await service.delete_endpoint(uow, location.id, endpoint_id)
        else:
            policy = url_policy(request.app.state.settings)
            await service.update_endpoint(uow, location.id, endpoint_id, policy, enabled=enabled)
    where = (
        f"/app/l/{location.id}/webhooks"
        if enabled is None
        else endpoint_path(location.id, endpoint_id)
    )
    return RedirectResponse(f"{where}?done={done}", status_code=303)


@router.post("/{endpoint_id}/enable")
async def enable(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str
) -> Response:
    return await _act(request, viewer.location(location_id), endpoint_id, "enabled", True)


@router.post("/{endpoint_id}/disable")
async def disable(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str
) -> Response:
    return await _act(request, viewer.location(location_id), endpoint_id, "disabled", False)


@router.post("/{endpoint_id}/delete")
async def delete(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str
) -> Response:
    return await _act(request, viewer.location(location_id), endpoint_id, "deleted")


@router.post("/{endpoint_id}/test")
async def send_test(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str
) -> Response:
    location = viewer.location(location_id)
    async with database(request).unit_of_work() as uow:
        delivery = await service.send_test(uow, location.id, endpoint_id)
    where = f"{endpoint_path(location.id, endpoint_id)}/deliveries/{delivery.id}?done=test"
    return RedirectResponse(where, status_code=303)


@router.post("/{endpoint_id}/recover")
async def recover(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str
) -> Response:
    location = viewer.location(location_id)
    raw = (await request.form()).get("since")
    asked = Recover(raw if isinstance(raw, str) else "")
    try:
        since = utc_moment(asked.since)
    except ValueError:
        asked.error = f"required: {MOMENT_HINT}" if not asked.since else MOMENT_HINT
        return await endpoint_page(
            request, viewer, location, endpoint_id, recover=asked, status=422
        )
    async with database(request).unit_of_work() as uow:
        count = await service.recover(uow, location.id, endpoint_id, since)
    where = f"{endpoint_path(location.id, endpoint_id)}?recovered={count}"
    return RedirectResponse(where, status_code=303)
