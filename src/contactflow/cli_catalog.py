"""`contactflow catalog`: the operations catalog as a table, JSON or Markdown."""

from typing import Annotated

import typer
from rich.table import Table

from contactflow.cli_support import console, echo_json, id_column, print_table
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
        echo_json(entry.describe() for entry in found)
        return
    # Keys are what a flow file names: copied whole.
    table = Table(id_column("Key"), "Kind", "Title", "Scopes", "Event")
    for entry in found:
        table.add_row(
            entry.key, entry.kind, entry.title, " ".join(entry.scopes), entry.event_type or ""
        )
    print_table(table)
    console.print(f"{len(found)} entries")
