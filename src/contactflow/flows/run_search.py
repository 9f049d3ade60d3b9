"""Reading a location's runs across its flows: newest first by keyset, filtered by flow,
state, time and text of the trigger data; and each flow's recent activity."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, Text, case, cast, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows.models import FAILED, FlowRun
from contactflow.mailsuite.paging import Page, Position, newest_first


@dataclass(frozen=True)
class RunFilter:
    flow_id: str | None = None
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # Found anywhere in the run's trigger data (its JSON text), case-insensitively.
    text: str | None = None


# SQLite's trigram index (migration 0018) finds strings of three characters or more.
TRIGRAM = 3


def trigger_text_contains(dialect: str, wanted: str) -> ColumnElement[bool]:
    """Whether a run's trigger data holds `wanted`, through the index on that text (ADR
    0011). PostgreSQL's trigram index serves the LIKE itself; on SQLite the FTS5 table finds
    the runs by a phrase of trigrams, the same substring match."""
    if dialect == "sqlite" and len(wanted) >= TRIGRAM:
        phrase = '"' + wanted.replace('"', '""') + '"'
        indexed = text("SELECT rowid FROM flow_runs_text WHERE flow_runs_text MATCH :phrase")
        return literal_column("flow_runs.rowid").in_(indexed.bindparams(phrase=phrase))
    lowered = func.lower(cast(FlowRun.input, Text))
    return lowered.contains(wanted.lower(), autoescape=True)


def runs_matching(dialect: str, location_id: str, found: RunFilter) -> Select[FlowRun]:
    """The location's runs the filter lets through, in no order."""
    query = select(FlowRun).where(FlowRun.location_id == location_id)
    if found.flow_id:
        query = query.where(FlowRun.flow_id == found.flow_id)
    if found.state:
        query = query.where(FlowRun.state == found.state)
    if found.since is not None:
        query = query.where(FlowRun.created_at >= found.since)
    if found.until is not None:
        query = query.where(FlowRun.created_at < found.until)
    if found.text:
        query = query.where(trigger_text_contains(dialect, found.text))
    return query


async def search_runs(
    session: AsyncSession,
    location_id: str,
    found: RunFilter,
    *,
    before: Position | None,
    limit: int,
) -> Page[FlowRun]:
    query = runs_matching(session.get_bind().dialect.name, location_id, found)
    return await newest_first(
        session, query, FlowRun.created_at, FlowRun.id, before=before, limit=limit
    )


@dataclass(frozen=True)
class Activity:
    runs: int
    failures: int
    last_run_at: datetime | None


async def activity(
    session: AsyncSession, location_id: str, flow_ids: list[str], since: datetime
) -> dict[str, Activity]:
    """Per flow: its runs and failed runs created since `since`, and its newest run's time
    (one index look-up per flow, whatever its history)."""
    if not flow_ids:
        return {}
    rows = await session.execute(
        select(FlowRun.flow_id, func.count(), func.count(case((FlowRun.state == FAILED, 1))))
        .where(
            FlowRun.location_id == location_id,
            FlowRun.flow_id.in_(flow_ids),
            FlowRun.created_at >= since,
        )
        .group_by(FlowRun.flow_id)
    )
    recent = {flow_id: (runs, failures) for flow_id, runs, failures in rows}
    found = {}
    for flow_id in flow_ids:
        last = await session.scalar(
            select(func.max(FlowRun.created_at)).where(FlowRun.flow_id == flow_id)
        )
        runs, failures = recent.get(flow_id, (0, 0))
        found[flow_id] = Activity(runs, failures, last)
    return found
