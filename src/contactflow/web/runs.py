"""Runs of a location: the filtered, live list, and a run's page (its steps as a timeline)
with retry and replay through the flows service, as POST /flows/runs/{id}/retry does."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows import api as flows_api
from contactflow.flows import run_search, service
from contactflow.flows.models import DUE_STATES, Flow, FlowRun, RunState, find_flow
from contactflow.flows.run_emails import run_emails
from contactflow.flows.wire import failed_email_out, step_run_out
from contactflow.platform.api_support import format_cursor
from contactflow.platform.errors import Conflict
from contactflow.web.guard import PageNotFound, ViewerDep, database
from contactflow.web.live import live_stream, log_position
from contactflow.web.pages import api_docs, part, render
from contactflow.web.paging import LogPosition, cursor_position
from contactflow.web.refusals import MOMENT_HINT, utc_moment

router = APIRouter(prefix="/app/l/{location_id}/runs", include_in_schema=False)
RUNS_PER_PAGE = 50
FLOW_CHOICES = 200
MAX_TEXT = 200
RUNS_DOCS = api_docs(flows_api.router, flows_api.list_runs)
RUN_DOCS = api_docs(flows_api.router, flows_api.get_run)
STATES: tuple[str, ...] = get_args(RunState)


@dataclass(frozen=True)
class Filters:
    """The runs page's filters as the form holds them (the text the person typed)."""

    flow: str = ""
    state: str = ""
    since: str = ""
    until: str = ""
    q: str = ""

    @classmethod
    def of(cls, request: Request) -> "Filters":
        values = {
            name: request.query_params.get(name, "")
            for name in ("flow", "state", "since", "until", "q")
        }
        return cls(**values)

    def query(self, **extra: str) -> str:
        pairs = {**self.__dict__, **extra}
        return urlencode({name: value for name, value in pairs.items() if value})


def checked_filters(filters: Filters) -> tuple[run_search.RunFilter, dict[str, str]]:
    """The filter to search with, and a message per field that cannot be one."""
    errors: dict[str, str] = {}
    moments: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        raw = getattr(filters, name)
        moments[name] = None
        if raw:
            try:
                moments[name] = utc_moment(raw)
            except ValueError:
                errors[name] = MOMENT_HINT
    if len(filters.q) > MAX_TEXT:
        errors["q"] = f"at most {MAX_TEXT} characters"
    state = filters.state if filters.state in STATES else None
    found = run_search.RunFilter(
        flow_id=filters.flow or None,
        state=state,
        since=moments["since"],
        until=moments["until"],
        text=filters.q if "q" not in errors else None,
    )
    return found, errors


async def _rows(
    session: AsyncSession, location_id: str, found: run_search.RunFilter, cursor: str | None
) -> tuple[list[FlowRun], str | None]:
    page = await run_search.search_runs(
        session, location_id, found, before=cursor_position(cursor), limit=RUNS_PER_PAGE
    )
    return page.rows, format_cursor(*page.next) if page.next else None


async def _flows(session: AsyncSession, location_id: str) -> list[Flow]:
    page = await service.list_flows(session, location_id, before=None, limit=FLOW_CHOICES)
    return page.rows


def _rows_values(
    location_id: str, runs: list[FlowRun], flows: list[Flow], filtered: bool
) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "runs": runs,
        "flow_names": {flow.id: flow.name for flow in flows},
        "filtered": filtered,
    }


@router.get("")
async def runs_page(
    request: Request, viewer: ViewerDep, location_id: str, cursor: str | None = None
) -> Response:
    location = viewer.location(location_id)
    filters = Filters.of(request)
    found, errors = checked_filters(filters)
    db = database(request)
    after = await log_position(db, location.id)
    async with db.reader() as session:
        flows = await _flows(session, location.id)
        runs, next_cursor = (
            ([], None) if errors else await _rows(session, location.id, found, cursor)
        )
    filtered = filters != Filters()
    live = not cursor and not errors
    return render(
        "runs.html",
        422 if errors else 200,
        viewer=viewer,
        api_docs=RUNS_DOCS,
        location=location,
        flows=flows,
        states=STATES,
        filters=filters,
        errors=errors,
        next_cursor=next_cursor,
        next_url=f"/app/l/{location.id}/runs?{filters.query(cursor=next_cursor or '')}",
        live_url=f"/app/l/{location.id}/runs/live?{filters.query(after=str(after))}"
        if live
        else "",
        **_rows_values(location.id, runs, flows, filtered),
    )


@router.get("/live")
async def runs_live(
    request: Request, viewer: ViewerDep, location_id: str, after: LogPosition = 0
) -> Response:
    """The first page of the filtered runs, redrawn as the location's log moves."""
    location = viewer.location(location_id)
    filters = Filters.of(request)
    found, errors = checked_filters(filters)
    if errors:
        raise PageNotFound
    db = database(request)

    async def draw() -> str:
        async with db.reader() as session:
            flows = await _flows(session, location.id)
            runs, _ = await _rows(session, location.id, found, None)
        values = _rows_values(location.id, runs, flows, filters != Filters())
        return part("runs.html", "runs_rows", **values)

    return live_stream(request, db, viewer.signed_in.secret, location.id, after, "runs", draw)


async def _run_values(session: AsyncSession, location_id: str, run_id: str) -> dict[str, Any]:
    run = await service.find_run(session, location_id, run_id)
    flow = await find_flow(session, location_id, run.flow_id)
    steps = await service.steps_of(session, run.id)
    emails = await run_emails(session, location_id, [run.id])
    return {
        "location_id": location_id,
        "run": run,
        "steps": steps,
        # A step that queued an email shows the email as it is now, as the API does.
        "outputs": {step.step_id: step_run_out(step, emails).output for step in steps},
        "failed_emails": [
            failed_email_out(step_id, email) for step_id, email in emails.undelivered(run.id)
        ],
        "flow_name": flow.name,
    }


async def _run_page(
    request: Request,
    viewer: ViewerDep,
    location_id: str,
    run_id: str,
    message: str = "",
    status: int = 200,
) -> Response:
    location = viewer.location(location_id)
    db = database(request)
    after = await log_position(db, location.id)
    async with db.reader() as session:
        values = await _run_values(session, location.id, run_id)
    # A finished run changes only by a retry, which comes back to this page.
    due = values["run"].state in DUE_STATES
    live_url = f"/app/l/{location.id}/runs/{run_id}/live?after={after}" if due else ""
    return render(
        "run.html",
        status,
        viewer=viewer,
        api_docs=RUN_DOCS,
        location=location,
        message=message,
        live_url=live_url,
        **values,
    )


@router.get("/{run_id}")
async def run_page(request: Request, viewer: ViewerDep, location_id: str, run_id: str) -> Response:
    return await _run_page(request, viewer, location_id, run_id)


@router.get("/{run_id}/live")
async def run_live(
    request: Request, viewer: ViewerDep, location_id: str, run_id: str, after: LogPosition = 0
) -> Response:
    location = viewer.location(location_id)
    db = database(request)
    async with db.reader() as session:
        await _run_values(session, location.id, run_id)

    async def draw() -> str:
        async with db.reader() as session:
            values = await _run_values(session, location.id, run_id)
        return part("run.html", "run_body", **values)

    return live_stream(request, db, viewer.signed_in.secret, location.id, after, "run", draw)


@router.post("/{run_id}/retry")
async def retry(request: Request, viewer: ViewerDep, location_id: str, run_id: str) -> Response:
    location = viewer.location(location_id)
    try:
        async with database(request).unit_of_work() as uow:
            await service.retry(uow, location.id, run_id)
    except Conflict as error:
        return await _run_page(request, viewer, location.id, run_id, str(error), 409)
    return RedirectResponse(f"/app/l/{location.id}/runs/{run_id}", status_code=303)


@router.post("/{run_id}/replay")
async def replay(request: Request, viewer: ViewerDep, location_id: str, run_id: str) -> Response:
    location = viewer.location(location_id)
    async with database(request).unit_of_work() as uow:
        run = await service.replay(uow, location.id, run_id)
    return RedirectResponse(f"/app/l/{location.id}/runs/{run.id}", status_code=303)
