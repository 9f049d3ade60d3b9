"""Contacts API actions over the HighLevel v2 wire: each action's remote call described as
data (method, path, where its inputs go, what of the answer is its output), and the one
function that performs any of them through a connection.

An action's inputs fill the path's `{placeholders}`; the others go in the body or the query
string, under their wire names. The remote location of the connection goes as `locationId`
where the wire takes it. The output has the same shape as the action's local one: the
answer's envelope is taken off (`{"contact": ...}`), and an answer that says less than the
local output (adding tags answers the tags only) is followed by a read that says it all.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from contactflow.flows.connections.remote_client import RemoteAccount, call

Json = dict[str, Any]
# The input naming the connection; absent, the action acts on this workspace.
CONNECTION = "connectionId"
Method = Literal["GET", "POST", "PUT", "DELETE"]
Answer = Callable[[Json, Json], Json]


def without_connection(values: Json) -> Json:
    return {name: value for name, value in values.items() if name != CONNECTION}


def whole(answer: Json, values: Json) -> Json:
    return answer


@dataclass(frozen=True)
class Wire:
    method: Method
    path: str
    # Where the inputs not in the path go; "none" sends none (the path says it all).
    send: Literal["body", "query", "none"] = "body"
    # Where the connection's remote location goes, as `locationId`; None: not sent.
    location: Literal["body", "query"] | None = None
    # Inputs whose wire name differs: (input, wire).
    renamed: tuple[tuple[str, str], ...] = ()
    # Sent unless an input says otherwise, and sent whatever the inputs say.
    defaults: Json = field(default_factory=dict)
    fixed: Json = field(default_factory=dict)
    # The inputs as the action takes them, checked and reshaped first (as the local action
    # does it), and the output made of the answer and the inputs.
    shape: Callable[[Json], Json] | None = None
    answer: Answer = whole
    # A read after the call, whose answer (through its own `answer`) is the output.
    then: "Wire | None" = None

    def placeholders(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


def envelope(name: str) -> Answer:
    """The answer's one record, out of its envelope."""

    def answer(found: Json, values: Json) -> Json:
        record: Json = found[name]
        return record

    return answer


def deleted(id_input: str) -> Answer:
    return lambda found, values: {"deleted": True, "id": values[id_input]}


def listed(name: str) -> Answer:
    return lambda found, values: {name: found[name], "count": len(found[name])}


def _request(wire: Wire, values: Json, remote_location_id: str | None) -> tuple[str, Json]:
    in_path = wire.placeholders()
    path = wire.path
    for name in in_path:
        path = path.replace(f"{{{name}}}", quote(str(values[name]), safe=""))
    names = dict(wire.renamed)
    rest = {names.get(name, name): value for name, value in values.items() if name not in in_path}
    parts: dict[str, Json] = {"body": {}, "query": {}}
    if wire.send != "none":
        parts[wire.send].update({**wire.defaults, **rest, **wire.fixed})
    if wire.location is not None and remote_location_id:
        parts[wire.location]["locationId"] = remote_location_id
    options: Json = {}
    if wire.send == "body" or parts["body"]:
        options["json"] = parts["body"]
    if parts["query"]:
        options["params"] = {
            name: _text(value) for name, value in parts["query"].items() if value is not None
        }
    return path, options


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


async def perform(wire: Wire, account: RemoteAccount, values: Json, output: Json) -> Json:
    """The action's output, from its call on the remote account; only the properties of
    the action's output schema, so both sides answer the same shape."""
    if wire.shape is not None:
        values = wire.shape(values)
    step: Wire | None = wire
    found: Json = {}
    while step is not None:
        path, options = _request(step, values, account.auth.remote_location_id)
        response = await call(account, step.method, path, **options)
        answer: Any = response.json() if response.content else {}
        found = step.answer(answer if isinstance(answer, dict) else {}, values)
        step = step.then
    wanted = output.get("properties")
    if not wanted:
        return found
    return {name: value for name, value in found.items() if name in wanted}
