"""Executing runs: claim due runs with leases, perform their steps in order, record each.

A round claims a batch of runs, loads what they need in one read (their step runs, the
definitions not cached yet) and advances them concurrently, up to `RunSettings.concurrency`
at a time: on PostgreSQL their transactions run in parallel; on SQLite writes queue on the
process's writer lock anyway, but one run's reads and rendering overlap another's commit.

A run is a work item (platform/jobs.py). Each step is one transaction in which the step's
effect and its step run are written together, so a stored success means the effect happened
and no stored success means it did not: a run taken over after a crash (its lease expired)
walks its steps again and performs only those without a stored success. Actions also get an
idempotency key (event id + step id) for what they record elsewhere.

A loop step runs its steps once per item; their step runs are recorded under ids suffixed
with the iteration (`note[2]`), so a run taken over inside a loop does not redo the
iterations already done.

A delay stores its step run as `waiting` and releases the run until the time comes; a failed
action is retried on its policy's backoff by releasing the run until the next attempt, then
stops the run or lets it continue.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy import select

from contactflow.flows.catalog import ActionContext, Entry, Json, Outbound, find
from contactflow.flows.catalog.remote import CONNECTION, perform, without_connection
from contactflow.flows.conditions import holds
from contactflow.flows.connections.outbound import Authorizer
from contactflow.flows.connections.remote_client import RemoteAccount
from contactflow.flows.definition import (
    ActionStep,
    DelayStep,
    FilterStep,
    FlowDefinition,
    LoopStep,
    PathsStep,
    Step,
)
from contactflow.flows.mapping import map_input, parse_date, render, render_items
from contactflow.flows.models import (
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    WAITING,
    FlowRun,
    FlowVersion,
    StepRun,
    flow_origin,
)
from contactflow.flows.run_state import (
    LeaseLost,
    Outcome,
    RunSettings,
    Walk,
    cached_definition,
    definition_of,
    due_conditions,
    ends,
    final_step,
    finish,
    release,
)
from contactflow.mailsuite.tracking import Links, tracking_key
from contactflow.platform import issues, tracing
from contactflow.platform.clock import to_iso, utcnow
from contactflow.platform.db import Database, UnitOfWork, database_unreachable
from contactflow.platform.errors import DomainError, invalid
from contactflow.platform.group_commit import GroupCommit
from contactflow.platform.jobs import claim, next_due_at

log = logging.getLogger("contactflow.flows")


def step_subject(flow_id: str, step: Step) -> str:
    """A flow step's issue subject: the same step in every run and iteration of the flow."""
    return f"{flow_id}/{step.id}"


class RunExecutor:
    """One run loop: `step` claims a batch of due runs and advances each as far as it goes."""

    def __init__(
        self, db: Database, settings: RunSettings, owner: str, http: httpx.AsyncClient
    ) -> None:
        self.db = db
        self.settings = settings
        self.owner = owner
        # The process's client for outbound steps: one pool and TLS setup for all of them.
        self.http = http
        # The last claim filled its batch: more are likely due, so the next claim goes
        # straight to the write transaction without looking first.
        self._backlog = False
        # The steps' transactions of the walks advancing together (ADR 0057).
        self._commits = GroupCommit(db)

    async def step(self) -> bool:
        """One round; True when its claim filled a batch, so more runs are likely due. Runs
        queued since the claim woke the loop with their commit, and those released until
        later are waited for (`next_due`)."""
        return await self.run_once() >= self.settings.batch_size

    async def next_due(self, after: datetime) -> datetime | None:
        """When the first run released until later (a delay, a retry) falls due after
        `after`."""
        return await next_due_at(
            self.db, FlowRun.next_attempt_at, FlowRun.state, [QUEUED, WAITING], after
        )

    async def run_once(self) -> int:
        """One round: claim due runs and advance them; how many it claimed."""
        runs = await self._claim()
        if not runs:
            return 0
        links = Links(self.settings.base_url, await tracking_key(self.db))
        walks = await self._prepare(runs, links)
        limit = asyncio.Semaphore(max(1, self.settings.concurrency))

        async def bounded(walk: Walk, definition: FlowDefinition) -> None:
            async with limit:
                await self._walk(walk, definition)

        outcomes = await asyncio.gather(
            *(bounded(walk, definition) for walk, definition in walks), return_exceptions=True
        )
        errors = [error for error in outcomes if isinstance(error, BaseException)]
        for error in errors:
            if isinstance(error, LeaseLost):
                log.warning("run %s was taken over by another worker", error.args[0])
        unexpected = [error for error in errors if not isinstance(error, LeaseLost)]
        if unexpected:
            raise unexpected[0]
        return len(runs)

    async def claim_due(self) -> list[str]:
        """Lease a batch of due runs (queued, waiting until now, or abandoned by a worker
        whose lease expired) and mark them running."""
        return [run.id for run in await self._claim()]

    async def _claim(self) -> list[FlowRun]:
        if not self._backlog:
            # Most wake-ups find the runs taken by another loop: look without the write lock.
            due = select(FlowRun.id).where(*due_conditions(utcnow())).limit(1)
            if await self.db.read(lambda connection: connection.scalar(due)) is None:
                return []
        async with self.db.unit_of_work() as uow:
            now = utcnow()
            runs: list[FlowRun] = await claim(
                uow,
                select(FlowRun)
                .where(*due_conditions(now))
                .order_by(FlowRun.next_attempt_at, FlowRun.id)
                .limit(self.settings.batch_size),
                owner=self.owner,
                lease=self.settings.lease,
            )
            for run in runs:
                run.state, run.attempts, run.updated_at = RUNNING, run.attempts + 1, now
                run.started_at = run.started_at or now
        self._backlog = len(runs) >= self.settings.batch_size
        return runs

    async def advance(self, run_id: str, links: Links) -> None:
        async with self.db.reader() as session:
            run = await session.get(FlowRun, run_id)
        if run is None:
            return
        for walk, definition in await self._prepare([run], links):
            await self._walk(walk, definition)

    async def _prepare(
        self, runs: Sequence[FlowRun], links: Links
    ) -> list[tuple[Walk, FlowDefinition]]:
        """The walks of `runs` with their definitions: one read for all their step runs and
        the versions whose definitions are not cached yet."""
        ids = [run.id for run in runs]
        uncached = {run.version_id for run in runs if cached_definition(run.version_id) is None}
        async with self.db.reader() as session:
            stored: dict[str, dict[str, StepRun]] = {run_id: {} for run_id in ids}
            for row in await session.scalars(select(StepRun).where(StepRun.run_id.in_(ids))):
                stored[row.run_id][row.step_id] = row
            versions = {}
            if uncached:
                found = await session.scalars(
                    select(FlowVersion).where(FlowVersion.id.in_(uncached))
                )
                versions = {version.id: definition_of(version) for version in found}
        walks = []
        for run in runs:
            definition = cached_definition(run.version_id) or versions.get(run.version_id)
            if definition is None:
                continue
            by_step = stored[run.id]
            walk = Walk(
                run_id=run.id,
                flow_id=run.flow_id,
                location_id=run.location_id,
                idempotency_base=run.event_id or run.id,
                test=run.test,
                data={"trigger": run.input, "steps": {}},
                stored=by_step,
                links=links,
                position=len(by_step),
                last=final_step(definition.steps),
            )
            walks.append((walk, definition))
        return walks

    async def _walk(self, walk: Walk, definition: FlowDefinition) -> None:
        """The run as far as it goes this time, a span (its steps' spans within it)."""
        attributes = {
            tracing.LOCATION: walk.location_id,
            "contactflow.flow.id": walk.flow_id,
            "contactflow.flow.run.id": walk.run_id,
        }
        with tracing.span("flow run", attributes):
            if await self._steps(walk, definition.steps) is Outcome.NEXT and not walk.finished:
                async with self._owned(walk.run_id) as (uow, run):
                    await finish(uow, run, SUCCEEDED)

    @asynccontextmanager
    async def _owned(self, run_id: str) -> AsyncIterator[tuple[UnitOfWork, FlowRun]]:
        """A transaction of the run's, locked, if this worker still holds its lease; the
        lease is extended as the block ends, when the run goes on: the lock keeps other
        workers away meanwhile, and a step's changes to the run are one UPDATE."""
        async with self._commits.transaction() as uow:
            query = select(FlowRun).where(FlowRun.id == run_id)
            if uow.dialect == "postgresql":
                query = query.with_for_update()
            run = await uow.session.scalar(query)
            if run is None or run.lease_owner != self.owner or run.state != RUNNING:
                raise LeaseLost(run_id)
            uow.origin = flow_origin(run.flow_id)
            yield uow, run
            if run.state == RUNNING:
                run.updated_at = utcnow()
                run.lease_expires_at = run.updated_at + self.settings.lease

    async def _record(self, uow: UnitOfWork, walk: Walk, step: Step, action: str) -> StepRun:
        """The step's run row in this transaction, added when the step has none yet.

        A step without a row when the run was loaded has none now either: the run's lease
        (checked in this transaction) kept every other worker away since. Should one be
        there after all, the (run, step) unique key fails this transaction, effect included."""
        row = None
        if walk.key(step) in walk.stored:
            row = await uow.session.scalar(
                select(StepRun).where(
                    StepRun.run_id == walk.run_id, StepRun.step_id == walk.key(step)
                )
            )
        if row is None:
            walk.position += 1
            row = StepRun(
                run_id=walk.run_id,
                step_id=walk.key(step),
                action=action,
                state=WAITING,
                position=walk.position,
                attempts=0,
                started_at=utcnow(),
            )
            uow.session.add(row)
        return row

    async def _steps(self, walk: Walk, steps: list[Step]) -> Outcome:
        for step in steps:
            outcome = await self._one(walk, step)
            if outcome is not Outcome.NEXT:
                return outcome
        return Outcome.NEXT

    async def _one(self, walk: Walk, step: Step) -> Outcome:
        stored = walk.stored.get(walk.key(step))
        # Done: succeeded, or failed for good with the run going on (policy `continue`).
        if stored is not None and (stored.state == SUCCEEDED or stored.finished_at is not None):
            walk.data["steps"][step.id] = stored.output
            if isinstance(step, PathsStep):
                return await self._branch(walk, step, (stored.output or {}).get("path"))
            return walk.stop() if ends(step, stored.output or {}) else Outcome.NEXT
        attributes = {
            "contactflow.flow.step.id": walk.key(step),
            "contactflow.flow.step.action": getattr(step, "action", None),
        }
        with tracing.span("flow step", attributes):
            return await self._perform(walk, step, stored)

    async def _perform(self, walk: Walk, step: Step, stored: StepRun | None) -> Outcome:
        """A step not done before: what its kind does."""
        if isinstance(step, ActionStep):
            return await self._action(walk, step)
        if isinstance(step, DelayStep):
            return await self._delay(walk, step, stored)
        if isinstance(step, LoopStep):
            return await self._loop(walk, step)
        if isinstance(step, FilterStep):
            passed = holds(step.conditions, walk.data)
            return await self._decided(walk, step, "core.filter", {"passed": passed}, passed)
        chosen = next((b.name for b in step.paths if holds(b.conditions, walk.data)), None)
        await self._decided(walk, step, "core.paths", {"path": chosen}, True)
        return await self._branch(walk, step, chosen)

    async def _branch(self, walk: Walk, step: PathsStep, name: str | None) -> Outcome:
        branch = next((b for b in step.paths if b.name == name), None)
        return Outcome.NEXT if branch is None else await self._steps(walk, branch.steps)

    async def _loop(self, walk: Walk, step: LoopStep) -> Outcome:
        """Each item's iteration in turn; the loop's own step run, recorded once all are
        done, has how many there were."""
        try:
            items = render_items(step.items, walk.data)
        except ValueError as error:
            return await self._fail_run(walk, step, "core.loop", f"items: {error}")
        outer_suffix, outer_loop = walk.suffix, walk.data.get("loop")
        for index, item in enumerate(items):
            walk.suffix = f"{outer_suffix}[{index}]"
            walk.data["loop"] = {"item": item, "index": index, "count": len(items)}
            if await self._steps(walk, step.steps) is Outcome.END:
                return Outcome.END
        walk.suffix = outer_suffix
        walk.data.pop("loop")
        if outer_loop is not None:
            walk.data["loop"] = outer_loop
        return await self._decided(walk, step, "core.loop", {"count": len(items)}, True)

    async def _decided(
        self, walk: Walk, step: Step, action: str, output: dict[str, Any], go_on: bool
    ) -> Outcome:
        """Record a step the engine decided itself (filter, paths); a failed filter ends the
        run, successfully, in the same transaction."""
        async with self._owned(walk.run_id) as (uow, run):
            row = await self._record(uow, walk, step, action)
            row.state, row.output, row.finished_at = SUCCEEDED, output, utcnow()
            row.attempts += 1
            if not go_on and not walk.suffix:
                await finish(uow, run, SUCCEEDED)
            elif step.id == walk.last and not walk.suffix:
                await finish(uow, run, SUCCEEDED)
                walk.finished = True
        walk.data["steps"][step.id] = output
        return Outcome.NEXT if go_on else walk.stop()

    async def _delay(self, walk: Walk, step: DelayStep, stored: StepRun | None) -> Outcome:
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
        async with self._owned(walk.run_id) as (uow, run):
            row = await self._record(uow, walk, step, "core.delay")
            row.resume_at, row.output = resume_at, {"resumeAt": to_iso(resume_at)}
            if resume_at > now and not walk.test:
                row.state = WAITING
                release(run, WAITING, resume_at)
                return Outcome.END
            row.state, row.finished_at = SUCCEEDED, now
        walk.data["steps"][step.id] = {"resumeAt": to_iso(resume_at)}
        return Outcome.NEXT

    async def _fail_run(self, walk: Walk, step: Step, action: str, error: str) -> Outcome:
        async with self._owned(walk.run_id) as (uow, run):
            row = await self._record(uow, walk, step, action)
            row.state, row.error, row.finished_at = FAILED, error, utcnow()
            row.attempts += 1
            await finish(uow, run, FAILED, f"step {step.id}: {error}", step.id)
        return Outcome.END

    async def _action(self, walk: Walk, step: ActionStep) -> Outcome:
        entry = find(step.action)
        if entry is None or not entry.performs:
            return await self._fail_run(walk, step, step.action, "not an action of the catalog")
        values: dict[str, Any] | None = None
        idempotency_key = f"{walk.idempotency_base}:{walk.key(step)}"
        try:
            values = map_input(step.id, step.input, entry.input, walk.data)
            called = None
            if entry.call is not None and not walk.test:
                called = await self._call(walk, entry, idempotency_key, values)
            elif entry.remote is not None and values.get(CONNECTION) and not walk.test:
                called = await self._remote(walk, entry, values)
            async with self._owned(walk.run_id) as (uow, run):
                context = ActionContext(
                    uow=uow,
                    location_id=run.location_id,
                    idempotency_key=idempotency_key,
                    phone_region=self.settings.phone_region,
                    links=walk.links,
                    flow_id=run.flow_id,
                )
                if walk.test:
                    output = dict(entry.sample)
                elif called is not None:
                    output = called
                elif entry.run is not None:
                    output = await entry.run(context, without_connection(values))
                else:
                    output = {}
                row = await self._record(uow, walk, step, step.action)
                row.state, row.input, row.output, row.error = SUCCEEDED, values, output, None
                row.attempts += 1
                row.finished_at = utcnow()
                if not walk.test:
                    await issues.record_successes(
                        uow, issues.FLOW_STEP, [step_subject(run.flow_id, step)]
                    )
                ends = entry.ends_run is not None and entry.ends_run(output)
                if (ends or step.id == walk.last) and not walk.suffix:
                    await finish(uow, run, SUCCEEDED)
                    walk.finished = True
            walk.data["steps"][step.id] = output
            return walk.stop() if ends else Outcome.NEXT
        except LeaseLost:
            raise
        except (DomainError, ValueError) as error:
            reason = str(error)
        except Exception as error:
            if database_unreachable(error):
                # Not the step's fault: the run is taken again once the database is back.
                raise
            # A bug must not retry forever nor stop the loop: it fails the step like any error.
            log.exception("step %s of run %s failed unexpectedly", step.id, walk.run_id)
            reason = f"unexpected error ({type(error).__name__}); see the server log"
        return await self._failed(walk, step, values, reason)

    async def _call(self, walk: Walk, entry: Entry, key: str, values: Json) -> Json:
        """An outbound step's call, outside any transaction; it may take half the lease, so
        the run is still this worker's when the answer is recorded."""
        assert entry.call is not None
        outbound = Outbound(
            http=self.http,
            policy=self.settings.url_policy,
            location_id=walk.location_id,
            idempotency_key=key,
            max_timeout_seconds=self.settings.lease.total_seconds() / 2,
            connection=partial(
                Authorizer, self.db, walk.location_id, record=issues.RUN, record_id=walk.run_id
            ),
        )
        return await entry.call(outbound, values)

    async def _remote(self, walk: Walk, entry: Entry, values: Json) -> Json | None:
        """A Contacts API action on the remote account of the step's connection, outside any
        transaction; None when the connection is this workspace's own (it runs here)."""
        assert entry.remote is not None
        authorize = Authorizer(
            self.db, walk.location_id, values[CONNECTION], record=issues.RUN, record_id=walk.run_id
        )
        auth = await authorize(None)
        if auth.kind != "contacts":
            raise invalid(
                CONNECTION, f"{auth.connection_id} is a {auth.kind} connection, not a Contacts API"
            )
        if auth.base_url is None:
            return None
        account = RemoteAccount(
            self.http, self.settings.url_policy, authorize, auth, self.settings.remote_limits
        )
        return await perform(entry.remote, account, without_connection(values), entry.output)

    async def _failed(
        self, walk: Walk, step: ActionStep, values: dict[str, Any] | None, reason: str
    ) -> Outcome:
        """Record the failed attempt; retry later, go on, or fail the run, per the policy."""
        async with self._owned(walk.run_id) as (uow, run):
            row = await self._record(uow, walk, step, step.action)
            row.state, row.input, row.error = FAILED, values, reason
            row.attempts += 1
            if not walk.test:
                await issues.record_failure(
                    uow,
                    run.location_id,
                    issues.FLOW_STEP,
                    step_subject(run.flow_id, step),
                    subject=f"step {step.id} ({step.action})",
                    record=issues.RUN,
                    record_id=run.id,
                    error=reason,
                    flow_id=run.flow_id,
                )
            delay = step.on_error.delay(row.attempts)
            if delay is not None:
                release(run, QUEUED, utcnow() + timedelta(seconds=delay))
                return Outcome.END
            row.finished_at = utcnow()
            if step.on_error.then == "continue":
                walk.data["steps"][step.id] = None
                return Outcome.NEXT
            await finish(uow, run, FAILED, f"step {step.id}: {reason}", step.id)
            return Outcome.END
