"""The flow builder: a flow's draft edited as a form (trigger, conditions, steps, mappings),
saved, tested, published, enabled and disabled through the flows service, so what it saves is
the very definition the API and CLI read and write.

The form carries the whole draft being edited; each button that changes its shape (add a
step, move it, add a condition) posts the form and gets back the part it changed, drawn
again from the posted state. Nothing is stored until Save, Test or Publish.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows import service, validation
from contactflow.flows.catalog import find
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import DUE_STATES, Flow, FlowRun, find_flow
from contactflow.platform.clock import to_iso
from contactflow.platform.errors import Conflict, Unprocessable
from contactflow.platform.events import Event, delivered_payload
from contactflow.platform.tenancy import Location
from contactflow.web import builder_errors, builder_fields, builder_forms, builder_ops
from contactflow.web.flows import record_choices
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.pages import render, render_part

router = APIRouter(prefix="/app/l/{location_id}/flows", include_in_schema=False)
NEW = "new"
MAX_NAME = 200
PAST_EVENTS = 20
# Input fields the builder offers a choice of the location's records for.
REFERENCES = {"senderId": "mailsuite.sender"}


@dataclass(frozen=True)
class Editing:
    """What the builder page is drawn from: the flow (None before its first save), its name
    and the form's tree, the past event picked as sample data, and messages by field."""

    flow: Flow | None
    name: str
    raw: builder_forms.Json
    event_id: str = ""
    errors: dict[str, str] | None = None
    status: int = 200


def _urls(location_id: str, flow_key: str) -> dict[str, str]:
    base = f"/app/l/{location_id}/flows/{flow_key}/builder"
    return {name: f"{base}/{name}" for name in ("op", "save", "test", "publish")} | {
        "page": base,
        "enable": f"{base}/switch/on",
        "disable": f"{base}/switch/off",
        "catalog": f"/app/l/{location_id}/flows/builder/catalog",
        "tests": f"{base}/tests",
    }


def _blank() -> builder_forms.Json:
    return {"trigger": {"key": ""}, "conditions": {"match": "all"}, "steps": []}


async def _past_events(session: AsyncSession, location_id: str, key: str) -> list[Event]:
    """The latest events of the trigger's type in the location (samples and test data)."""
    entry = find(key)
    if entry is None or entry.fires != "event" or entry.event_type is None:
        return []
    rows = await session.scalars(
        select(Event)
        .where(Event.location_id == location_id, Event.type == entry.event_type)
        .order_by(Event.seq.desc())
        .limit(PAST_EVENTS)
    )
    return list(rows)


def _event_label(event: Event) -> str:
    payload = event.payload
    about = payload.get("email") or payload.get("name") or payload.get("title") or event.id
    return f"{to_iso(event.created_at)} · {about}"


async def _draw(
    request: Request, viewer: Viewer, location: Location, editing: Editing
) -> dict[str, Any]:
    """The page's values: the drawing of the form and all it picks from."""
    key = (editing.raw.get("trigger") or {}).get("key", "")
    async with database(request).reader() as session:
        events = await _past_events(session, location.id, key)
        references = {
            name: await record_choices(session, location.id, kind)
            for name, kind in REFERENCES.items()
        }
        published = await service.published_of(session, editing.flow) if editing.flow else None
    chosen = next((event for event in events if event.id == editing.event_id), None)
    entry = find(key)
    sample = delivered_payload(chosen) if chosen else dict(entry.sample if entry else {})
    flow_key = editing.flow.id if editing.flow else NEW
    errors = editing.errors or {}
    return {
        "viewer": viewer,
        "location": location,
        "flow": editing.flow,
        "version": published.number if published else None,
        "name": editing.name,
        "drawing": builder_fields.builder(editing.raw, sample, references),
        "errors": errors,
        "general": [message for place, message in errors.items() if not place] or [],
        "events": [(event.id, _event_label(event)) for event in events],
        "event_id": chosen.id if chosen else "",
        "trigger_groups": builder_fields.catalog_groups("trigger"),
        "action_groups": builder_fields.catalog_groups("action"),
        "operators": builder_fields.OPERATORS,
        "formatters": builder_fields.FORMATTERS,
        "urls": _urls(location.id, flow_key),
        "notice": request.query_params.get("notice", ""),
        "test_run": request.query_params.get("test", ""),
    }


async def _page(request: Request, viewer: Viewer, location: Location, editing: Editing) -> Response:
    values = await _draw(request, viewer, location, editing)
    return render("builder.html", editing.status, **values)


async def _flow(request: Request, location_id: str, flow_id: str) -> Flow:
    async with database(request).reader() as session:
        return await find_flow(session, location_id, flow_id)


@router.get("/new/builder")
async def new_flow(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    return await _page(request, viewer, location, Editing(None, "", _blank()))


async def _stored(request: Request, flow: Flow) -> tuple[builder_forms.Json, dict[str, str]]:
    """The flow's draft (else its running version) as the form's tree, with what keeps it
    from publishing beside its fields."""
    async with database(request).reader() as session:
        version = await service.draft_of(session, flow.id) or await service.published_of(
            session, flow
        )
    if version is None:
        return _blank(), {}
    raw = builder_forms.form_tree(version.definition)
    definition = FlowDefinition.model_validate(version.definition)
    return raw, builder_errors.field_errors(validation.problems(definition), raw)


@router.get("/{flow_id}/builder")
async def edit_flow(
    request: Request, viewer: ViewerDep, location_id: str, flow_id: str
) -> Response:
    location = viewer.location(location_id)
    flow = await _flow(request, location.id, flow_id)
    raw, problems = await _stored(request, flow)
    event_id = request.query_params.get("event", "")
    return await _page(request, viewer, location, Editing(flow, flow.name, raw, event_id, problems))


async def _posted(request: Request) -> tuple[dict[str, str], builder_forms.Json]:
    form = await request.form()
    pairs = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    return dict(pairs), builder_forms.tree(pairs)


async def _editing_flow(request: Request, location_id: str, flow_key: str) -> Flow | None:
    return None if flow_key == NEW else await _flow(request, location_id, flow_key)


@router.post("/{flow_key}/builder/op")
async def change(request: Request, viewer: ViewerDep, location_id: str, flow_key: str) -> Response:
    """One change of the form's shape; htmx gets the changed part, a plain form the page."""
    location = viewer.location(location_id)
    flow = await _editing_flow(request, location.id, flow_key)
    form, raw = await _posted(request)
    op = form.get("op", "")
    errors: dict[str, str] = {}
    try:
        builder_ops.apply(raw, op, form)
    except builder_ops.BadOp:
        errors[""] = "The page was out of date; nothing changed. Check the form and try again."
    editing = Editing(flow, form.get("name", ""), raw, form.get("sample.event", ""), errors)
    if "hx-request" not in request.headers or errors:
        return await _page(request, viewer, location, editing)
    values = await _draw(request, viewer, location, editing)
    place = op.partition(":")[2]
    block = (
        "builder_body"
        if op.startswith(("trigger", "sample"))
        else "conditions_block"
        if place.startswith("conditions")
        else "steps_block"
    )
    return render_part("builder.html", block, **values)


@router.get("/builder/catalog")
async def catalog_picker(
    viewer: ViewerDep, location_id: str, kind: str = "action", q: str = "", name: str = ""
) -> Response:
    """The picker's choices of the catalog matching the words typed, grouped by app."""
    viewer.location(location_id)
    if kind not in ("trigger", "action") or not name.startswith("pick."):
        raise PageNotFound
    words = q[:MAX_NAME]
    groups = builder_fields.catalog_groups(kind, words)
    return render_part(
        "builder_pick.html", "picker", name=name, groups=groups, kind=kind, words=words
    )


def _checked(form: dict[str, str], raw: builder_forms.Json) -> FlowDefinition | dict[str, str]:
    """The definition the form holds, or messages by field."""
    data, errors = builder_forms.definition_data(raw)
    name = form.get("name", "").strip()
    if not name:
        errors["name"] = "give the flow a name"
    elif len(name) > MAX_NAME:
        errors["name"] = f"at most {MAX_NAME} characters"
    if not data["trigger"]["key"]:
        errors["trigger.key"] = "pick a trigger"
    if not data["steps"]:
        errors["steps"] = "add at least one step"
    try:
        definition = FlowDefinition.model_validate(data)
    except ValidationError as error:
        found = builder_errors.field_errors(builder_errors.validation_lines(error), raw)
        return {**found, **errors}
    return errors or definition


async def _save(
    request: Request, location: Location, flow: Flow | None, form: dict[str, str], raw: Any
) -> Flow | dict[str, str]:
    checked = _checked(form, raw)
    if isinstance(checked, dict):
        return checked
    name = form["name"].strip()
    async with database(request).unit_of_work() as uow:
        if flow is None:
            return await service.create_flow(uow, location.id, name, checked)
        return await service.update_flow(uow, location.id, flow.id, name=name, definition=checked)


def _back(location_id: str, flow: Flow, **query: str) -> RedirectResponse:
    where = f"/app/l/{location_id}/flows/{flow.id}/builder"
    given = {name: value for name, value in query.items() if value}
    return RedirectResponse(f"{where}?{urlencode(given)}" if given else where, status_code=303)


async def _refused(
    request: Request, viewer: Viewer, location: Location, editing: Editing
) -> Response:
    return await _page(request, viewer, location, Editing(**{**editing.__dict__, "status": 422}))


@router.post("/{flow_key}/builder/{action}")
async def save(
    request: Request, viewer: ViewerDep, location_id: str, flow_key: str, action: str
) -> Response:
    """Save the draft, then test it (on the picked past event, else the trigger's sample) or
    publish it; a refusal is drawn beside the fields it names."""
    location = viewer.location(location_id)
    if action not in ("save", "test", "publish"):
        raise PageNotFound
    flow = await _editing_flow(request, location.id, flow_key)
    form, raw = await _posted(request)
    event_id = form.get("sample.event", "")
    saved = await _save(request, location, flow, form, raw)
    if isinstance(saved, dict):
        editing = Editing(flow, form.get("name", ""), raw, event_id, saved)
        return await _refused(request, viewer, location, editing)
    try:
        async with database(request).unit_of_work() as uow:
            if action == "test":
                run = await service.start_test(
                    uow, location.id, saved.id, event_id=event_id or None, payload=None
                )
                return _back(location.id, saved, notice="tested", test=run.id, event=event_id)
            if action == "publish":
                await service.publish(uow, location.id, saved.id)
                return _back(location.id, saved, notice="published", event=event_id)
    except Unprocessable as error:
        lines = error.message if isinstance(error.message, list) else [error.message]
        errors = builder_errors.field_errors(lines, raw)
    except Conflict as error:
        errors = {"": str(error)}
    else:
        return _back(location.id, saved, notice="saved", event=event_id)
    editing = Editing(saved, form.get("name", ""), raw, event_id, errors)
    return await _refused(request, viewer, location, editing)


@router.post("/{flow_id}/builder/switch/{state}")
async def switch(
    request: Request, viewer: ViewerDep, location_id: str, flow_id: str, state: str
) -> Response:
    """Enable or disable the flow's published version."""
    location = viewer.location(location_id)
    if state not in ("on", "off"):
        raise PageNotFound
    flow = await _flow(request, location.id, flow_id)
    try:
        async with database(request).unit_of_work() as uow:
            await service.set_enabled(uow, location.id, flow.id, state == "on")
    except Conflict as error:
        raw, problems = await _stored(request, flow)
        editing = Editing(flow, flow.name, raw, errors={**problems, "": str(error)}, status=409)
        return await _page(request, viewer, location, editing)
    return _back(location.id, flow, notice="enabled" if state == "on" else "disabled")


@router.get("/{flow_id}/builder/tests/{run_id}")
async def test_result(
    request: Request, viewer: ViewerDep, location_id: str, flow_id: str, run_id: str
) -> Response:
    """A test run's steps, each with its input and output or error; drawn again every
    second by the page until the run finishes."""
    location = viewer.location(location_id)
    flow = await _flow(request, location.id, flow_id)
    async with database(request).reader() as session:
        run = await session.get(FlowRun, run_id)
        if run is None or run.flow_id != flow.id or not run.test:
            raise PageNotFound
        steps = await service.steps_of(session, run.id)
    return render_part(
        "builder_test.html",
        "test_block",
        run=run,
        steps=steps,
        finished=run.state not in DUE_STATES,
        poll_url=f"/app/l/{location.id}/flows/{flow.id}/builder/tests/{run.id}",
    )
