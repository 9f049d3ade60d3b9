"""Backfill: run a flow's published version over past events of its trigger's type.

Each event in the range is judged as the trigger consumer judges a live one (echoes, events
addressed to another flow, conditions, with the event's own time as "now"), and becomes at
most one run: (version, event) is unique among runs, so a second backfill over the same range
finds every event already run and adds nothing.

While the flow is enabled, events its trigger has not read yet are left to the trigger (they
become runs as it reads them); a disabled flow's trigger never reads them, as enabling starts
it at the log's end.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from contactflow.flows.engine import starting_payload
from contactflow.flows.models import FlowRun, cursor_name, find_flow, queued_run
from contactflow.flows.run_state import definition_of
from contactflow.flows.service import published_of
from contactflow.platform import topics
from contactflow.platform.clock import as_utc
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Conflict, invalid
from contactflow.platform.events import Event, lock_cursor

MAX_DAYS = 366
# One backfill is one transaction: a bigger range is split by the caller.
MAX_EVENTS = 10_000
PAGE = 500


@dataclass(frozen=True)
class BackfillResult:
    queued: int
    already_run: int
    not_matching: int
    left_to_trigger: int


def _utc(field: str, value: datetime) -> datetime:
    try:
        return as_utc(value)
    except OverflowError:
        raise invalid(field, "out of the range of dates") from None


def _check_range(start: datetime, end: datetime) -> None:
    if start > end:
        raise invalid("from", "must not be after `to`")
    if end - start > timedelta(days=MAX_DAYS):
        raise invalid("to", f"at most {MAX_DAYS} days after `from`")


async def backfill(
    uow: UnitOfWork, location_id: str, flow_id: str, start: datetime, end: datetime
) -> BackfillResult:
    """Queue a run for each event of the trigger's type created in [start, end) that the
    published version has not run yet and whose conditions hold."""
    start, end = _utc("from", start), _utc("to", end)
    _check_range(start, end)
    flow = await find_flow(uow.session, location_id, flow_id)
    version = await published_of(uow.session, flow)
    if version is None:
        raise Conflict("Publish the flow before backfilling it")
    if flow.event_type is None:
        raise Conflict("The flow's trigger fires without events: there are none to backfill")
    cursor = await lock_cursor(uow, cursor_name(version.id), location_id)
    if cursor is None:
        raise Conflict("The flow's trigger is being read by a worker; try again")
    in_range = (
        Event.location_id == location_id,
        Event.type == flow.event_type,
        Event.created_at >= start,
        Event.created_at < end,
    )
    total = await uow.session.scalar(select(func.count()).select_from(Event).where(*in_range))
    if (total or 0) > MAX_EVENTS:
        raise invalid(
            "to",
            f"the range holds {total} events of the trigger's type; at most {MAX_EVENTS} "
            "per backfill, split the range",
        )
    definition = definition_of(version)
    queued = already = not_matching = left = 0
    after = 0
    while True:
        page = list(
            await uow.session.scalars(
                select(Event).where(*in_range, Event.seq > after).order_by(Event.seq).limit(PAGE)
            )
        )
        if not page:
            break
        after = page[-1].seq
        run_already = set(
            await uow.session.scalars(
                select(FlowRun.event_id).where(
                    FlowRun.version_id == version.id,
                    FlowRun.event_id.in_([event.id for event in page]),
                )
            )
        )
        for event in page:
            if flow.enabled and event.seq > cursor.position:
                left += 1
                continue
            if event.id in run_already:
                already += 1
                continue
            payload = starting_payload(definition, flow.id, event, event.created_at)
            if payload is None:
                not_matching += 1
            else:
                uow.session.add(queued_run(version, payload, event_id=event.id))
                queued += 1
    if queued:
        await uow.session.flush()
        uow.wake(topics.FLOW_RUNS)
    return BackfillResult(queued, already, not_matching, left)
