"""A run's state as the executor walks it: the parsed definitions of versions (cached, as
published versions never change), where the walk is, and the transitions of a run (released
until later, finished with its event and, on failure, its flow's error flow)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from contactflow.flows.catalog import Json, find
from contactflow.flows.connections.rate_budget import RateLimits
from contactflow.flows.definition import ActionStep, FilterStep, FlowDefinition, Step
from contactflow.flows.error_flows import start_error_flow
from contactflow.flows.models import (
    DUE_STATES,
    FAILED,
    SUCCEEDED,
    FlowRun,
    FlowVersion,
    RunState,
    StepRun,
)
from contactflow.mailsuite.tracking import Links
from contactflow.platform import events
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork, one_of
from contactflow.platform.event_types import FLOW_RUN_FAILED, FLOW_RUN_SUCCEEDED
from contactflow.platform.jobs import lease_free
from contactflow.platform.webhooks.ssrf import UrlPolicy

# Published versions never change: their parsed definitions are kept.
_definitions: dict[str, FlowDefinition] = {}


def cached_definition(version_id: str) -> FlowDefinition | None:
    return _definitions.get(version_id)


def definition_of(version: FlowVersion) -> FlowDefinition:
    found = _definitions.get(version.id)
    if found is None:
        if len(_definitions) >= 10_000:
            _definitions.clear()
        found = _definitions[version.id] = FlowDefinition.model_validate(version.definition)
    return found


@dataclass(frozen=True)
class RunSettings:
    lease: timedelta
    batch_size: int
    phone_region: str
    base_url: str
    # Runs of a claimed batch advanced at the same time (each holds a connection meanwhile).
    concurrency: int = 8
    # Where HTTP steps may go (the webhooks' policy: no private addresses unless allowed).
    url_policy: UrlPolicy = field(default_factory=lambda: UrlPolicy(allow_http=False, allowed=[]))
    # What Contacts API actions may send to each remote location of a connection.
    remote_limits: RateLimits = field(default_factory=RateLimits)


class LeaseLost(Exception):
    """Another worker took the run over (this one's lease expired): stop touching it."""


class Outcome(Enum):
    NEXT = "next"  # go on with the following step
    END = "end"  # the run is over, or released until later
    SKIP = "skip"  # this loop iteration is over (a filter or de-duplicate stopped it)


@dataclass
class Walk:
    run_id: str
    flow_id: str
    location_id: str
    idempotency_base: str
    # Test mode: actions are simulated from their catalog samples and delays do not wait.
    test: bool
    data: dict[str, Any]
    stored: dict[str, StepRun]
    links: Links
    position: int = 0
    # The run's last top-level step when it is one transaction (an action or a filter): on
    # success that transaction also ends the run, instead of one more transaction after it.
    last: str | None = None
    finished: bool = False
    # Inside loops: the iterations' suffix of step run ids (`[1][0]` in a nested loop).
    suffix: str = ""

    def key(self, step: Step) -> str:
        """The id of the step's run in this iteration."""
        return f"{step.id}{self.suffix}"

    def stop(self) -> Outcome:
        """How a step that stops the flow here stops it: the iteration inside a loop, the
        run outside."""
        return Outcome.SKIP if self.suffix else Outcome.END


def final_step(steps: list[Step]) -> str | None:
    last = steps[-1] if steps else None
    return last.id if isinstance(last, ActionStep | FilterStep) else None


def due_conditions(now: datetime) -> list[Any]:
    return [
        one_of(FlowRun.state, DUE_STATES),
        FlowRun.next_attempt_at <= now,
        lease_free(FlowRun.lease_expires_at, now),
    ]


def release(run: FlowRun, state: RunState, at: datetime) -> None:
    run.state, run.next_attempt_at = state, at
    run.lease_owner = run.lease_expires_at = None


async def _trigger_key(uow: UnitOfWork, version_id: str) -> str | None:
    """The key of the trigger that started the version's runs: read from the cache of
    definitions, which the executor filled before walking the run."""
    definition = cached_definition(version_id)
    if definition is None:
        version = await uow.session.get(FlowVersion, version_id)
        if version is None:
            return None
        definition = definition_of(version)
    return definition.trigger.key


async def finish(
    uow: UnitOfWork,
    run: FlowRun,
    state: RunState,
    error: str | None = None,
    step_id: str | None = None,
) -> None:
    """End the run, with its FlowRunSucceeded / FlowRunFailed event (for alerting; not for
    test runs); a failed run starts its flow's error flow."""
    release(run, state, run.next_attempt_at)
    run.error, run.finished_at = error, utcnow()
    if run.test:
        return
    event_type = FLOW_RUN_SUCCEEDED if state == SUCCEEDED else FLOW_RUN_FAILED
    payload = {
        "type": event_type,
        "locationId": run.location_id,
        "flowId": run.flow_id,
        "versionId": run.version_id,
        "runId": run.id,
        "eventId": run.event_id,
        "replayOf": run.replay_of,
        "trigger": await _trigger_key(uow, run.version_id),
        "stepId": step_id,
        "error": error,
    }
    # About the run, not its flow: deliveries keep order per subject, and runs of one flow
    # have no order to keep; keyed by the flow, every run's event would wait on the last.
    event = await events.append(uow, run.location_id, event_type, payload, subject_id=run.id)
    if state == FAILED:
        await start_error_flow(uow, run, event.id, step_id)


def ends(step: Step, output: Json) -> bool:
    """Whether a done step's output ended the run: a failed filter, a duplicate, ..."""
    if isinstance(step, FilterStep):
        return not output.get("passed")
    if isinstance(step, ActionStep):
        entry = find(step.action)
        return entry is not None and entry.ends_run is not None and entry.ends_run(output)
    return False
