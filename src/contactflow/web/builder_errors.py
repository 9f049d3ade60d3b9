"""Messages about a flow definition moved onto the builder's form fields.

Pydantic, the catalog check and publishing name places by the definition's paths, with steps
by id (`steps.task.input.dueAt`); the builder's fields name steps by position
(`steps.2.input.dueAt`). Each message is moved onto the field it names, so it shows beside it.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from contactflow.web.builder_forms import STEP_TYPES, Json


def step_places(raw: Json) -> dict[str, str]:
    """Each step id of the tree with its place in the form (`task` -> `steps.2`)."""
    places: dict[str, str] = {}

    def visit(steps: Any, where: str) -> None:
        for number, step in enumerate(steps if isinstance(steps, list) else []):
            place = f"{where}.{number}"
            places.setdefault(step.get("id", ""), place)
            for branch_number, branch in enumerate(step.get("paths") or []):
                visit(branch.get("steps"), f"{place}.paths.{branch_number}.steps")
            visit(step.get("steps"), f"{place}.steps")

    visit(raw.get("steps"), "steps")
    return places


def _form_place(place: str, places: Mapping[str, str]) -> str:
    """A message's place by step id (`steps.task.input.dueAt`) as a form field name."""
    if not place.startswith("steps."):
        return place
    step_id, _, rest = place.removeprefix("steps.").partition(".")
    if step_id.isdigit() or step_id not in places:
        return place
    return f"{places[step_id]}.{rest}" if rest else places[step_id]


def field_errors(lines: Iterable[str], raw: Json) -> dict[str, str]:
    """`place: reason` lines (catalog check, publish) by form field name; a line without a
    place goes under ""."""
    places = step_places(raw)
    found: dict[str, str] = {}
    for line in lines:
        place, separator, reason = line.partition(": ")
        key = _form_place(place, places) if separator and " " not in place else ""
        text = reason if key else line
        found[key] = f"{found[key]}; {text}" if key in found else text
    return found


def validation_lines(error: ValidationError) -> list[str]:
    """pydantic's refusals as `place: reason` lines, places as form field names (the step
    kind pydantic adds after a step's position is left out)."""
    lines = []
    for issue in error.errors():
        parts: list[str] = []
        for part in issue["loc"]:
            after_step = len(parts) >= 2 and parts[-2] == "steps" and parts[-1].isdigit()
            if (after_step and part in STEP_TYPES) or part in ("Condition", "Group"):
                continue
            parts.append(str(part))
        message = str(issue["msg"]).removeprefix("Value error, ")
        lines.append(f"{'.'.join(parts)}: {message}" if parts else message)
    return lines
