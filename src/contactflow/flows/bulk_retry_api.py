"""Routes of /flows/runs/bulk-retry: start a bulk retry of the failed runs matching a filter,
follow it, cancel it."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import StringConstraints

from contactflow.flows import bulk_retry
from contactflow.flows.bulk_retry import BulkRetry, JobState
from contactflow.flows.run_search import RunFilter
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import FLOWS_READ, FLOWS_WRITE
from contactflow.platform.clock import to_iso
from contactflow.platform.wire import RequestModel, WireModel

router = APIRouter(prefix="/flows/runs/bulk-retry", tags=["Flows"], responses=ERROR_RESPONSES)
JobId = Annotated[str, Path(alias="bulkRetryId", min_length=1, max_length=64)]
Reader = Annotated[Principal, requires(FLOWS_READ)]
Writer = Annotated[Principal, requires(FLOWS_WRITE)]


class BulkRetryRequest(RequestModel):
    """The runs list's filter: a flow, runs created from `since` (included) until `until`
    (excluded), trigger data containing `query`. Only failed runs are retried."""

    flow_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    since: datetime | None = None
    until: datetime | None = None
    query: Annotated[str, StringConstraints(max_length=bulk_retry.MAX_TEXT)] | None = None


class BulkRetryOut(WireModel):
    id: str
    state: JobState
    flow_id: str | None
    since: str | None
    until: str | None
    query: str | None
    # Failed runs that matched when it started; runs retried so far.
    total: int
    retried: int
    created_at: str
    finished_at: str | None


class BulkRetryEnvelope(WireModel):
    bulk_retry: BulkRetryOut


def _envelope(job: BulkRetry) -> BulkRetryEnvelope:
    return BulkRetryEnvelope(
        bulk_retry=BulkRetryOut(
            id=job.id,
            state=job.state,
            flow_id=job.flow_id,
            since=to_iso(job.since),
            until=to_iso(job.until),
            query=job.text,
            total=job.total,
            retried=job.retried,
            created_at=to_iso(job.created_at),
            finished_at=to_iso(job.finished_at),
        )
    )


@router.post(
    "",
    status_code=201,
    response_model=BulkRetryEnvelope,
    summary="Retry every failed run matching a filter, in batches (409 while one runs for it)",
)
async def start_bulk_retry(
    body: BulkRetryRequest, caller: Writer, db: DatabaseDep
) -> BulkRetryEnvelope:
    found = RunFilter(body.flow_id, None, body.since, body.until, body.query or None)
    async with db.unit_of_work() as uow:
        job = await bulk_retry.start(uow, caller.location_id, found)
        return _envelope(job)


@router.get("/{bulkRetryId}", response_model=BulkRetryEnvelope, summary="A bulk retry's progress")
async def get_bulk_retry(job_id: JobId, caller: Reader, db: DatabaseDep) -> BulkRetryEnvelope:
    async with db.reader() as session:
        return _envelope(await bulk_retry.find_job(session, caller.location_id, job_id))


@router.delete(
    "/{bulkRetryId}",
    response_model=BulkRetryEnvelope,
    summary="Cancel a bulk retry after its current batch (runs retried stay retried)",
)
async def cancel_bulk_retry(job_id: JobId, caller: Writer, db: DatabaseDep) -> BulkRetryEnvelope:
    async with db.unit_of_work() as uow:
        return _envelope(await bulk_retry.cancel(uow, caller.location_id, job_id))
