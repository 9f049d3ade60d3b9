"""A flow's overview: its status with enable and disable, its runs, and its version history
with what changed from each version to the next, each exportable as YAML (the same file as
`contactflow flows export`)."""

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from contactflow.flows import api as flows_api
from contactflow.flows import service
from contactflow.flows.definition import export
from contactflow.flows.models import Flow, FlowVersion, find_flow
from contactflow.flows.version_diff import Change, changes
from contactflow.platform.errors import Conflict
from contactflow.web.flows import status_of
from contactflow.web.guard import PageNotFound, ViewerDep, database
from contactflow.web.pages import PAGE_HEADERS, api_docs, render

router = APIRouter(prefix="/app/l/{location_id}/flows/{flow_id}", include_in_schema=False)
FLOW_DOCS = api_docs(flows_api.router, flows_api.get_flow)
DRAFT = "draft"


@dataclass(frozen=True)
class VersionRow:
    version: FlowVersion
    # Its changes from the version before it (for the draft: from the running version).
    changes: list[Change]
    running: bool


async def _flow(request: Request, location_id: str, flow_id: str) -> tuple[Flow, list[FlowVersion]]:
    async with database(request).reader() as session:
        flow = await find_flow(session, location_id, flow_id)
        versions = await session.scalars(
            select(FlowVersion)
            .where(FlowVersion.flow_id == flow.id)
            .order_by(FlowVersion.number.is_(None), FlowVersion.number)
        )
        return flow, list(versions)


def _history(flow: Flow, versions: list[FlowVersion]) -> list[VersionRow]:
    """Newest first: the draft, then the published versions."""
    rows = []
    previous: FlowVersion | None = None
    for version in versions:
        base = previous
        if version.status == DRAFT:
            base = next((v for v in versions if v.id == flow.published_version_id), None)
        found = changes(base.definition if base is not None else None, version.definition)
        rows.append(VersionRow(version, found, version.id == flow.published_version_id))
        if version.status != DRAFT:
            previous = version
    return rows[::-1]


async def _page(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    flow_id: str,
    message: str = "",
    status: int = 200,
) -> Response:
    location = viewer.location(location_id)
    flow, versions = await _flow(request, location.id, flow_id)
    return render(
        "flow.html",
        status,
        viewer=viewer,
        location=location,
        api_docs=FLOW_DOCS,
        flow=flow,
        status_text=status_of(flow),
        history=_history(flow, versions),
        message=message,
    )


@router.get("")
async def flow_page(
    request: Request, viewer: ViewerDep, location_id: str, flow_id: str
) -> Response:
    return await _page(request, viewer, location_id, flow_id)


@router.get("/export.yaml")
async def export_yaml(
    request: Request, viewer: ViewerDep, location_id: str, flow_id: str, version: str = ""
) -> Response:
    """A version as YAML (by number, or `draft`; the running one when none is named)."""
    location = viewer.location(location_id)
    flow, versions = await _flow(request, location.id, flow_id)
    chosen = next(
        (
            row
            for row in versions
            if (str(row.number) == version or (version == DRAFT and row.status == DRAFT))
            or (not version and row.id == flow.published_version_id)
        ),
        None,
    )
    if chosen is None:
        raise PageNotFound
    name = f"{flow.id}-{chosen.number or DRAFT}.yaml"
    headers = {**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    text = export(chosen.definition, "yaml", flow.error_flow_id)
    return Response(text, media_type="application/yaml", headers=headers)


async def _set_enabled(
    request: Request, viewer: ViewerDep, location_id: str, flow_id: str, enabled: bool
) -> Response:
    location = viewer.location(location_id)
    try:
        async with database(request).unit_of_work() as uow:
            await service.set_enabled(uow, location.id, flow_id, enabled)
    except Conflict as error:
        return await _page(request, viewer, location.id, flow_id, str(error), 409)
    return RedirectResponse(f"/app/l/{location.id}/flows/{flow_id}", status_code=303)


@router.post("/enable")
async def enable(request: Request, viewer: ViewerDep, location_id: str, flow_id: str) -> Response:
    return await _set_enabled(request, viewer, location_id, flow_id, True)


@router.post("/disable")
async def disable(request: Request, viewer: ViewerDep, location_id: str, flow_id: str) -> Response:
    return await _set_enabled(request, viewer, location_id, flow_id, False)
