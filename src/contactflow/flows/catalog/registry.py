"""Catalog entries described as data: what each trigger, action and step is, which scopes it
needs, the JSON Schemas of its input and output, a sample output, and for actions the
function that performs it inside the run's unit of work."""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from contactflow.flows.catalog.remote import Wire
from contactflow.flows.connections.outbound import Authorizer
from contactflow.mailsuite.tracking import Links
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Unprocessable
from contactflow.platform.webhooks.ssrf import UrlPolicy

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
    # The flow the run belongs to (what a de-duplicate step's keys are kept per).
    flow_id: str = ""


Executor = Callable[[ActionContext, Json], Awaitable[Json]]
# Whether an event of the trigger's type is one it fires on, given the flow's trigger options
# (a tag added rather than removed, the status an appointment changed to).
Predicate = Callable[[Json, Json], bool]


@dataclass(frozen=True)
class Outbound:
    """What a step that calls another system gets. It runs outside any transaction (a slow
    server must not hold the database's write lock): it has the URL policy every outbound
    address goes through, a client, the longest it may wait (within the run's lease), and
    the auth of the location's connections by id."""

    http: httpx.AsyncClient
    policy: UrlPolicy
    location_id: str
    idempotency_key: str
    max_timeout_seconds: float
    connection: Callable[[str], Authorizer]


Call = Callable[[Outbound, Json], Awaitable[Json]]


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
    matches: Predicate | None = field(default=None, compare=False)
    fires: Firing = "event"
    run: Executor | None = field(default=None, compare=False)
    # Actions that call out (HTTP) have `call` instead of `run`.
    call: Call | None = field(default=None, compare=False)
    # Contacts API actions: the call that performs it on a remote account instead, when the
    # step names a connection (`connectionId`) to one.
    remote: Wire | None = field(default=None, compare=False)
    # Whether the run ends here (successfully) after this output, as a failed filter ends it.
    ends_run: Callable[[Json], bool] | None = field(default=None, compare=False)

    @property
    def performs(self) -> bool:
        return self.run is not None or self.call is not None

    def fires_on(self, payload: Json, options: Json) -> bool:
        return self.matches is None or self.matches(payload, options)

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
            "eventType": self.event_type,
        }


def _inline(node: Any, definitions: Json, seen: frozenset[str]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        name = reference.removeprefix("#/$defs/")
        if name in seen:
            # A recursive model (a filter group of groups): one level is described.
            return {"type": "object"}
        return _inline(definitions[name], definitions, seen | {name})
    return {key: _inline(value, definitions, seen) for key, value in node.items() if key != "$defs"}


def inlined(schema: Json) -> Json:
    """The schema with its `$defs` references written out in place, so any part of it can be
    used alone (nested in another entry's schema, or one property of an input)."""
    result: Json = _inline(schema, schema.get("$defs", {}), frozenset())
    return result


def model_schema(
    model: type[BaseModel],
    *,
    extra: Json | None = None,
    required: Iterable[str] = (),
    without: Iterable[str] = (),
) -> Json:
    """A request model's JSON Schema (camelCase names) with more properties and requirements,
    so the catalog describes exactly what the service validates."""
    schema = inlined(model.model_json_schema(by_alias=True))
    properties = {**(extra or {}), **schema.get("properties", {})}
    dropped = set(without)
    return {
        "type": "object",
        "additionalProperties": False,
        "required": sorted({*schema.get("required", []), *required} - dropped),
        "properties": {name: value for name, value in properties.items() if name not in dropped},
    }


def output_schema(model: type[BaseModel]) -> Json:
    return inlined(model.model_json_schema(by_alias=True, mode="serialization"))


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
# What every event a trigger delivers carries besides its own fields.
# A moment in the samples, and every sample event's envelope (EVENT_ENVELOPE's values).
SAMPLE_AT = "2026-12-01T09:00:00.000Z"
SAMPLE_ENVELOPE: Json = {
    "locationId": "loc_1",
    "webhookId": "evt_1",
    "timestamp": SAMPLE_AT,
    "versionId": "1",
}
EVENT_ENVELOPE: Json = {
    "type": {"type": "string"},
    "locationId": {"type": "string"},
    "webhookId": {"type": "string"},
    "timestamp": {"type": "string", "format": "date-time"},
    "versionId": {"type": "string"},
}
# The options of every event-log trigger. Events a flow's own actions cause never trigger it
# again by default (no loop); "flows" also ignores those of every other flow (two flows
# syncing both ways then do not echo each other's writes); "none" ignores nothing.
# `connectionId` listens to a connection's remote account instead of this workspace.
EVENT_TRIGGER_OPTIONS: Json = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ignoreEventsFrom": {"enum": ["self", "flows", "none"], "default": "self"},
        "connectionId": ID,
    },
}


def trigger_options(**more: Json) -> Json:
    """The event-log trigger options with this trigger's own (each optional)."""
    return {
        **EVENT_TRIGGER_OPTIONS,
        "properties": {**EVENT_TRIGGER_OPTIONS["properties"], **more},
    }


def obj(properties: Json, required: Iterable[str] = ()) -> Json:
    """A closed object schema: an action input of exactly these fields."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": sorted(required),
        "properties": properties,
    }
