"""Error flows: a flow may name another flow of its location, whose trigger is core.error, to
run when one of its runs fails for good.

The error flow's run is queued in the transaction that fails the run, with the run's
FlowRunFailed event as its event: both commit or neither does, and (version, event) being
unique among runs, one failure starts the error flow once. A run of an error flow (its
trigger core.error) that fails starts no error flow, so error flows never loop.
"""

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows.catalog.core import ERROR_TRIGGER
from contactflow.flows.models import Flow, FlowRun, FlowVersion, queued_run
from contactflow.platform import topics
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import invalid

FIELD = "errorFlowId"


def _trigger_key(version: FlowVersion | None) -> str | None:
    if version is None:
        return None
    trigger = version.definition.get("trigger")
    return trigger.get("key") if isinstance(trigger, dict) else None


async def _error_flow_version(session: AsyncSession, flow: Flow) -> FlowVersion | None:
    """The running version of the flow's error flow, when it has one that can run."""
    if flow.error_flow_id is None:
        return None
    target = await session.get(Flow, flow.error_flow_id)
    if target is None or target.location_id != flow.location_id or not target.enabled:
        return None
    if target.published_version_id is None:
        return None
    version = await session.get(FlowVersion, target.published_version_id)
    return version if _trigger_key(version) == ERROR_TRIGGER else None


async def start_error_flow(
    uow: UnitOfWork, run: FlowRun, failed_event_id: str, step_id: str | None
) -> FlowRun | None:
    """Queue the error flow's run for `run`, which has just failed for good (its
    FlowRunFailed event is `failed_event_id`); None when there is no error flow to run."""
    if run.test:
        return None
    failed_version = await uow.session.get(FlowVersion, run.version_id)
    if _trigger_key(failed_version) == ERROR_TRIGGER:
        return None
    flow = await uow.session.get(Flow, run.flow_id)
    if flow is None:
        return None
    version = await _error_flow_version(uow.session, flow)
    if version is None:
        return None
    payload: dict[str, Any] = {
        "type": ERROR_TRIGGER,
        "locationId": run.location_id,
        "flowId": flow.id,
        "flowName": flow.name,
        "versionId": run.version_id,
        "runId": run.id,
        "stepId": step_id,
        "error": run.error,
        "input": run.input,
        "timestamp": to_iso(utcnow()),
    }
    error_run = queued_run(version, payload, event_id=failed_event_id)
    uow.session.add(error_run)
    uow.wake(topics.FLOW_RUNS)
    return error_run


async def set_error_flow(uow: UnitOfWork, flow: Flow, error_flow_id: str | None) -> None:
    """Name the flow's error flow (None: no error flow): another flow of the location whose
    trigger (published, or else its draft's) is core.error."""
    if error_flow_id is not None:
        if error_flow_id == flow.id:
            raise invalid(FIELD, "a flow cannot be its own error flow")
        target = await uow.session.get(Flow, error_flow_id)
        if target is None or target.location_id != flow.location_id:
            raise invalid(FIELD, "no such flow in this location")
        version = await _version_of(uow.session, target)
        if _trigger_key(version) != ERROR_TRIGGER:
            raise invalid(FIELD, f"an error flow's trigger is {ERROR_TRIGGER}")
    flow.error_flow_id, flow.updated_at = error_flow_id, utcnow()


async def _version_of(session: AsyncSession, flow: Flow) -> FlowVersion | None:
    if flow.published_version_id is not None:
        return await session.get(FlowVersion, flow.published_version_id)
    return await session.scalar(
        select(FlowVersion).where(FlowVersion.flow_id == flow.id, FlowVersion.status == "draft")
    )


async def forget_error_flow(uow: UnitOfWork, flow_id: str) -> None:
    """Flows naming `flow_id` (being deleted) as their error flow have none any more."""
    await uow.session.execute(
        update(Flow).where(Flow.error_flow_id == flow_id).values(error_flow_id=None)
    )
