"""docs/catalog.md, written from the catalog's data: `python -m contactflow.flows.catalog.docs
> docs/catalog.md` (or `contactflow catalog --markdown`)."""

import json

from contactflow.flows.catalog import CATALOG, Entry
from contactflow.flows.catalog.remote import Wire

REGENERATE = "python -m contactflow.flows.catalog.docs > docs/catalog.md"
APPS = {"contacts": "Contacts API", "mailsuite": "Mailsuite", "core": "Built-in"}
KINDS = {"trigger": "Triggers", "action": "Actions", "step": "Steps"}


def _fields(entry: Entry) -> str:
    properties = entry.input.get("properties", {})
    required = set(entry.input.get("required", []))
    names = [f"`{name}`{'*' if name in required else ''}" for name in properties]
    return ", ".join(names) or "none"


def _section(entry: Entry) -> list[str]:
    lines = [f"#### `{entry.key}`: {entry.title}", "", entry.description, ""]
    lines.append(f"- Scopes: {', '.join(f'`{scope}`' for scope in entry.scopes) or 'none'}")
    if entry.event_type is not None:
        lines.append(f"- Event: `{entry.event_type}`")
    if entry.remote is not None:
        calls: list[str] = []
        wire: Wire | None = entry.remote
        while wire is not None:
            calls.append(f"`{wire.method} {wire.path}`")
            wire = wire.then
        lines.append(f"- On a remote account (`connectionId`): {', then '.join(calls)}")
    label = "Options" if entry.kind == "trigger" else "Input"
    lines.append(f"- {label} (* required): {_fields(entry)}")
    sample = json.dumps(entry.sample, indent=2, ensure_ascii=False)
    lines += ["", "Sample output:", "", "```json", sample, "```", ""]
    return lines


def markdown() -> str:
    lines = [
        "# Operations catalog",
        "",
        "Every trigger, action and step a flow can use, with its scopes, its input (or a "
        "trigger's options) and a sample of its output. The full JSON Schemas are served by "
        "`GET /catalog` and `GET /catalog/{key}`.",
        "",
        f"Generated from the catalog's data; do not edit by hand (`{REGENERATE}`).",
        "",
    ]
    ordered = sorted(CATALOG.values(), key=lambda entry: entry.key)
    for app, app_title in APPS.items():
        of_app = [entry for entry in ordered if entry.app == app]
        if not of_app:
            continue
        lines += [f"## {app_title} (`{app}`): {len(of_app)} entries", ""]
        for kind, kind_title in KINDS.items():
            of_kind = [entry for entry in of_app if entry.kind == kind]
            if of_kind:
                lines += [f"### {kind_title}", ""]
                for entry in of_kind:
                    lines += _section(entry)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
