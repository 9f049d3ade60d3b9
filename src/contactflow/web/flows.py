"""The flows list and the template gallery (install through the flows service)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows import api as flows_api
from contactflow.flows import run_search, service
from contactflow.flows.models import Flow
from contactflow.flows.templates import FlowTemplate, find_template, shipped
from contactflow.mailsuite import senders
from contactflow.platform.api_support import format_cursor
from contactflow.platform.clock import utcnow
from contactflow.platform.errors import Conflict, NotFound, Unprocessable
from contactflow.platform.tenancy import Location
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.pages import api_docs, render
from contactflow.web.paging import cursor_position

router = APIRouter(prefix="/app/l/{location_id}", include_in_schema=False)
FLOWS_PER_PAGE = 50
LONG_TEXT = 500
# Choices offered for a parameter naming a record of the location (`x-refers`).
CHOICES_LIMIT = 200
FLOWS_DOCS = api_docs(flows_api.router, flows_api.list_flows)
TEMPLATES_DOCS = api_docs(flows_api.router, flows_api.list_templates)


@dataclass(frozen=True)
class FlowRow:
    flow: Flow
    status: str
    version: int | None
    has_draft: bool
    activity: run_search.Activity


def status_of(flow: Flow) -> str:
    if flow.published_version_id is None:
        return "draft"
    return "enabled" if flow.enabled else "disabled"


@router.get("/flows")
async def flows_page(
    request: Request, viewer: ViewerDep, location_id: str, cursor: str | None = None
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        page = await service.list_flows(
            session, location.id, before=cursor_position(cursor), limit=FLOWS_PER_PAGE
        )
        since = utcnow() - timedelta(hours=24)
        activity = await run_search.activity(
            session, location.id, [flow.id for flow in page.rows], since
        )
        rows = []
        for flow in page.rows:
            published = await service.published_of(session, flow)
            draft = await service.draft_of(session, flow.id)
            number = published.number if published is not None else None
            rows.append(
                FlowRow(flow, status_of(flow), number, draft is not None, activity[flow.id])
            )
    installed = find_template(request.query_params.get("installed", ""))
    return render(
        "flows.html",
        viewer=viewer,
        api_docs=FLOWS_DOCS,
        location=location,
        rows=rows,
        installed=installed,
        next_cursor=format_cursor(*page.next) if page.next else None,
    )


@dataclass(frozen=True)
class Field:
    name: str
    title: str
    description: str
    value: str
    integer: bool
    long: bool
    # For a parameter naming a record: (id, label) of the location's; None for free input.
    choices: list[tuple[str, str]] | None
    error: str


@dataclass(frozen=True)
class TemplateForm:
    template: FlowTemplate
    fields: list[Field]
    message: str


async def record_choices(
    session: AsyncSession, location_id: str, kind: str
) -> list[tuple[str, str]]:
    if kind == "mailsuite.sender":
        page = await senders.list_senders(session, location_id, before=None, limit=CHOICES_LIMIT)
        return [(row.id, f"{row.name} <{row.from_email}>") for row in page.rows]
    return []


async def _form(
    session: AsyncSession,
    location_id: str,
    template: FlowTemplate,
    given: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
) -> TemplateForm:
    fields = []
    for name, spec in template.parameters.get("properties", {}).items():
        kind = spec.get("x-refers")
        default = spec.get("default", "")
        fields.append(
            Field(
                name=name,
                title=spec.get("title", name),
                description=spec.get("description", ""),
                value=(given or {}).get(name, str(default)),
                integer=spec["type"] == "integer",
                long=spec.get("maxLength", 0) > LONG_TEXT,
                choices=await record_choices(session, location_id, kind) if kind else None,
                error=(errors or {}).get(name, ""),
            )
        )
    return TemplateForm(template, fields, message)


async def _gallery(
    request: Request,
    viewer: Viewer,
    location: Location,
    failed: TemplateForm | None = None,
    status: int = 200,
) -> Response:
    async with database(request).reader() as session:
        forms = [
            failed
            if failed is not None and failed.template.key == template.key
            else await _form(session, location.id, template)
            for template in shipped().values()
        ]
    return render(
        "gallery.html",
        status,
        viewer=viewer,
        location=location,
        templates=forms,
        api_docs=TEMPLATES_DOCS,
    )


@router.get("/templates")
async def gallery(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    return await _gallery(request, viewer, viewer.location(location_id))


def _parameters(
    template: FlowTemplate, form: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's values as the template's parameters, and the fields that are not numbers
    where numbers are wanted. An empty field takes the parameter's default."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, spec in template.parameters.get("properties", {}).items():
        raw = form.get(name, "").strip() if spec["type"] == "integer" else form.get(name, "")
        if raw == "":
            continue
        if spec["type"] == "integer":
            try:
                values[name] = int(raw)
            except ValueError:
                errors[name] = "must be a whole number"
        else:
            values[name] = raw
    return values, errors


def _field_errors(problems: list[str]) -> tuple[dict[str, str], list[str]]:
    """`parameters.<name>: reason` lines by field; the other lines as they are."""
    by_field: dict[str, str] = {}
    other = []
    for line in problems:
        place, _, reason = line.partition(": ")
        if place.startswith("parameters.") and reason:
            by_field[place.removeprefix("parameters.")] = reason
        else:
            other.append(line)
    return by_field, other


@router.post("/templates/{key}/install")
async def install(request: Request, viewer: ViewerDep, location_id: str, key: str) -> Response:
    location = viewer.location(location_id)
    template = find_template(key)
    if template is None:
        raise PageNotFound
    form = {name: value for name, value in (await request.form()).items() if isinstance(value, str)}
    values, errors = _parameters(template, form)
    message, status = "", 422
    if not errors:
        try:
            async with database(request).unit_of_work() as uow:
                done = await service.install_template(uow, location.id, key, values)
        except Unprocessable as error:
            lines = error.message if isinstance(error.message, list) else [error.message]
            errors, other = _field_errors(lines)
            message = "; ".join(other)
        except (Conflict, NotFound) as error:
            # Refused as a whole (a Conflict of the flows service): said above the form.
            message, status = str(error), error.status_code
        else:
            where = f"/app/l/{location.id}/flows?installed={template.key}&flows={len(done.flows)}"
            return RedirectResponse(where, status_code=303)
    async with database(request).reader() as session:
        failed = await _form(session, location.id, template, form, errors, message)
    return await _gallery(request, viewer, location, failed, status)
