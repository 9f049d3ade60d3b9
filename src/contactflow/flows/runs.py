"""Executing runs: claim due runs with leases, perform their steps in order, record each.

A run is a work item (platform/jobs.py). Each step is one transaction in which the step's
effect and its step run are written together, so a stored success means the effect happened
and no stored success means it did not: a run taken over after a crash (its lease expired)
walks its steps again and performs only those without a stored success. Actions also get an
idempotency key (event id + step id) for what they record elsewhere.

A delay stores its step run as `waiting` and releases the run until the time comes; a failed
action is retried on its policy's backoff by releasing the run until the next attempt, then
stops the run or lets it continue.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import select

from contactflow.flows.catalog import ActionContext, find
from contactflow.flows.conditions import holds
from contactflow.flows.definition import (
    ActionStep,
    DelayStep,
    FilterStep,
    FlowDefinition,
    PathsStep,
    Step,
)
from contactflow.flows.error_flows import start_error_flow
from contactflow.flows.mapping import map_input, parse_date, render
from contactflow.flows.models import (
    DUE_STATES,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    WAITING,
    FlowRun,
    FlowVersion,
    RunState,
    StepRun,
    flow_origin,
)
from contactflow.mailsuite.tracking import Links, tracking_key
from contactflow.platform import events
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import Database, UnitOfWork
from contactflow.platform.errors import DomainError
from contactflow.platform.event_types import FLOW_RUN_FAILED, FLOW_RUN_SUCCEEDED
from contactflow.platform.jobs import claim, lease_free

log = logging.getLogger("contactflow.flows")
# Published versions never change: their parsed definitions are kept.
_definitions: dict[str, FlowDefinition] = {}


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


class LeaseLost(Exception):
    """Another worker took the run over (this one's lease expired): stop touching it."""


class Outcome(Enum):
    NEXT = "next"  # go on with the following step
    END = "end"  # the run is over, or released until later


@dataclass
class _Walk:
    run_id: str
    idempotency_base: str
    # Test mode: actions are simulated from their catalog samples and delays do not wait.
    test: bool
    data: dict[str, Any]
    stored: dict[str, StepRun]
    links: Links
    position: int = 0


def _due(now: datetime) -> list[Any]:
    return [
        FlowRun.state.in_(DUE_STATES),
        FlowRun.next_attempt_at <= now,
        lease_free(FlowRun.lease_expires_at, now),
    ]


def _release(run: FlowRun, state: RunState, at: datetime) -> None:
    run.state, run.next_attempt_at = state, at
    run.lease_owner = run.lease_expires_at = None


async def _finish(
    uow: UnitOfWork,
    run: FlowRun,
    state: RunState,
    error: str | None = None,
    step_id: str | None = None,
) -> None:
    """End the run, with its FlowRunSucceeded / FlowRunFailed event (for alerting; not for
    test runs); a failed run starts its flow's error flow."""
    _release(run, state, run.next_attempt_at)
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
        "error": error,
    }
    event = await events.append(uow, run.location_id, event_type, payload, subject_id=run.flow_id)
    if state == FAILED:
        await start_error_flow(uow, run, event.id, step_id)


class RunExecutor:
    """One run loop: `step` claims a batch of due runs and advances each as far as it goes."""

    def __init__(self, db: Database, settings: RunSettings, owner: str) -> None:
        self.db = db
        self.settings = settings
        self.owner = owner

    async def step(self) -> bool:
        return await self.run_once() > 0

    async def run_once(self) -> int:
        """One round: claim due runs and advance each; how many it claimed."""
        claimed = await self.claim_due()
        links = Links(self.settings.base_url, await tracking_key(self.db))
        for run_id in claimed:
            try:
                await self.advance(run_id, links)
            except LeaseLost:
                log.warning("run %s was taken over by another worker", run_id)
        return len(claimed)

    async def claim_due(self) -> list[str]:
        """Lease a batch of due runs (queued, waiting until now, or abandoned by a worker
        whose lease expired) and mark them running."""
        async with self.db.reader() as session:
            if await session.scalar(select(FlowRun.id).where(*_due(utcnow())).limit(1)) is None:
                return []
        async with self.db.unit_of_work() as uow:
            now = utcnow()
            runs: list[FlowRun] = await claim(
                uow,
                select(FlowRun)
                .where(*_due(now))
                .order_by(FlowRun.next_attempt_at, FlowRun.id)
                .limit(self.settings.batch_size),
                owner=self.owner,
                lease=self.settings.lease,
            )
            for run in runs:
                run.state, run.attempts, run.updated_at = RUNNING, run.attempts + 1, now
                run.started_at = run.started_at or now
            return [run.id for run in runs]

    async def advance(self, run_id: str, links: Links) -> None:
        async with self.db.reader() as session:
            run = await session.get(FlowRun, run_id)
            version = await session.get(FlowVersion, run.version_id) if run else None
            stored = await session.scalars(select(StepRun).where(StepRun.run_id == run_id))
            by_step = {row.step_id: row for row in stored}
        if run is None or version is None:
            return
        definition = definition_of(version)
        walk = _Walk(
            run_id=run_id,
            idempotency_base=run.event_id or run.id,
            test=run.test,
            data={"trigger": run.input, "steps": {}},
            stored=by_step,
            links=links,
            position=len(by_step),
        )
        if await self._steps(walk, definition.steps) is Outcome.NEXT:
            async with self.db.unit_of_work() as uow:
                await _finish(uow, await self._own(uow, run_id), SUCCEEDED)

    async def _own(self, uow: UnitOfWork, run_id: str) -> FlowRun:
        """The run, locked, if this worker still holds its lease (which is extended)."""
        query = select(FlowRun).where(FlowRun.id == run_id)
        if uow.dialect == "postgresql":
            query = query.with_for_update()
        run = await uow.session.scalar(query)
        if run is None or run.lease_owner != self.owner or run.state != RUNNING:
            raise LeaseLost(run_id)
        run.lease_expires_at = utcnow() + self.settings.lease
        run.updated_at = utcnow()
        uow.origin = flow_origin(run.flow_id)
        return run

    async def _record(self, uow: UnitOfWork, walk: _Walk, step: Step, action: str) -> StepRun:
        """The step's run row in this transaction, added when the step has none yet."""
        row = await uow.session.scalar(
            select(StepRun).where(StepRun.run_id == walk.run_id, StepRun.step_id == step.id)
        )
        if row is None:
            walk.position += 1
            row = StepRun(
                run_id=walk.run_id,
                step_id=step.id,
                action=action,
                state=WAITING,
                position=walk.position,
                attempts=0,
                started_at=utcnow(),
            )
            uow.session.add(row)
        return row

    async def _steps(self, walk: _Walk, steps: list[Step]) -> Outcome:
        for step in steps:
            outcome = await self._one(walk, step)
            if outcome is Outcome.END:
                return outcome
        return Outcome.NEXT

    async def _one(self, walk: _Walk, step: Step) -> Outcome:
        stored = walk.stored.get(step.id)
        # Done: succeeded, or failed for good with the run going on (policy `continue`).
        if stored is not None and (stored.state == SUCCEEDED or stored.finished_at is not None):
            walk.data["steps"][step.id] = stored.output
            if isinstance(step, PathsStep):
                return await self._branch(walk, step, (stored.output or {}).get("path"))
            passed = not isinstance(step, FilterStep) or (stored.output or {}).get("passed")
            return Outcome.NEXT if passed else Outcome.END
        if isinstance(step, ActionStep):
            return await self._action(walk, step)
        if isinstance(step, DelayStep):
            return await self._delay(walk, step, stored)
        if isinstance(step, FilterStep):
            passed = holds(step.conditions, walk.data)
            return await self._decided(walk, step, "core.filter", {"passed": passed}, passed)
        chosen = next((b.name for b in step.paths if holds(b.conditions, walk.data)), None)
        await self._decided(walk, step, "core.paths", {"path": chosen}, True)
        return await self._branch(walk, step, chosen)

    async def _branch(self, walk: _Walk, step: PathsStep, name: str | None) -> Outcome:
        branch = next((b for b in step.paths if b.name == name), None)
        return Outcome.NEXT if branch is None else await self._steps(walk, branch.steps)

    async def _decided(
        self, walk: _Walk, step: Step, action: str, output: dict[str, Any], go_on: bool
    ) -> Outcome:
        """Record a step the engine decided itself (filter, paths); a failed filter ends the
        run, successfully, in the same transaction."""
        async with self.db.unit_of_work() as uow:
            run = await self._own(uow, walk.run_id)
            row = await self._record(uow, walk, step, action)
            row.state, row.output, row.finished_at = SUCCEEDED, output, utcnow()
            row.attempts += 1
            if not go_on:
                await _finish(uow, run, SUCCEEDED)
        walk.data["steps"][step.id] = output
        return Outcome.NEXT if go_on else Outcome.END

    async def _delay(self, walk: _Walk, step: DelayStep, stored: StepRun | None) -> Outcome:
        now = utcnow()
        if stored is not None and stored.resume_at is not None:
            resume_at = stored.resume_at
        elif step.for_ is not None:
            resume_at = now + timedelta(seconds=step.for_.total_seconds)
        else:
            try:
                moment = parse_date(render(step.until or "", walk.data))
            except ValueError as error:
                return await self._fail_run(walk, step, "core.delay", f"until: {error}")
            if moment is None:
                return await self._fail_run(walk, step, "core.delay", "until: not a date-time")
            resume_at = moment
        async with self.db.unit_of_work() as uow:
            run = await self._own(uow, walk.run_id)
            row = await self._record(uow, walk, step, "core.delay")
            row.resume_at, row.output = resume_at, {"resumeAt": to_iso(resume_at)}
            if resume_at > now and not walk.test:
                row.state = WAITING
                _release(run, WAITING, resume_at)
                return Outcome.END
            row.state, row.finished_at = SUCCEEDED, now
        walk.data["steps"][step.id] = {"resumeAt": to_iso(resume_at)}
        return Outcome.NEXT

    async def _fail_run(self, walk: _Walk, step: Step, action: str, error: str) -> Outcome:
        async with self.db.unit_of_work() as uow:
            run = await self._own(uow, walk.run_id)
            row = await self._record(uow, walk, step, action)
            row.state, row.error, row.finished_at = FAILED, error, utcnow()
            row.attempts += 1
            await _finish(uow, run, FAILED, f"step {step.id}: {error}", step.id)
        return Outcome.END

    async def _action(self, walk: _Walk, step: ActionStep) -> Outcome:
        entry = find(step.action)
        if entry is None or entry.run is None:
            return await self._fail_run(walk, step, step.action, "not an action of the catalog")
        values: dict[str, Any] | None = None
        try:
            values = map_input(step.id, step.input, entry.input, walk.data)
            async with self.db.unit_of_work() as uow:
                run = await self._own(uow, walk.run_id)
                context = ActionContext(
                    uow=uow,
                    location_id=run.location_id,
                    idempotency_key=f"{walk.idempotency_base}:{step.id}",
                    phone_region=self.settings.phone_region,
                    links=walk.links,
                )
                output = dict(entry.sample) if walk.test else await entry.run(context, values)
                row = await self._record(uow, walk, step, step.action)
                row.state, row.input, row.output, row.error = SUCCEEDED, values, output, None
                row.attempts += 1
                row.finished_at = utcnow()
            walk.data["steps"][step.id] = output
            return Outcome.NEXT
        except LeaseLost:
            raise
        except (DomainError, ValueError) as error:
            reason = str(error)
        except Exception as error:
            # A bug must not retry forever nor stop the loop: it fails the step like any error.
            log.exception("step %s of run %s failed unexpectedly", step.id, walk.run_id)
            reason = f"unexpected error ({type(error).__name__}); see the server log"
        return await self._failed(walk, step, values, reason)

    async def _failed(
        self, walk: _Walk, step: ActionStep, values: dict[str, Any] | None, reason: str
    ) -> Outcome:
        """Record the failed attempt; retry later, go on, or fail the run, per the policy."""
        async with self.db.unit_of_work() as uow:
            run = await self._own(uow, walk.run_id)
            row = await self._record(uow, walk, step, step.action)
            row.state, row.input, row.error = FAILED, values, reason
            row.attempts += 1
            delay = step.on_error.delay(row.attempts)
            if delay is not None:
                _release(run, QUEUED, utcnow() + timedelta(seconds=delay))
                return Outcome.END
            row.finished_at = utcnow()
            if step.on_error.then == "continue":
                walk.data["steps"][step.id] = None
                return Outcome.NEXT
            await _finish(uow, run, FAILED, f"step {step.id}: {reason}", step.id)
            return Outcome.END
