"""Routes of /flows: HTTP in, service call, wire model out."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows import backfill, hooks, service
from contactflow.flows.backlog import backlog
from contactflow.flows.models import Flow, FlowRun, find_flow
from contactflow.flows.run_emails import run_emails
from contactflow.flows.schemas import (
    BackfillOut,
    BackfillRequest,
    FlowCreate,
    FlowEnvelope,
    FlowList,
    FlowTest,
    FlowUpdate,
    InstalledFlows,
    RunBacklog,
    RunDetail,
    RunList,
    TemplateInstall,
    TemplateList,
    TemplateOut,
)
from contactflow.flows.templates import shipped
from contactflow.flows.wire import flow_out, run_out, step_run_out
from contactflow.mailsuite.api_common import CursorQuery, Limit, next_cursor, position
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, SettingsDep
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import FLOWS_READ, FLOWS_WRITE
from contactflow.platform.clock import to_iso, utcnow

router = APIRouter(prefix="/flows", tags=["Flows"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, requires(FLOWS_READ)]
Writer = Annotated[Principal, requires(FLOWS_WRITE)]
FlowId = Annotated[str, Path(alias="flowId", min_length=1, max_length=64)]
RunId = Annotated[str, Path(alias="runId", min_length=1, max_length=64)]
TemplateKey = Annotated[str, Path(alias="templateKey", min_length=1, max_length=64)]


async def _envelope(session: AsyncSession, flow: Flow) -> FlowEnvelope:
    draft = await service.draft_of(session, flow.id)
    published = await service.published_of(session, flow)
    return FlowEnvelope(flow=flow_out(flow, draft, published))


async def _detail(session: AsyncSession, run: FlowRun) -> RunDetail:
    steps = await service.steps_of(session, run.id)
    emails = await run_emails(session, run.location_id, [run.id])
    return RunDetail(run=run_out(run, emails), steps=[step_run_out(row, emails) for row in steps])


@router.post("", status_code=201, response_model=FlowEnvelope, summary="Create a flow (a draft)")
async def create_flow(body: FlowCreate, caller: Writer, db: DatabaseDep) -> FlowEnvelope:
    async with db.unit_of_work() as uow:
        flow = await service.create_flow(uow, caller.location_id, body.name, body.definition)
        return await _envelope(uow.session, flow)


@router.get("", response_model=FlowList, summary="List flows, newest first")
async def list_flows(
    caller: Reader, db: DatabaseDep, limit: Limit = 20, cursor: CursorQuery = None
) -> FlowList:
    async with db.reader() as session:
        page = await service.list_flows(
            session, caller.location_id, before=position(cursor), limit=limit
        )
        flows = [(await _envelope(session, row)).flow for row in page.rows]
        return FlowList(flows=flows, next_cursor=next_cursor(page))


@router.get("/runs/{runId}", response_model=RunDetail, summary="A run with its steps")
async def get_run(run_id: RunId, caller: Reader, db: DatabaseDep) -> RunDetail:
    async with db.reader() as session:
        return await _detail(session, await service.find_run(session, caller.location_id, run_id))


@router.post(
    "/runs/{runId}/replay",
    status_code=201,
    response_model=RunDetail,
    summary="Run the same version again on the same trigger data",
)
async def replay_run(run_id: RunId, caller: Writer, db: DatabaseDep) -> RunDetail:
    async with db.unit_of_work() as uow:
        run = await service.replay(uow, caller.location_id, run_id)
        return await _detail(uow.session, run)


@router.post(
    "/runs/{runId}/retry",
    response_model=RunDetail,
    summary="Resume a failed run at the step that failed it; earlier steps are not redone",
)
async def retry_run(run_id: RunId, caller: Writer, db: DatabaseDep) -> RunDetail:
    async with db.unit_of_work() as uow:
        run = await service.retry(uow, caller.location_id, run_id)
        return await _detail(uow.session, run)


@router.get(
    "/backlog",
    response_model=RunBacklog,
    summary="Runs waiting to run across the installation, and the lag of the oldest",
)
async def run_backlog(caller: Reader, db: DatabaseDep, settings: SettingsDep) -> RunBacklog:
    now = utcnow()
    async with db.reader() as session:
        found = await backlog(session, now)
    return RunBacklog(
        runs=found.runs,
        oldest_due_at=to_iso(found.oldest_due_at),
        lag_seconds=round(found.lag_seconds(now), 3),
        limit=settings.flow_backlog_limit,
    )


@router.get("/templates", response_model=TemplateList, summary="The shipped flow templates")
async def list_templates(caller: Reader) -> TemplateList:
    return TemplateList(
        templates=[TemplateOut.model_validate(t.describe()) for t in shipped().values()]
    )


@router.post(
    "/templates/{templateKey}/install",
    status_code=201,
    response_model=InstalledFlows,
    responses={200: {"model": InstalledFlows, "description": "Replaced the flows in place"}},
    summary="Create, publish and enable a template's flows from its parameters",
)
async def install_template(
    key: TemplateKey,
    caller: Writer,
    db: DatabaseDep,
    response: Response,
    body: TemplateInstall | None = None,
    replace: Annotated[
        bool,
        Query(description="Update the flows of a template installed already (200), not 409"),
    ] = False,
) -> InstalledFlows:
    given = (body or TemplateInstall()).parameters
    async with db.unit_of_work() as uow:
        done = await service.install_template(uow, caller.location_id, key, given, replace=replace)
        if done.replaced:
            response.status_code = 200
        flows = [(await _envelope(uow.session, row)).flow for row in done.flows]
        return InstalledFlows(flows=flows)


@router.get("/{flowId}", response_model=FlowEnvelope, summary="Get a flow")
async def get_flow(flow_id: FlowId, caller: Reader, db: DatabaseDep) -> FlowEnvelope:
    async with db.reader() as session:
        flow = await find_flow(session, caller.location_id, flow_id)
        return await _envelope(session, flow)


@router.put(
    "/{flowId}",
    response_model=FlowEnvelope,
    summary="Rename a flow, change its draft or name its error flow",
)
async def update_flow(
    flow_id: FlowId, body: FlowUpdate, caller: Writer, db: DatabaseDep
) -> FlowEnvelope:
    async with db.unit_of_work() as uow:
        error_flow = (
            service.ErrorFlowChange(body.error_flow_id)
            if "error_flow_id" in body.model_fields_set
            else None
        )
        flow = await service.update_flow(
            uow,
            caller.location_id,
            flow_id,
            name=body.name,
            definition=body.definition,
            error_flow=error_flow,
        )
        return await _envelope(uow.session, flow)


@router.delete("/{flowId}", status_code=204, summary="Delete a flow, its versions and runs")
async def delete_flow(flow_id: FlowId, caller: Writer, db: DatabaseDep) -> Response:
    async with db.unit_of_work() as uow:
        await service.delete_flow(uow, caller.location_id, flow_id)
    return Response(status_code=204)


@router.post(
    "/{flowId}/publish",
    response_model=FlowEnvelope,
    summary="Check the draft against the catalog and make it the version that runs",
)
async def publish_flow(flow_id: FlowId, caller: Writer, db: DatabaseDep) -> FlowEnvelope:
    async with db.unit_of_work() as uow:
        flow = await service.publish(uow, caller.location_id, flow_id)
        return await _envelope(uow.session, flow)


@router.post("/{flowId}/enable", response_model=FlowEnvelope, summary="Run on events from now on")
async def enable_flow(flow_id: FlowId, caller: Writer, db: DatabaseDep) -> FlowEnvelope:
    async with db.unit_of_work() as uow:
        flow = await service.set_enabled(uow, caller.location_id, flow_id, True)
        return await _envelope(uow.session, flow)


@router.post("/{flowId}/disable", response_model=FlowEnvelope, summary="Stop acting on events")
async def disable_flow(flow_id: FlowId, caller: Writer, db: DatabaseDep) -> FlowEnvelope:
    async with db.unit_of_work() as uow:
        flow = await service.set_enabled(uow, caller.location_id, flow_id, False)
        return await _envelope(uow.session, flow)


@router.post(
    "/{flowId}/test",
    status_code=201,
    response_model=RunDetail,
    summary="Test the draft: a run whose actions are simulated from their samples",
)
async def start_test(
    flow_id: FlowId, caller: Writer, db: DatabaseDep, body: FlowTest | None = None
) -> RunDetail:
    given = body or FlowTest()
    async with db.unit_of_work() as uow:
        run = await service.start_test(
            uow, caller.location_id, flow_id, event_id=given.event_id, payload=given.trigger
        )
        return await _detail(uow.session, run)


@router.get("/{flowId}/runs", response_model=RunList, summary="A flow's runs, newest first")
async def list_runs(
    flow_id: FlowId,
    caller: Reader,
    db: DatabaseDep,
    limit: Limit = 20,
    cursor: CursorQuery = None,
) -> RunList:
    async with db.reader() as session:
        page = await service.list_runs(
            session, caller.location_id, flow_id, before=position(cursor), limit=limit
        )
        emails = await run_emails(session, caller.location_id, [row.id for row in page.rows])
        return RunList(
            runs=[run_out(row, emails) for row in page.rows], next_cursor=next_cursor(page)
        )


@router.post(
    "/{flowId}/backfill",
    response_model=BackfillOut,
    summary="Run the published version over past events of its trigger, once per event",
)
async def backfill_flow(
    flow_id: FlowId, body: BackfillRequest, caller: Writer, db: DatabaseDep
) -> BackfillOut:
    async with db.unit_of_work() as uow:
        result = await backfill.backfill(uow, caller.location_id, flow_id, body.from_, body.to)
    return BackfillOut(
        queued=result.queued,
        already_run=result.already_run,
        not_matching=result.not_matching,
        left_to_trigger=result.left_to_trigger,
    )


@router.post(
    "/{flowId}/run",
    status_code=201,
    response_model=RunDetail,
    summary="Run a flow with the manual trigger on the given JSON object",
)
async def run_flow(
    flow_id: FlowId,
    caller: Writer,
    db: DatabaseDep,
    data: Annotated[dict[str, Any], Body(description="The run's trigger data.")],
) -> RunDetail:
    async with db.unit_of_work() as uow:
        run = await service.run_manually(uow, caller.location_id, flow_id, data)
        return await _detail(uow.session, run)


@router.post(
    "/{flowId}/hook-token",
    response_model=FlowEnvelope,
    summary="Give the flow's hook URL a new token (the old URL stops working)",
)
async def regenerate_hook_token(flow_id: FlowId, caller: Writer, db: DatabaseDep) -> FlowEnvelope:
    async with db.unit_of_work() as uow:
        flow = await hooks.regenerate_token(uow, caller.location_id, flow_id)
        return await _envelope(uow.session, flow)
