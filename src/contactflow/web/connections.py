"""The location's connections: list with status, a wizard per kind, test, rename, delete,
and the start of an OAuth authorization. Every action calls the connections services, as
the /connections API does.

An API key is tested before it is saved: the wizard makes the same calls per scope as
POST /connections/{id}/test, and saves only when every scope works.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from contactflow.flows.connections import api as connections_api
from contactflow.flows.connections import oauth_client, probes, service, usage
from contactflow.flows.connections.schemas import (
    ConnectionCreate,
    ConnectionTest,
    ConnectionUpdate,
)
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import DomainError, NotFound, Unprocessable
from contactflow.platform.runtime import url_policy
from contactflow.platform.tenancy import Location
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.pages import api_docs, render
from contactflow.web.refusals import by_field, refusal_lines

router = APIRouter(prefix="/app/l/{location_id}", include_in_schema=False)
MASKED = "password"
CONNECTIONS_DOCS = api_docs(connections_api.router, connections_api.list_connections)


@dataclass(frozen=True)
class Input:
    name: str
    label: str
    type: str = "text"
    choices: tuple[str, ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class Wizard:
    key: str
    title: str
    text: str
    fixed: dict[str, str]
    inputs: tuple[Input, ...]
    tests_first: bool = False


NAME = Input("name", "Name")
BASE_URL = Input("baseUrl", "Base URL", "url", hint="Where calls go, e.g. https://api.example.com")
SCOPES = Input("scopes", "Scopes", "checkboxes", tuple(probes.PROBES))
WIZARDS = {
    wizard.key: wizard
    for wizard in (
        Wizard(
            "apikey",
            "Contacts API by API key",
            "A HighLevel-compatible Contacts API (another contactflow, or HighLevel itself). "
            "The key is tested for each scope before it is saved.",
            {"kind": "contacts", "auth": "apiKey"},
            (
                NAME,
                BASE_URL,
                Input("locationId", "Remote location id", hint="The location the calls act on"),
                Input("apiKey", "API key", MASKED),
                SCOPES,
            ),
            tests_first=True,
        ),
        Wizard(
            "oauth",
            "Contacts API by OAuth",
            "Saved first; then Connect sends you to the provider to allow access.",
            {"kind": "contacts", "auth": "oauth"},
            (
                NAME,
                BASE_URL,
                Input("clientId", "Client id"),
                Input("clientSecret", "Client secret", MASKED),
                Input("authorizeUrl", "Authorization URL", "url"),
                Input("tokenUrl", "Token URL", "url"),
                SCOPES,
            ),
        ),
        Wizard(
            "http",
            "HTTP service",
            "Any HTTP API that flows call with the core.http.request step.",
            {"kind": "http"},
            (
                NAME,
                BASE_URL,
                Input("auth", "Sign-in", "select", ("none", "bearer", "basic", "header")),
                Input("token", "Bearer token", MASKED, hint="For bearer"),
                Input("username", "User name", hint="For basic"),
                Input("password", "Password", MASKED, hint="For basic"),
                Input("headerName", "Header name", hint="For header, e.g. X-Api-Key"),
                Input("headerValue", "Header value", MASKED, hint="For header"),
            ),
        ),
    )
}


@dataclass
class WizardState:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    test: ConnectionTest | None = None


@dataclass
class Notes:
    """What an action has to say on the page, where it belongs."""

    wizards: dict[str, WizardState] = field(default_factory=dict)
    # By connection id: a refusal, a name refused, a test's outcome.
    messages: dict[str, str] = field(default_factory=dict)
    name_errors: dict[str, str] = field(default_factory=dict)
    tests: dict[str, ConnectionTest] = field(default_factory=dict)
    added: str = ""


def _given(wizard: Wizard, form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in wizard.inputs:
        if item.type == "checkboxes":
            values[item.name] = [
                value for value in form.getlist(item.name) if isinstance(value, str)
            ]
        else:
            value = form.get(item.name)
            if isinstance(value, str) and value.strip():
                values[item.name] = value
    return values


async def _page(
    request: Request, viewer: Viewer, location: Location, notes: Notes, status: int = 200
) -> Response:
    # A location's first listing adds its built-in connections, as the API's does.
    async with database(request).unit_of_work() as uow:
        rows = [
            connections_api.connection_out(row)
            for row in await service.list_connections(uow, location.id)
        ]
    return render(
        "connections.html",
        status,
        viewer=viewer,
        api_docs=CONNECTIONS_DOCS,
        location=location,
        connections=rows,
        wizards=list(WIZARDS.values()),
        notes=notes,
        blank=WizardState(),
    )


@router.get("/connections")
async def connections_page(
    request: Request, viewer: ViewerDep, location_id: str, added: str = ""
) -> Response:
    return await _page(request, viewer, viewer.location(location_id), Notes(added=added))


async def _create(request: Request, location: Location, wizard: Wizard, state: WizardState) -> str:
    """The new connection's id; raises DomainError or ValidationError when refused."""
    body = ConnectionCreate.model_validate({**state.values, **wizard.fixed})
    policy = url_policy(request.app.state.settings)
    if wizard.tests_first:
        state.test = await probes.check_unsaved(
            await service.new_connection(location.id, body, policy)
        )
        if not state.test.ok:
            raise Unprocessable(["Not saved: the key is refused for a scope (below)"])
    async with database(request).unit_of_work() as uow:
        return (await service.create_connection(uow, location.id, body, policy)).id


@router.post("/connections/new/{key}")
async def add_connection(
    request: Request, viewer: ViewerDep, location_id: str, key: str
) -> Response:
    location = viewer.location(location_id)
    wizard = WIZARDS.get(key)
    if wizard is None:
        raise PageNotFound
    state = WizardState(values=_given(wizard, await request.form()))
    try:
        created = await _create(request, location, wizard, state)
    except (ValidationError, DomainError) as error:
        lines = refusal_lines(error)
    else:
        where = f"/app/l/{location.id}/connections?added={created}#connection-{created}"
        return RedirectResponse(where, status_code=303)
    state.errors, state.message = by_field(lines, {item.name for item in wizard.inputs})
    return await _page(request, viewer, location, Notes(wizards={key: state}), 422)


@router.post("/connections/{connection_id}/test")
async def test_connection(
    request: Request, viewer: ViewerDep, location_id: str, connection_id: str
) -> Response:
    location = viewer.location(location_id)
    report = await probes.check_connection(database(request), location.id, connection_id)
    notes = Notes(tests={connection_id: report})
    return await _page(request, viewer, location, notes)


@router.post("/connections/{connection_id}/rename")
async def rename_connection(
    request: Request, viewer: ViewerDep, location_id: str, connection_id: str
) -> Response:
    location = viewer.location(location_id)
    name = (await request.form()).get("name")
    notes = Notes()
    try:
        body = ConnectionUpdate.model_validate({"name": name if isinstance(name, str) else ""})
        async with database(request).unit_of_work() as uow:
            policy = url_policy(request.app.state.settings)
            await service.update_connection(uow, location.id, connection_id, body, policy)
    except NotFound as error:
        raise PageNotFound from error
    except (ValidationError, DomainError) as error:
        notes.name_errors[connection_id] = "; ".join(refusal_lines(error))
    else:
        return RedirectResponse(f"/app/l/{location.id}/connections", status_code=303)
    return await _page(request, viewer, location, notes, 422)


async def _on_row(
    request: Request,
    viewer: Viewer,
    location: Location,
    connection_id: str,
    act: Callable[[UnitOfWork], Awaitable[str]],
) -> Response:
    """`act` in a transaction, then to the address it gives; a refusal is shown in the
    connection's row."""
    try:
        async with database(request).unit_of_work() as uow:
            where = await act(uow)
    except NotFound as error:
        raise PageNotFound from error
    except DomainError as error:
        notes = Notes(messages={connection_id: "; ".join(refusal_lines(error))})
        return await _page(request, viewer, location, notes, error.status_code)
    return RedirectResponse(where, status_code=303)


@router.post("/connections/{connection_id}/delete")
async def delete_connection(
    request: Request, viewer: ViewerDep, location_id: str, connection_id: str
) -> Response:
    location = viewer.location(location_id)

    async def delete(uow: UnitOfWork) -> str:
        await usage.delete_connection(uow, location.id, connection_id)
        return f"/app/l/{location.id}/connections"

    return await _on_row(request, viewer, location, connection_id, delete)


@router.get("/connections/{connection_id}/connect")
async def connect(
    request: Request, viewer: ViewerDep, location_id: str, connection_id: str
) -> Response:
    """To the provider's authorization page; it sends the browser back to the API's
    callback, which stores the tokens."""
    location = viewer.location(location_id)
    callback = oauth_client.redirect_uri(request.app.state.settings.base_url)

    async def start(uow: UnitOfWork) -> str:
        return await oauth_client.start_authorization(uow, location.id, connection_id, callback)

    return await _on_row(request, viewer, location, connection_id, start)
