"""Wire models of /flows: camelCase on the wire, unknown request fields refused."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import RunState, StepState
from contactflow.platform.wire import RequestModel, WireModel

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class FlowCreate(RequestModel):
    name: Name
    definition: FlowDefinition


class FlowUpdate(RequestModel):
    """A new name, a new draft definition, the error flow (null: none), or several."""

    name: Name | None = None
    definition: FlowDefinition | None = None
    error_flow_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class FlowTest(RequestModel):
    """What to test on: a past event of the location (`eventId`), a payload given here
    (`trigger`), or, with neither, the trigger's sample."""

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    trigger: dict[str, Any] | None = None


class BackfillRequest(RequestModel):
    """The range of event times to run the flow over: from (included) to (excluded)."""

    from_: Annotated[datetime, Field(alias="from")]
    to: datetime


class BackfillOut(WireModel):
    """Runs queued; events in range already run by this version; events whose conditions do
    not hold (or that a live trigger would skip); events the enabled trigger has yet to read."""

    queued: int
    already_run: int
    not_matching: int
    left_to_trigger: int


class TemplateInstall(RequestModel):
    """The template's parameters by name; those left out take their defaults."""

    parameters: dict[str, Any] = Field(default_factory=dict)


class RunBacklog(WireModel):
    """Runs that are due and wait to run, across the installation (one executor serves every
    location): how many, when the oldest fell due and how long it has waited (the run lag),
    and how many make incoming webhooks answer 503."""

    runs: int
    oldest_due_at: str | None
    lag_seconds: float
    limit: int


class HookAccepted(WireModel):
    """A call to a hook URL was accepted; `runId` is None when the flow's conditions did not
    hold for it, or (`duplicate`) when it repeats a delivery id received within a day: nothing
    runs."""

    run_id: str | None
    duplicate: bool = False


class VersionOut(WireModel):
    id: str
    number: int | None
    status: str
    definition: dict[str, Any]
    updated_at: str
    published_at: str | None


class TemplateOrigin(WireModel):
    """The shipped template a flow was installed from, and which of its flows it is."""

    key: str
    flow: str


class FlowOut(WireModel):
    id: str
    name: str
    enabled: bool
    error_flow_id: str | None
    template: TemplateOrigin | None
    draft: VersionOut | None
    published: VersionOut | None
    # Where to POST to run the flow, while its running version has the incoming webhook
    # trigger: the server's address followed by this path.
    hook_path: str | None
    created_at: str
    updated_at: str


class FlowEnvelope(WireModel):
    flow: FlowOut


class FlowList(WireModel):
    flows: list[FlowOut]
    next_cursor: str | None


class TemplateOut(WireModel):
    key: str
    title: str
    description: str
    # A JSON Schema of the parameters (`x-refers` names the kind of record an id is of).
    parameters: dict[str, Any]
    flows: list[str]


class TemplateList(WireModel):
    templates: list[TemplateOut]


class InstalledFlows(WireModel):
    flows: list[FlowOut]


class StepRunOut(WireModel):
    step_id: str
    action: str
    state: StepState
    input: dict[str, Any] | None
    output: dict[str, Any] | None
    error: str | None
    attempts: int
    resume_at: str | None
    started_at: str
    finished_at: str | None


class FailedEmailOut(WireModel):
    """An email a step of the run queued that did not get through, as it is now: `failed`
    (refused for good, out of retries, or its contact gone before it went) or `bounced` (a
    hard bounce reported after it was sent), with the reason and when."""

    step_id: str
    email_id: str
    to: str
    status: Literal["failed", "bounced"]
    reason: str | None
    at: str | None


class RunOut(WireModel):
    id: str
    flow_id: str
    version_id: str
    event_id: str | None
    replay_of: str | None
    state: RunState
    input: dict[str, Any]
    attempts: int
    next_attempt_at: str | None
    error: str | None
    test: bool
    # Emails its steps queued that failed or bounced since (the run itself may have succeeded).
    failed_emails: list[FailedEmailOut]
    created_at: str
    started_at: str | None
    finished_at: str | None


class RunDetail(WireModel):
    run: RunOut
    steps: list[StepRunOut]


class RunList(WireModel):
    runs: list[RunOut]
    next_cursor: str | None
