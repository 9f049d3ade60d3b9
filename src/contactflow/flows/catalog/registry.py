"""Catalog entries described as data: what each trigger, action and step is, which scopes it
needs, the JSON Schemas of its input and output, a sample output, and for actions the
function that performs it inside the run's unit of work."""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from contactflow.mailsuite.tracking import Links
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Unprocessable

Kind = Literal["trigger", "action", "step"]
# How a trigger fires: on events of one type of the log, on a cron schedule, on a call to the
# flow's hook URL, on a manual run, or at a time relative to a record's own (a task's due date).
Firing = Literal["event", "schedule", "webhook", "manual", "record"]
M = TypeVar("M", bound=BaseModel)
Json = dict[str, Any]


@dataclass(frozen=True)
class ActionContext:
    """What an action acts with: the run's transaction, its location, and the idempotency
    key of this step of this run (the event id and the step id)."""

    uow: UnitOfWork
    location_id: str
    idempotency_key: str
    phone_region: str
    links: Links


Executor = Callable[[ActionContext, Json], Awaitable[Json]]


@dataclass(frozen=True)
class Entry:
    key: str
    app: str
    kind: Kind
    title: str
    description: str
    scopes: tuple[str, ...]
    input: Json
    output: Json
    sample: Json
    # Triggers from the event log: the event type they fire on, and the payload field that
    # must name the flow itself, for events addressed to one flow (a manual enrolment).
    # A trigger without an event type is fired by the engine itself (core.error).
    event_type: str | None = None
    flow_field: str | None = None
    fires: Firing = "event"
    run: Executor | None = field(default=None, compare=False)

    def describe(self) -> Json:
        """The entry as data, as `GET /catalog` will serve it."""
        return {
            "key": self.key,
            "app": self.app,
            "kind": self.kind,
            "title": self.title,
            "description": self.description,
            "scopes": list(self.scopes),
            "input": self.input,
            "output": self.output,
            "sample": self.sample,
        }


def model_schema(
    model: type[BaseModel],
    *,
    extra: Json | None = None,
    required: Iterable[str] = (),
    without: Iterable[str] = (),
) -> Json:
    """A request model's JSON Schema (camelCase names) with more properties and requirements,
    so the catalog describes exactly what the service validates."""
    schema = model.model_json_schema(by_alias=True)
    properties = {**(extra or {}), **schema.get("properties", {})}
    dropped = set(without)
    return {
        "type": "object",
        "additionalProperties": False,
        "required": sorted({*schema.get("required", []), *required} - dropped),
        "properties": {name: value for name, value in properties.items() if name not in dropped},
    }


def output_schema(model: type[BaseModel]) -> Json:
    return model.model_json_schema(by_alias=True, mode="serialization")


def parsed(model: type[M], values: Json) -> M:
    """The values as the service's request model; its refusals become field errors."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise Unprocessable(
            [
                f"{'.'.join(str(part) for part in issue['loc']) or 'input'}: {issue['msg']}"
                for issue in error.errors()
            ]
        ) from None


def dumped(model: BaseModel) -> Json:
    return model.model_dump(mode="json", by_alias=True)


ID = {"type": "string", "minLength": 1, "maxLength": 64}
# The options of every event-log trigger. Events a flow's own actions cause never trigger it
# again by default (no loop); "flows" also ignores those of every other flow (two flows
# syncing both ways then do not echo each other's writes); "none" ignores nothing.
EVENT_TRIGGER_OPTIONS: Json = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ignoreEventsFrom": {"enum": ["self", "flows", "none"], "default": "self"},
    },
}
