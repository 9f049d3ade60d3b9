"""A flow as data: a trigger, conditions on it, and steps (actions, filters, delays, paths,
loops).

The same model is read from the API, from JSON and from YAML files, and is what the
dashboard will edit. Unknown fields are refused so that a misspelt key is an error, not a
silently ignored setting.
"""

import json
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, StringConstraints, model_validator

from contactflow.platform.wire import RequestModel

Operator = Literal[
    "equals",
    "notEquals",
    "contains",
    "startsWith",
    "exists",
    "notExists",
    "in",
    "gt",
    "gte",
    "lt",
    "lte",
    "withinLastDays",
    "between",
    "tagPresent",
]
StepId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
CatalogKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Path = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Format = Literal["json", "yaml"]


class Condition(RequestModel):
    """One test of a value at a dotted path (`trigger.email`, `steps.task.id`)."""

    field: Path
    operator: Operator
    value: Any = None
    case_sensitive: bool = False


class Group(RequestModel):
    """Conditions joined by AND (`all`) or OR (`any`); groups nest."""

    match: Literal["all", "any"] = "all"
    conditions: Annotated[list["Condition | Group"], Field(max_length=100)]


class Trigger(RequestModel):
    key: CatalogKey
    options: dict[str, Any] = Field(default_factory=dict)


class ErrorPolicy(RequestModel):
    """Retries with exponential backoff, then stop the run, continue with the next step, or
    (`errorFlow`) hand the failure to the flow's error flow and stop the run."""

    retries: Annotated[int, Field(ge=0, le=20)] = 0
    backoff_seconds: Annotated[float, Field(ge=0, le=86_400)] = 5.0
    then: Literal["stop", "continue", "errorFlow"] = "stop"

    def delay(self, failures: int) -> float | None:
        """Seconds before the next attempt after `failures` failed ones; None when spent."""
        if failures > self.retries:
            return None
        return float(self.backoff_seconds * 2 ** (failures - 1))


class ActionStep(RequestModel):
    type: Literal["action"]
    id: StepId
    action: CatalogKey
    # Field -> template (strings are Jinja templates; other JSON values are taken as they are).
    input: dict[str, Any] = Field(default_factory=dict)
    on_error: ErrorPolicy = Field(default_factory=ErrorPolicy)


class FilterStep(RequestModel):
    """Continue only if the conditions hold; otherwise the run ends, successfully."""

    type: Literal["filter"]
    id: StepId
    conditions: Group


class Duration(RequestModel):
    days: Annotated[float, Field(ge=0)] = 0
    hours: Annotated[float, Field(ge=0)] = 0
    minutes: Annotated[float, Field(ge=0)] = 0
    seconds: Annotated[float, Field(ge=0)] = 0

    @property
    def total_seconds(self) -> float:
        return ((self.days * 24 + self.hours) * 60 + self.minutes) * 60 + self.seconds


class DelayStep(RequestModel):
    """Wait for a duration, or until a time a template computes
    (`{{ trigger.dueDate | subtract(days=1) }}`)."""

    type: Literal["delay"]
    id: StepId
    for_: Annotated[Duration | None, Field(alias="for")] = None
    until: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "DelayStep":
        if (self.for_ is None) == (self.until is None):
            raise ValueError("give either `for` (a duration) or `until` (a time template)")
        return self


class Branch(RequestModel):
    """One path: taken when its conditions hold (a path without conditions always is)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    conditions: Group | None = None
    steps: Annotated[list["Step"], Field(max_length=100)]


class PathsStep(RequestModel):
    """Branch: the first path whose conditions hold runs, then the flow goes on."""

    type: Literal["paths"]
    id: StepId
    paths: Annotated[list[Branch], Field(min_length=1, max_length=20)]


class LoopStep(RequestModel):
    """Run the nested steps once for each item of a list (`loop.item`, `loop.index`); a
    filter or de-duplicate step inside ends only its iteration."""

    type: Literal["loop"]
    id: StepId
    # A template that renders a list (`{{ trigger.tags | tojson }}`), or a JSON list.
    items: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | list[Any]
    steps: Annotated[list["Step"], Field(min_length=1, max_length=100)]


Step = Annotated[
    ActionStep | FilterStep | DelayStep | PathsStep | LoopStep, Field(discriminator="type")
]


class FlowDefinition(RequestModel):
    trigger: Trigger
    conditions: Group | None = None
    steps: Annotated[list[Step], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _unique_ids(self) -> "FlowDefinition":
        seen: set[str] = set()
        for step in walk(self.steps):
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice; step ids must be unique")
            seen.add(step.id)
        groups = [self.conditions, *(_groups(step) for step in walk(self.steps))]
        if any(_depth(group) > MAX_DEPTH for group in groups if group is not None):
            raise ValueError(f"condition groups nest at most {MAX_DEPTH} deep")
        if _paths_depth(self.steps) > MAX_DEPTH:
            raise ValueError(f"paths nest at most {MAX_DEPTH} deep, loops included")
        for step_id, loops in _loop_depths(self.steps, 0):
            if len(step_id) + ITERATION_SUFFIX * loops > 64:
                raise ValueError(
                    f"step id {step_id!r} is too long for a step inside {loops} loop(s): "
                    f"at most {64 - ITERATION_SUFFIX * loops} characters"
                )
        return self


MAX_DEPTH = 8
# What each loop appends to the ids of its steps' runs: `[0]` to `[999]`.
ITERATION_SUFFIX = 5


def _groups(step: Step) -> Group | None:
    """The deepest-reaching group of a step (filters and paths have some)."""
    if isinstance(step, FilterStep):
        return step.conditions
    if isinstance(step, PathsStep):
        branches = [branch.conditions for branch in step.paths if branch.conditions]
        return max(branches, key=_depth, default=None)
    return None


def _depth(group: Group) -> int:
    nested = [item for item in group.conditions if isinstance(item, Group)]
    return 1 + max((_depth(item) for item in nested), default=0)


def _children(step: Step) -> list[list[Step]]:
    """The step sequences nested in a step: a path's branches, a loop's body."""
    if isinstance(step, PathsStep):
        return [branch.steps for branch in step.paths]
    if isinstance(step, LoopStep):
        return [step.steps]
    return []


def _paths_depth(steps: list[Step]) -> int:
    inner = [_paths_depth(nested) for step in steps for nested in _children(step)]
    return 1 + max(inner, default=0)


def _loop_depths(steps: list[Step], loops: int) -> list[tuple[str, int]]:
    """Each step id with the number of loops around it."""
    found = []
    for step in steps:
        found.append((step.id, loops))
        inside = loops + isinstance(step, LoopStep)
        for nested in _children(step):
            found.extend(_loop_depths(nested, inside))
    return found


def walk(steps: list[Step]) -> list[Step]:
    """Every step, nested paths' steps included, in the order a run could reach them."""
    found: list[Step] = []
    for step in steps:
        found.append(step)
        for nested in _children(step):
            found.extend(walk(nested))
    return found


# A trigger's secret (the key an incoming webhook's calls are signed with) is write-only:
# what is read back or exported shows HIDDEN in its place, and a definition saved with HIDDEN
# there keeps the secret the flow had.
SIGNING_OPTION = "secret"
HIDDEN = "********"


def hidden(data: dict[str, Any]) -> dict[str, Any]:
    """A definition's wire form with its trigger's secret hidden."""
    trigger = data.get("trigger") or {}
    options = trigger.get("options") or {}
    if SIGNING_OPTION not in options:
        return data
    return {**data, "trigger": {**trigger, "options": {**options, SIGNING_OPTION: HIDDEN}}}


def keeping_secret(definition: FlowDefinition, stored: dict[str, Any] | None) -> None:
    """Put back the secret of `stored` (the flow's saved definition) where `definition` has
    it hidden, for the same trigger; a hidden secret with none to keep stays as it is, and
    the publish refuses it."""
    options = definition.trigger.options
    if options.get(SIGNING_OPTION) != HIDDEN or stored is None:
        return
    trigger = stored.get("trigger") or {}
    secret = (trigger.get("options") or {}).get(SIGNING_OPTION)
    if trigger.get("key") == definition.trigger.key and secret not in (None, HIDDEN):
        options[SIGNING_OPTION] = secret


# A flow file may carry, beside the definition, the flow's error flow.
ERROR_FLOW_KEY = "errorFlowId"


def load(text: str, format: Format = "json") -> FlowDefinition:
    """Read a definition from JSON or YAML text; pydantic's ValidationError names bad fields."""
    return load_file(text, format)[0]


def load_file(text: str, format: Format = "json") -> tuple[FlowDefinition, str | None]:
    """A flow file: its definition and the error flow it names, if any."""
    data = yaml.safe_load(text) if format == "yaml" else json.loads(text)
    error_flow_id = data.pop(ERROR_FLOW_KEY, None) if isinstance(data, dict) else None
    if error_flow_id is not None and not isinstance(error_flow_id, str):
        raise ValueError(f"{ERROR_FLOW_KEY}: a flow id")
    return FlowDefinition.model_validate(data), error_flow_id


def to_data(definition: FlowDefinition) -> dict[str, Any]:
    """The wire form (camelCase, defaults left out): what is stored and served."""
    return definition.model_dump(mode="json", by_alias=True, exclude_unset=True)


def dump(
    definition: FlowDefinition, format: Format = "json", error_flow_id: str | None = None
) -> str:
    data = to_data(definition)
    if error_flow_id is not None:
        data[ERROR_FLOW_KEY] = error_flow_id
    if format == "yaml":
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return json.dumps(data, indent=2, ensure_ascii=False)


def export(data: dict[str, Any], format: Format, error_flow_id: str | None) -> str:
    """A stored definition as the file `contactflow flows export` and the dashboard give:
    its secret hidden, the flow's error flow named."""
    return dump(FlowDefinition.model_validate(hidden(data)), format, error_flow_id)
