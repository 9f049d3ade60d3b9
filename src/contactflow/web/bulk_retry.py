"""Bulk retry from the runs list: start a job for the list's filter, follow its progress bar
(htmx polls the job's row while it runs), cancel it."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contactflow.flows import bulk_retry, bulk_retry_api
from contactflow.flows.bulk_retry import BulkRetry
from contactflow.flows.models import find_flow
from contactflow.platform.clock import to_iso
from contactflow.platform.errors import Conflict, NotFound, Unprocessable
from contactflow.web.guard import ViewerDep, database
from contactflow.web.pages import api_docs, render, render_part
from contactflow.web.refusals import form_texts
from contactflow.web.runs import Filters, checked_filters

router = APIRouter(prefix="/app/l/{location_id}/bulk-retries", include_in_schema=False)
BULK_RETRY_DOCS = api_docs(bulk_retry_api.router, bulk_retry_api.get_bulk_retry)


def _runs_link(job: BulkRetry) -> str:
    """The runs list with the job's filter."""
    since, until = (
        to_iso(moment)[:16] if moment is not None else "" for moment in (job.since, job.until)
    )
    query = Filters(flow=job.flow_id or "", since=since, until=until, q=job.text or "").query()
    return f"/app/l/{job.location_id}/runs" + (f"?{query}" if query else "")


def _values(job: BulkRetry) -> dict[str, Any]:
    done = job.state != bulk_retry.RUNNING
    percent = 100 if done or job.total == 0 else min(100, job.retried * 100 // job.total)
    return {
        "job": job,
        "percent": percent,
        "progress_url": f"/app/l/{job.location_id}/bulk-retries/{job.id}/progress",
    }


async def _find(request: Request, location_id: str, job_id: str) -> BulkRetry:
    async with database(request).reader() as session:
        return await bulk_retry.find_job(session, location_id, job_id)


@router.post("")
async def start(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    filters = Filters(**form_texts(await request.form(), ("flow", "since", "until", "q")))
    found, errors = checked_filters(filters)
    problem = "; ".join(f"{name}: {reason}" for name, reason in errors.items())
    if not problem:
        try:
            async with database(request).unit_of_work() as uow:
                job = await bulk_retry.start(uow, location.id, found)
        except Conflict as error:
            running = (error.meta or {}).get("bulkRetryId")
            if running:
                where = f"/app/l/{location.id}/bulk-retries/{running}?already=1"
                return RedirectResponse(where, status_code=303)
            problem = str(error)
        except Unprocessable as error:
            problem = "; ".join(
                error.message if isinstance(error.message, list) else [error.message]
            )
        else:
            return RedirectResponse(f"/app/l/{location.id}/bulk-retries/{job.id}", status_code=303)
    return render(
        "problem.html",
        422,
        viewer=viewer,
        location=location,
        title="Bulk retry refused",
        text=problem,
    )


@router.get("/{job_id}")
async def job_page(request: Request, viewer: ViewerDep, location_id: str, job_id: str) -> Response:
    location = viewer.location(location_id)
    job = await _find(request, location.id, job_id)
    flow_name = None
    if job.flow_id:
        async with database(request).reader() as session:
            try:
                flow_name = (await find_flow(session, location.id, job.flow_id)).name
            except NotFound:
                flow_name = job.flow_id
    return render(
        "bulk_retry.html",
        viewer=viewer,
        location=location,
        api_docs=BULK_RETRY_DOCS,
        already=request.query_params.get("already") == "1",
        flow_name=flow_name,
        runs_link=_runs_link(job),
        **_values(job),
    )


@router.get("/{job_id}/progress")
async def progress(request: Request, viewer: ViewerDep, location_id: str, job_id: str) -> Response:
    """The progress block alone: while the job runs, it asks for itself again each second."""
    location = viewer.location(location_id)
    job = await _find(request, location.id, job_id)
    return render_part("bulk_retry.html", "progress", **_values(job))


@router.post("/{job_id}/cancel")
async def cancel(request: Request, viewer: ViewerDep, location_id: str, job_id: str) -> Response:
    location = viewer.location(location_id)
    async with database(request).unit_of_work() as uow:
        await bulk_retry.cancel(uow, location.id, job_id)
    return RedirectResponse(f"/app/l/{location.id}/bulk-retries/{job_id}", status_code=303)
