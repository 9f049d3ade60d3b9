"""The emails a run's steps queued, as they are now.

A step that queues an email succeeds once the email is queued; the workers send it, or fail
it, later. A run is therefore read with each such step's output being its email as it is
now (status, error, sentAt...), and with the emails that failed or bounced listed on the run
with the reason: a run that succeeded says when its email did not get through, and a resent
email that got through leaves the list. The steps after it read the email as it was when
they ran.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows.catalog.mailsuite_email import EMAIL_ACTIONS
from contactflow.flows.models import SUCCEEDED, StepRun
from contactflow.mailsuite.emails import find_emails
from contactflow.mailsuite.models import BOUNCED, FAILED, Email

UNDELIVERED = (FAILED, BOUNCED)


@dataclass(frozen=True)
class RunEmails:
    """Of some runs: the email of each of their steps that queued or cancelled one, as it is
    now, by (run id, step id), in the order the steps ran."""

    by_step: dict[tuple[str, str], Email]

    def of_step(self, step: StepRun) -> Email | None:
        return self.by_step.get((step.run_id, step.step_id))

    def undelivered(self, run_id: str) -> list[tuple[str, Email]]:
        """The run's emails that failed or bounced, each once, with the step that queued it."""
        found: dict[str, tuple[str, Email]] = {}
        for (owner, step_id), email in self.by_step.items():
            if owner == run_id and email.status in UNDELIVERED:
                found.setdefault(email.id, (step_id, email))
        return list(found.values())


async def run_emails(session: AsyncSession, location_id: str, run_ids: Sequence[str]) -> RunEmails:
    rows = await session.execute(
        select(StepRun.run_id, StepRun.step_id, StepRun.output)
        .where(
            StepRun.run_id.in_(run_ids),
            StepRun.action.in_(EMAIL_ACTIONS),
            StepRun.state == SUCCEEDED,
        )
        .order_by(StepRun.run_id, StepRun.position)
    )
    queued = {
        (run_id, step_id): output["id"]
        for run_id, step_id, output in rows
        if isinstance(output, dict) and isinstance(output.get("id"), str)
    }
    emails = await find_emails(session, location_id, queued.values())
    return RunEmails(
        {key: emails[email_id] for key, email_id in queued.items() if email_id in emails}
    )
