"""The flow definition as data: JSON and YAML, unknown fields refused, ids unique."""

import pytest
from pydantic import ValidationError

from contactflow.flows.definition import (
    ActionStep,
    DelayStep,
    ErrorPolicy,
    FlowDefinition,
    Group,
    PathsStep,
    dump,
    load,
    to_data,
    walk,
)

YAML = """
trigger:
  key: contacts.contact.created
conditions:
  match: any
  conditions:
    - {field: trigger.email, operator: exists}
    - match: all
      conditions:
        - {field: trigger.tags, operator: tagPresent, value: vip}
steps:
  - type: action
    id: contact
    action: mailsuite.contact.upsert
    input: {email: "{{ trigger.email }}"}
    onError: {retries: 3, backoffSeconds: 2, then: continue}
  - type: delay
    id: wait
    until: "{{ trigger.dateAdded | add(days=1) }}"
  - type: paths
    id: route
    paths:
      - name: vip
        conditions: {conditions: [{field: trigger.tags, operator: tagPresent, value: vip}]}
        steps:
          - {type: action, id: vip_task, action: mailsuite.task.create, input: {title: VIP}}
      - name: others
        steps:
          - {type: delay, id: pause, for: {hours: 2}}
"""


def test_yaml_loads_into_typed_steps_and_nested_groups() -> None:
    definition = load(YAML, "yaml")
    assert definition.trigger.key == "contacts.contact.created"
    assert definition.conditions is not None
    assert definition.conditions.match == "any"
    assert isinstance(definition.conditions.conditions[1], Group)
    first, wait, route = definition.steps
    assert isinstance(first, ActionStep)
    assert first.on_error == ErrorPolicy(retries=3, backoff_seconds=2, then="continue")
    assert isinstance(wait, DelayStep)
    assert wait.until is not None
    assert isinstance(route, PathsStep)
    pause = route.paths[1].steps[0]
    assert isinstance(pause, DelayStep)
    assert pause.for_ is not None
    assert pause.for_.total_seconds == 7200
    assert [step.id for step in walk(definition.steps)] == [
        "contact",
        "wait",
        "route",
        "vip_task",
        "pause",
    ]


def test_json_and_yaml_round_trip_to_the_same_data() -> None:
    definition = load(YAML, "yaml")
    again_json = load(dump(definition, "json"), "json")
    again_yaml = load(dump(definition, "yaml"), "yaml")
    assert to_data(again_json) == to_data(definition) == to_data(again_yaml)
    assert to_data(definition)["steps"][0]["onError"]["backoffSeconds"] == 2


def _steps(*steps: dict[str, object]) -> dict[str, object]:
    return {"trigger": {"key": "contacts.contact.created"}, "steps": list(steps)}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            _steps({"type": "action", "id": "a", "action": "x", "inputs": {}}),
            "inputs",
        ),
        (_steps({"type": "teleport", "id": "a"}), "teleport"),
        (_steps({"type": "delay", "id": "a"}), "either `for`"),
        (
            _steps({"type": "delay", "id": "a", "for": {"hours": 1}, "until": "{{ now }}"}),
            "either `for`",
        ),
        (
            _steps(
                {"type": "action", "id": "a", "action": "x"},
                {"type": "action", "id": "a", "action": "y"},
            ),
            "used twice",
        ),
        (_steps({"type": "action", "id": "bad id", "action": "x"}), "pattern"),
        (
            {**_steps({"type": "action", "id": "a", "action": "x"}), "colour": "red"},
            "colour",
        ),
        (_steps(), "at least 1"),
        (
            _steps(
                {
                    "type": "filter",
                    "id": "f",
                    "conditions": {"conditions": [{"field": "x", "operator": "like"}]},
                }
            ),
            "like",
        ),
    ],
)
def test_bad_definitions_are_refused_naming_the_problem(
    data: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        FlowDefinition.model_validate(data)
    assert expected in str(raised.value)


def test_error_policy_backs_off_exponentially_then_gives_up() -> None:
    policy = ErrorPolicy(retries=3, backoff_seconds=1.5)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1.5, 3.0, 6.0, None]
    assert ErrorPolicy().delay(1) is None


def test_groups_and_paths_nest_only_so_deep() -> None:
    group: dict[str, object] = {"conditions": [{"field": "trigger.a", "operator": "exists"}]}
    for _ in range(8):
        group = {"conditions": [group]}
    with pytest.raises(ValidationError, match="nest at most 8"):
        FlowDefinition.model_validate(
            {**_steps({"type": "action", "id": "a", "action": "x"}), "conditions": group}
        )
    steps: list[dict[str, object]] = [{"type": "action", "id": "leaf", "action": "x"}]
    for level in range(9):
        steps = [{"type": "paths", "id": f"p{level}", "paths": [{"name": "n", "steps": steps}]}]
    with pytest.raises(ValidationError, match="paths nest at most 8"):
        FlowDefinition.model_validate({"trigger": {"key": "k"}, "steps": steps})
