"""`contactflow catalog`: the operations catalog as a table, JSON or Markdown."""

import json
from typing import Annotated

import typer
from rich.table import Table

from contactflow.cli_support import console
from contactflow.flows.catalog import entries
from contactflow.flows.catalog.docs import markdown


def catalog(
    app: Annotated[
        str | None, typer.Option(help="Only this app: contacts, mailsuite, core.")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind: trigger, action, step.")] = None,
    query: Annotated[
        str | None,
        typer.Option(
            "--query", "-q", help="Only entries whose key, title or description say these words."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entries as JSON.")] = False,
    as_markdown: Annotated[
        bool, typer.Option("--markdown", help="Print docs/catalog.md (every entry).")
    ] = False,
) -> None:
    """List the triggers, actions and steps flows can use."""
    if kind not in (None, "trigger", "action", "step"):
        raise typer.BadParameter("trigger, action or step", param_hint="--kind")
    if as_markdown:
        typer.echo(markdown(), nl=False)
        return
    found = entries(app, kind, query)
    if as_json:
        typer.echo(json.dumps([entry.describe() for entry in found], indent=2))
        return
    table = Table()
    # Keys are what a flow file names: never wrapped, so they can be copied whole.
    table.add_column("Key", no_wrap=True)
    for heading in ("Kind", "Title", "Scopes", "Event"):
        table.add_column(heading)
    for entry in found:
        table.add_row(
            entry.key, entry.kind, entry.title, " ".join(entry.scopes), entry.event_type or ""
        )
    console.print(table)
    console.print(f"{len(found)} entries")
