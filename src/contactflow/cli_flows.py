"""`contactflow flows …`: import and export definitions (JSON or YAML), list runs, replay."""

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from contactflow.cli_support import console, with_db
from contactflow.flows import service
from contactflow.flows.definition import FlowDefinition, Format, dump, load
from contactflow.flows.models import Flow, FlowRun, find_flow
from contactflow.platform.clock import to_iso
from contactflow.platform.db import Database

flows_app = typer.Typer(help="Flows: definitions and runs.", no_args_is_help=True)
Location = Annotated[str, typer.Option(help="The location the flow belongs to.")]


def _format(path: Path) -> Format:
    return "yaml" if path.suffix.lower() in (".yaml", ".yml") else "json"


@flows_app.command("import")
def import_flow(
    file: Annotated[Path, typer.Argument(help="A definition, .json or .yaml.", exists=True)],
    location: Location,
    name: Annotated[str | None, typer.Option(help="The flow's name (default: the file's).")] = None,
    publish: Annotated[
        bool, typer.Option(help="Publish it (checked against the catalog).")
    ] = False,
    enable: Annotated[bool, typer.Option(help="Publish and enable it.")] = False,
) -> None:
    """Create a flow from a definition file; prints its id."""
    try:
        definition = load(file.read_text(), _format(file))
    except (ValidationError, ValueError) as error:
        console.print(f"[red]error:[/red] {file} is not a flow definition:\n{error}")
        raise typer.Exit(1) from error

    async def run(db: Database) -> Flow:
        async with db.unit_of_work() as uow:
            flow = await service.create_flow(uow, location, name or file.stem, definition)
            if publish or enable:
                await service.publish(uow, location, flow.id)
            if enable:
                await service.set_enabled(uow, location, flow.id, True)
            return flow

    flow = with_db(run)
    console.print(flow.id)


@flows_app.command("export")
def export_flow(
    flow_id: Annotated[str, typer.Argument(help="The flow's id.")],
    location: Location,
    kind: Annotated[str, typer.Option("--format", help="json or yaml.")] = "yaml",
    draft: Annotated[bool, typer.Option(help="The draft rather than the running version.")] = False,
) -> None:
    """Print a flow's running version (or its draft) as JSON or YAML."""
    if kind not in ("json", "yaml"):
        raise typer.BadParameter("json or yaml", param_hint="--format")

    async def run(db: Database) -> FlowDefinition | None:
        async with db.reader() as session:
            flow = await find_flow(session, location, flow_id)
            version = (
                await service.draft_of(session, flow.id)
                if draft
                else await service.published_of(session, flow)
            )
            return None if version is None else FlowDefinition.model_validate(version.definition)

    definition = with_db(run)
    if definition is None:
        console.print("[red]error:[/red] the flow has no such version")
        raise typer.Exit(1)
    typer.echo(dump(definition, "yaml" if kind == "yaml" else "json"))


@flows_app.command("runs")
def list_runs(
    flow_id: Annotated[str, typer.Argument(help="The flow's id.")],
    location: Location,
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
) -> None:
    """A flow's runs, newest first."""

    async def run(db: Database) -> list[FlowRun]:
        async with db.reader() as session:
            page = await service.list_runs(session, location, flow_id, before=None, limit=limit)
            return page.rows

    table = Table("run", "state", "event", "attempts", "created", "finished", "error")
    for row in with_db(run):
        table.add_row(
            row.id,
            row.state + (" (test)" if row.test else ""),
            row.event_id or (f"replay of {row.replay_of}" if row.replay_of else "-"),
            str(row.attempts),
            to_iso(row.created_at),
            to_iso(row.finished_at) or "-",
            row.error or "",
        )
    console.print(table)


@flows_app.command("replay")
def replay(
    run_id: Annotated[str, typer.Argument(help="The run to replay.")],
    location: Location,
) -> None:
    """Run a run's flow version again on the same data, as a new run; prints its id."""

    async def run(db: Database) -> FlowRun:
        async with db.unit_of_work() as uow:
            return await service.replay(uow, location, run_id)

    console.print(with_db(run).id)
