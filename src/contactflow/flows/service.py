"""Use cases of flows: create and change drafts, publish, enable, read runs, replay, retry.

A flow keeps at most one draft; publishing checks the draft against the catalog, turns it
into the next numbered version (the history) and makes that version the one that runs,
reading the event log from now on with a cursor of its own.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows import record_plans, schedules, validation
from contactflow.flows.catalog import find
from contactflow.flows.conditions import holds
from contactflow.flows.connections.models import LOCAL, Connection
from contactflow.flows.definition import FlowDefinition, keeping_secret, to_data
from contactflow.flows.error_flows import forget_error_flow, set_error_flow
from contactflow.flows.models import (
    FAILED,
    QUEUED,
    Flow,
    FlowRun,
    FlowVersion,
    StepRun,
    cursor_name,
    find_flow,
    new_hook_token,
    queued_run,
)
from contactflow.flows.templates import checked_parameters, find_template
from contactflow.mailsuite import senders
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.platform import topics
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Conflict, NotFound, Unprocessable, invalid
from contactflow.platform.events import (
    ConsumerCursor,
    Event,
    EventStream,
    delivered_payload,
    lock_cursor,
)


@dataclass(frozen=True)
class ErrorFlowChange:
    """The error flow to name; None for none."""

    flow_id: str | None


async def draft_of(session: AsyncSession, flow_id: str) -> FlowVersion | None:
    return await session.scalar(
        select(FlowVersion).where(FlowVersion.flow_id == flow_id, FlowVersion.status == "draft")
    )


async def published_of(session: AsyncSession, flow: Flow) -> FlowVersion | None:
    if flow.published_version_id is None:
        return None
    return await session.get(FlowVersion, flow.published_version_id)


async def create_flow(
    uow: UnitOfWork, location_id: str, name: str, definition: FlowDefinition
) -> Flow:
    now = utcnow()
    flow = Flow(location_id=location_id, name=name, enabled=False, created_at=now, updated_at=now)
    uow.session.add(flow)
    await uow.session.flush()
    await _save_draft(uow, flow, definition)
    return flow


async def _save_draft(uow: UnitOfWork, flow: Flow, definition: FlowDefinition) -> None:
    draft = await draft_of(uow.session, flow.id)
    saved = draft or await published_of(uow.session, flow)
    keeping_secret(definition, saved.definition if saved is not None else None)
    now = utcnow()
    if draft is None:
        draft = FlowVersion(
            flow_id=flow.id, location_id=flow.location_id, status="draft", created_at=now
        )
        uow.session.add(draft)
    draft.definition, draft.updated_at = to_data(definition), now
    flow.updated_at = now


async def update_flow(
    uow: UnitOfWork,
    location_id: str,
    flow_id: str,
    *,
    name: str | None,
    definition: FlowDefinition | None,
    error_flow: ErrorFlowChange | None = None,
) -> Flow:
    """Rename the flow, replace its draft (what runs changes only on publish), and/or name
    its error flow (at once)."""
    flow = await find_flow(uow.session, location_id, flow_id)
    if name is not None:
        flow.name, flow.updated_at = name, utcnow()
    if definition is not None:
        await _save_draft(uow, flow, definition)
    if error_flow is not None:
        await set_error_flow(uow, flow, error_flow.flow_id)
    return flow


async def delete_flow(uow: UnitOfWork, location_id: str, flow_id: str) -> None:
    """The flow, its versions, runs and cursors."""
    flow = await find_flow(uow.session, location_id, flow_id)
    versions = await uow.session.scalars(
        select(FlowVersion.id).where(FlowVersion.flow_id == flow.id)
    )
    names = [cursor_name(version_id) for version_id in versions]
    await uow.session.execute(delete(ConsumerCursor).where(ConsumerCursor.consumer.in_(names)))
    await forget_error_flow(uow, flow.id)
    await uow.session.delete(flow)


async def list_flows(
    session: AsyncSession, location_id: str, *, before: Position | None, limit: int
) -> Page[Flow]:
    query = select(Flow).where(Flow.location_id == location_id)
    return await newest_first(session, query, Flow.created_at, Flow.id, before=before, limit=limit)


async def _start_reading_now(uow: UnitOfWork, flow: Flow) -> None:
    """Point the running version's cursor at the log's end: it acts on events from now."""
    if flow.published_version_id is None:
        return
    cursor = await lock_cursor(uow, cursor_name(flow.published_version_id), flow.location_id)
    if cursor is None:
        raise Conflict("The flow's trigger is being read by a worker; try again")
    stream = await uow.session.get(EventStream, flow.location_id)
    cursor.position = stream.last_seq if stream is not None else 0


async def _check_runs(uow: UnitOfWork, location_id: str, definition: FlowDefinition) -> None:
    """422 with every reason the definition cannot run in this location: what the catalog
    refuses, connections it names that the location does not have, and connections that
    cannot serve the step naming them (another kind, a scope not granted)."""
    found = validation.problems(definition)
    users = validation.connection_users(definition)
    for place, connection_id in validation.named_connections(definition).items():
        connection = await uow.session.get(Connection, connection_id)
        if connection is None or connection.location_id != location_id:
            found.append(f"{place}: no connection {connection_id!r} in this location")
        elif place in users:
            local = connection.auth == LOCAL
            found.extend(
                validation.connection_problems(
                    place, users[place], connection.kind, local, connection.scopes
                )
            )
    if found:
        raise Unprocessable(found)


async def publish(uow: UnitOfWork, location_id: str, flow_id: str) -> Flow:
    """Check the draft against the catalog (422 naming each step and field, nothing
    published) and make it the next version, the one that runs."""
    flow = await find_flow(uow.session, location_id, flow_id)
    draft = await draft_of(uow.session, flow.id)
    if draft is None:
        raise Conflict("The flow has no draft to publish; change it first")
    definition = FlowDefinition.model_validate(draft.definition)
    await _check_runs(uow, location_id, definition)
    event_type = validation.trigger_event_type(definition)
    last = await uow.session.scalar(
        select(func.max(FlowVersion.number)).where(FlowVersion.flow_id == flow.id)
    )
    now = utcnow()
    draft.status, draft.number, draft.published_at = "published", (last or 0) + 1, now
    draft.updated_at = now
    previous = flow.published_version_id
    flow.published_version_id, flow.event_type, flow.updated_at = draft.id, event_type, now
    flow.trigger_key = definition.trigger.key
    if flow.trigger_key == "core.webhook" and flow.hook_token is None:
        flow.hook_token = new_hook_token()
    await uow.session.flush()
    if previous is not None and flow.enabled:
        await _hand_over(uow, flow, previous, draft.id)
    else:
        await _start_reading_now(uow, flow)
    # With the previous version's cursor held, none of its plans can change meanwhile.
    if previous is not None:
        await record_plans.carry_over(uow, previous, draft)
        # The replaced version reads no more: its cursor would hold the log's retention back.
        await uow.session.execute(
            delete(ConsumerCursor).where(
                ConsumerCursor.consumer == cursor_name(previous),
                ConsumerCursor.location_id == flow.location_id,
            )
        )
    else:
        await record_plans.plan_existing(uow, flow, draft)
    await schedules.start(uow, flow, draft, now)
    return flow


async def _hand_over(uow: UnitOfWork, flow: Flow, previous: str, version_id: str) -> None:
    """The new version reads on where the one it replaces stopped, so an event that came
    before the switch and was not read yet is not lost between them."""
    old = await lock_cursor(uow, cursor_name(previous), flow.location_id)
    new = await lock_cursor(uow, cursor_name(version_id), flow.location_id)
    if old is None or new is None:
        raise Conflict("The flow's trigger is being read by a worker; try again")
    new.position = old.position


async def set_enabled(uow: UnitOfWork, location_id: str, flow_id: str, enabled: bool) -> Flow:
    """Enabling acts on events from now on: those of the time it was off are not run."""
    flow = await find_flow(uow.session, location_id, flow_id)
    if enabled and flow.published_version_id is None:
        raise Conflict("Publish the flow before enabling it")
    if enabled and not flow.enabled:
        await _start_reading_now(uow, flow)
        version = await published_of(uow.session, flow)
        if version is not None:
            await schedules.start(uow, flow, version, utcnow())
    flow.enabled, flow.updated_at = enabled, utcnow()
    return flow


async def list_runs(
    session: AsyncSession,
    location_id: str,
    flow_id: str,
    *,
    before: Position | None,
    limit: int,
) -> Page[FlowRun]:
    await find_flow(session, location_id, flow_id)
    query = select(FlowRun).where(FlowRun.flow_id == flow_id)
    return await newest_first(
        session, query, FlowRun.created_at, FlowRun.id, before=before, limit=limit
    )


async def find_run(session: AsyncSession, location_id: str, run_id: str) -> FlowRun:
    row = await session.get(FlowRun, run_id)
    if row is None or row.location_id != location_id:
        raise NotFound("Run not found")
    return row


async def steps_of(session: AsyncSession, run_id: str) -> list[StepRun]:
    rows = await session.scalars(
        select(StepRun).where(StepRun.run_id == run_id).order_by(StepRun.position)
    )
    return list(rows)


async def start_test(
    uow: UnitOfWork,
    location_id: str,
    flow_id: str,
    *,
    event_id: str | None,
    payload: dict[str, Any] | None,
) -> FlowRun:
    """Run the draft (or, without one, the running version) in test mode on a past event of
    the location, on the given payload, or on the trigger's sample: mappings, conditions and
    paths are real, actions are simulated from their samples (no side effects)."""
    flow = await find_flow(uow.session, location_id, flow_id)
    version = await draft_of(uow.session, flow.id) or await published_of(uow.session, flow)
    if version is None:
        raise Conflict("The flow has no version to test")
    definition = FlowDefinition.model_validate(version.definition)
    await _check_runs(uow, location_id, definition)
    trigger = find(definition.trigger.key)
    if event_id is not None:
        event = await uow.session.get(Event, event_id)
        if event is None or event.location_id != location_id:
            raise invalid("eventId", "no such event in this location")
        data = delivered_payload(event)
    else:
        data = payload if payload is not None else dict(trigger.sample if trigger else {})
    return await _queue(uow, version, data, test=True, replay_of=None)


async def _queue(
    uow: UnitOfWork,
    version: FlowVersion,
    data: dict[str, Any],
    *,
    test: bool,
    replay_of: str | None,
) -> FlowRun:
    run = queued_run(version, data, replay_of=replay_of, test=test)
    uow.session.add(run)
    await uow.session.flush()
    uow.wake(topics.FLOW_RUNS)
    return run


async def run_manually(
    uow: UnitOfWork, location_id: str, flow_id: str, data: dict[str, Any]
) -> FlowRun:
    """A run of the flow's running version on `data`, for a flow with the manual trigger;
    the flow's conditions must hold for it."""
    flow = await find_flow(uow.session, location_id, flow_id)
    version = await published_of(uow.session, flow)
    if version is None:
        raise Conflict("Publish the flow before running it")
    definition = FlowDefinition.model_validate(version.definition)
    if definition.trigger.key != "core.manual":
        raise Conflict(f"The flow's trigger is {definition.trigger.key}, not core.manual")
    if not holds(definition.conditions, {"trigger": data}, utcnow()):
        raise invalid("trigger", "the flow's conditions do not hold for this data")
    return await _queue(uow, version, data, test=False, replay_of=None)


async def replay(uow: UnitOfWork, location_id: str, run_id: str) -> FlowRun:
    """Run the same version again on the same trigger data, as a new run: its steps act
    again (their idempotency keys are the new run's)."""
    original = await find_run(uow.session, location_id, run_id)
    version = await uow.session.get(FlowVersion, original.version_id)
    if version is None:
        raise NotFound("Run not found")
    return await _queue(uow, version, original.input, test=original.test, replay_of=original.id)


async def retry(uow: UnitOfWork, location_id: str, run_id: str) -> FlowRun:
    """Resume a failed run at the step that failed it: that step's record is dropped, so the
    run executor performs it again (with fresh retries), while every step with a stored
    result keeps it and is not performed again. The same run, the same idempotency keys."""
    run = await find_run(uow.session, location_id, run_id)
    if run.state != FAILED:
        raise Conflict(f"The run is {run.state}; only a failed run can be retried")
    failed_step = await uow.session.scalar(
        select(StepRun)
        .where(StepRun.run_id == run.id, StepRun.state == FAILED)
        .order_by(StepRun.position.desc())
        .limit(1)
    )
    if failed_step is not None:
        await uow.session.delete(failed_step)
    now = utcnow()
    run.state, run.next_attempt_at, run.updated_at = QUEUED, now, now
    run.error = run.finished_at = None
    run.lease_owner = run.lease_expires_at = None
    await uow.session.flush()
    uow.wake(topics.FLOW_RUNS)
    return run


# What an `x-refers` parameter of a template names, and how to find it in the location.
REFERENCES = {"mailsuite.sender": (senders.find_sender, "no such Mailsuite sender")}


@dataclass(frozen=True)
class Installation:
    flows: list[Flow]
    # True when the template was installed already and its flows were updated in place.
    replaced: bool


async def installed_flows(session: AsyncSession, location_id: str, key: str) -> list[Flow]:
    """The location's flows installed from template `key`, oldest first."""
    rows = await session.scalars(
        select(Flow)
        .where(Flow.location_id == location_id, Flow.template_key == key)
        .order_by(Flow.created_at, Flow.id)
    )
    return list(rows)


async def install_template(
    uow: UnitOfWork, location_id: str, key: str, given: dict[str, Any], *, replace: bool = False
) -> Installation:
    """A shipped template's flows, made from the parameters, published and enabled, in one
    transaction: a bad parameter (422 naming it) installs nothing. A template installed
    already is a 409 naming its flows, unless `replace`: then its flows take the new
    definitions in place (published and enabled), keeping their ids, names and runs."""
    template = find_template(key)
    if template is None:
        raise NotFound("Template not found")
    values = checked_parameters(template, given)
    for name, (kind, record_id) in template.references(values).items():
        finder, missing = REFERENCES[kind]
        try:
            await finder(uow.session, location_id, record_id)
        except NotFound:
            raise invalid(f"parameters.{name}", missing) from None
    existing = await installed_flows(uow.session, location_id, key)
    if existing and not replace:
        named = ", ".join(f"{flow.name} ({flow.id})" for flow in existing)
        raise Conflict(
            f"Template {key} is already installed in this location: {named}; install it "
            "with replace to update these flows in place",
            meta={"flows": [{"id": flow.id, "name": flow.name} for flow in existing]},
        )
    by_template_flow = {flow.template_flow: flow for flow in existing}
    installed = []
    for name, definition in template.definitions(values):
        flow = by_template_flow.get(name)
        if flow is None:
            flow = await create_flow(uow, location_id, name, definition)
            flow.template_key, flow.template_flow = key, name
        else:
            await _save_draft(uow, flow, definition)
        await publish(uow, location_id, flow.id)
        installed.append(await set_enabled(uow, location_id, flow.id, True))
    return Installation(installed, replaced=bool(existing))
