"""Tables of the flows context: flows, their versions, runs (work items) and step runs.

A flow has one draft version at most and any number of published ones (the history); the
flow points at the version that runs. Each published version reads the event log with its own
cursor (a `ConsumerCursor` named by `cursor_name`), and (version, event) is unique among runs,
so every event is evaluated once per version however many workers read the log.

Triggers without an event keep timers: a schedule's next time, or the time planned for one
task or appointment. A timer is fired in the transaction that adds its run.
"""

import secrets
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, UTCDateTime
from contactflow.platform.errors import NotFound
from contactflow.platform.ids import new_id

VersionStatus = Literal["draft", "published"]
RunState = Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled"]
StepState = Literal["succeeded", "failed", "waiting", "skipped"]
QUEUED: Final = "queued"
RUNNING: Final = "running"
WAITING: Final = "waiting"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
DUE_STATES: Final = (QUEUED, RUNNING, WAITING)


def cursor_name(version_id: str) -> str:
    return f"flow:{version_id}"


def new_hook_token() -> str:
    """The secret part of a flow's hook URL."""
    return secrets.token_urlsafe(24)


def hook_path(flow: "Flow") -> str | None:
    """The path of the flow's hook URL, while its running version has the webhook trigger."""
    if flow.hook_token is None or flow.trigger_key != "core.webhook":
        return None
    return f"/hooks/flows/{flow.id}/{flow.hook_token}"


def flow_origin(flow_id: str) -> str:
    """The origin of the events a flow's actions cause."""
    return f"flow:{flow_id}"


class Flow(Base):
    __tablename__ = "flows"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The version that runs (the newest published); None until the first publish.
    published_version_id: Mapped[str | None] = mapped_column(String(32))
    # The trigger's event type of the running version: what the trigger consumer watches.
    event_type: Mapped[str | None] = mapped_column(String(64))
    # The flow of the location (its trigger core.error) that runs when a run fails for good.
    error_flow_id: Mapped[str | None] = mapped_column(String(32))
    # The running version's trigger key, set on publish: what the timer loops watch.
    trigger_key: Mapped[str | None] = mapped_column(String(128))
    # The secret part of the flow's hook URL (a `core.webhook` trigger); shown to its owners.
    hook_token: Mapped[str | None] = mapped_column(String(64))
    # The shipped template (and the name of its flow) this flow was installed from: a second
    # install of the template finds it.
    template_key: Mapped[str | None] = mapped_column(String(64))
    template_flow: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index(None, "location_id", "created_at", "id"),
        Index(None, "enabled", "event_type"),
        Index(None, "location_id", "template_key"),
    )


class FlowVersion(Base):
    __tablename__ = "flow_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    flow_id: Mapped[str] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    location_id: Mapped[str] = mapped_column(String(32))
    # 1, 2, ... in order of publishing; the draft has none.
    number: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[VersionStatus] = mapped_column(String(16))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("flow_id", "number"),
        Index(None, "flow_id", "status"),
    )


class FlowRun(Base):
    """One execution of a flow version: a work item claimed with a lease."""

    __tablename__ = "flow_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(String(32))
    flow_id: Mapped[str] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    version_id: Mapped[str] = mapped_column(ForeignKey("flow_versions.id", ondelete="CASCADE"))
    # The event that triggered the run; None for a replay (which has `replay_of`).
    event_id: Mapped[str | None] = mapped_column(String(32))
    replay_of: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[RunState] = mapped_column(String(16))
    input: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("version_id", "event_id"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "flow_id", "created_at", "id"),
        Index(None, "location_id", "created_at", "id"),
    )


class StepRun(Base):
    """What one step of a run did: its input, output or error, attempts and timings. A step
    with a stored success is never performed again (the run's idempotency record)."""

    __tablename__ = "flow_step_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("flow_runs.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(64))
    # The catalog key (action) or the step type (filter, delay, paths).
    action: Mapped[str] = mapped_column(String(128))
    state: Mapped[StepState] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    input: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("run_id", "step_id"),)


class FlowTimer(Base):
    """When a flow version fires next without an event: its schedule's next time (`record_id`
    empty), or the time planned for a task or appointment (`record_id` its id), fired once."""

    __tablename__ = "flow_timers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(String(32))
    flow_id: Mapped[str] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    version_id: Mapped[str] = mapped_column(ForeignKey("flow_versions.id", ondelete="CASCADE"))
    record_id: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The record as its last event carried it: the run's trigger data.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A record's plan fires once; a schedule's timer moves to its next time instead.
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("version_id", "record_id"),
        Index(None, "fired_at", "due_at"),
    )


def queued_run(
    version: FlowVersion,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    replay_of: str | None = None,
    test: bool = False,
) -> FlowRun:
    """A new run of `version` on `data`, due now."""
    now = utcnow()
    return FlowRun(
        location_id=version.location_id,
        flow_id=version.flow_id,
        version_id=version.id,
        event_id=event_id,
        replay_of=replay_of,
        state=QUEUED,
        input=data,
        attempts=0,
        next_attempt_at=now,
        test=test,
        created_at=now,
        updated_at=now,
    )


async def find_flow(session: AsyncSession, location_id: str, flow_id: str) -> Flow:
    row = await session.get(Flow, flow_id)
    if row is None or row.location_id != location_id:
        raise NotFound("Flow not found")
    return row
