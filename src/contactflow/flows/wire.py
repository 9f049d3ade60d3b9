"""Rows -> wire models of /flows."""

from contactflow.flows.definition import hidden
from contactflow.flows.models import Flow, FlowRun, FlowVersion, StepRun, hook_path
from contactflow.flows.schemas import FlowOut, RunOut, StepRunOut, TemplateOrigin, VersionOut
from contactflow.platform.clock import to_iso


def version_out(row: FlowVersion | None) -> VersionOut | None:
    if row is None:
        return None
    return VersionOut(
        id=row.id,
        number=row.number,
        status=row.status,
        definition=hidden(row.definition),
        updated_at=to_iso(row.updated_at),
        published_at=to_iso(row.published_at),
    )


def flow_out(row: Flow, draft: FlowVersion | None, published: FlowVersion | None) -> FlowOut:
    return FlowOut(
        id=row.id,
        name=row.name,
        enabled=row.enabled,
        error_flow_id=row.error_flow_id,
        template=(
            TemplateOrigin(key=row.template_key, flow=row.template_flow)
            if row.template_key is not None and row.template_flow is not None
            else None
        ),
        draft=version_out(draft),
        published=version_out(published),
        hook_path=hook_path(row),
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


def run_out(row: FlowRun) -> RunOut:
    waiting = row.state in ("queued", "waiting")
    return RunOut(
        id=row.id,
        flow_id=row.flow_id,
        version_id=row.version_id,
        event_id=row.event_id,
        replay_of=row.replay_of,
        state=row.state,
        input=row.input,
        attempts=row.attempts,
        next_attempt_at=to_iso(row.next_attempt_at) if waiting else None,
        error=row.error,
        test=row.test,
        created_at=to_iso(row.created_at),
        started_at=to_iso(row.started_at),
        finished_at=to_iso(row.finished_at),
    )


def step_run_out(row: StepRun) -> StepRunOut:
    return StepRunOut(
        step_id=row.step_id,
        action=row.action,
        state=row.state,
        input=row.input,
        output=row.output,
        error=row.error,
        attempts=row.attempts,
        resume_at=to_iso(row.resume_at),
        started_at=to_iso(row.started_at),
        finished_at=to_iso(row.finished_at),
    )
