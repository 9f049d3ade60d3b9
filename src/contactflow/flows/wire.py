"""Rows -> wire models of /flows."""

from contactflow.flows.catalog.registry import dumped
from contactflow.flows.definition import hidden
from contactflow.flows.models import Flow, FlowRun, FlowVersion, StepRun, hook_path
from contactflow.flows.run_emails import RunEmails
from contactflow.flows.schemas import (
    FailedEmailOut,
    FlowOut,
    RunOut,
    StepRunOut,
    TemplateOrigin,
    VersionOut,
)
from contactflow.mailsuite.models import FAILED, Email
from contactflow.mailsuite.wire import email_out
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


def failed_email_out(step_id: str, email: Email) -> FailedEmailOut:
    failed = email.status == FAILED
    return FailedEmailOut(
        step_id=step_id,
        email_id=email.id,
        to=email.to_email,
        status="failed" if failed else "bounced",
        reason=email.error if failed else email.bounce_reason,
        at=to_iso(email.finished_at if failed else email.bounced_at),
    )


def run_out(row: FlowRun, emails: RunEmails) -> RunOut:
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
        failed_emails=[
            failed_email_out(step_id, email) for step_id, email in emails.undelivered(row.id)
        ],
        created_at=to_iso(row.created_at),
        started_at=to_iso(row.started_at),
        finished_at=to_iso(row.finished_at),
    )


def step_run_out(row: StepRun, emails: RunEmails) -> StepRunOut:
    """The step's record; a step that queued an email has the email as it is now as output."""
    email = emails.of_step(row)
    return StepRunOut(
        step_id=row.step_id,
        action=row.action,
        state=row.state,
        input=row.input,
        output=row.output if email is None else dumped(email_out(email)),
        error=row.error,
        attempts=row.attempts,
        resume_at=to_iso(row.resume_at),
        started_at=to_iso(row.started_at),
        finished_at=to_iso(row.finished_at),
    )
