"""`contactflow flows …`: import and export definitions (JSON or YAML), install shipped
templates, run, list runs, replay, retry, backfill."""

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from contactflow.cli_support import AsJson, console, echo_json, id_column, print_table, with_db
from contactflow.flows import service
from contactflow.flows.backfill import BackfillResult, backfill
from contactflow.flows.definition import Format, export, load_file
from contactflow.flows.error_flows import set_error_flow
from contactflow.flows.models import Flow, FlowRun, find_flow
from contactflow.flows.run_emails import run_emails
from contactflow.flows.schemas import RunOut
from contactflow.flows.templates import FlowTemplate, find_template, shipped
from contactflow.flows.wire import run_out
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
    """Create a flow from a definition file (which may name its `errorFlowId`); prints its
    id."""
    try:
        definition, error_flow_id = load_file(file.read_text(), _format(file))
    except (ValidationError, ValueError) as error:
        console.print(f"[red]error:[/red] {file} is not a flow definition:\n{error}")
        raise typer.Exit(1) from error

    async def run(db: Database) -> Flow:
        async with db.unit_of_work() as uow:
            flow = await service.create_flow(uow, location, name or file.stem, definition)
            if error_flow_id is not None:
                await set_error_flow(uow, flow, error_flow_id)
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
    """Print a flow's running version (or its draft) as JSON or YAML, with its error flow."""
    if kind not in ("json", "yaml"):
        raise typer.BadParameter("json or yaml", param_hint="--format")

    async def run(db: Database) -> str | None:
        async with db.reader() as session:
            flow = await find_flow(session, location, flow_id)
            version = (
                await service.draft_of(session, flow.id)
                if draft
                else await service.published_of(session, flow)
            )
            if version is None:
                return None
            return export(
                version.definition, "yaml" if kind == "yaml" else "json", flow.error_flow_id
            )

    text = with_db(run)
    if text is None:
        console.print("[red]error:[/red] the flow has no such version")
        raise typer.Exit(1)
    typer.echo(text)


@flows_app.command("runs")
def list_runs(
    flow_id: Annotated[str, typer.Argument(help="The flow's id.")],
    location: Location,
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
    as_json: AsJson = False,
) -> None:
    """A flow's runs, newest first."""

    async def run(db: Database) -> list[RunOut]:
        async with db.reader() as session:
            page = await service.list_runs(session, location, flow_id, before=None, limit=limit)
            emails = await run_emails(session, location, [row.id for row in page.rows])
            return [run_out(row, emails) for row in page.rows]

    runs = with_db(run)
    if as_json:
        echo_json(runs)
        return
    table = Table(
        id_column("run"), "state", id_column("event"), "attempts", "created", "finished", "error"
    )
    for row in runs:
        table.add_row(
            row.id,
            row.state + (" (test)" if row.test else ""),
            row.event_id or (f"replay of {row.replay_of}" if row.replay_of else "-"),
            str(row.attempts),
            row.created_at,
            row.finished_at or "-",
            _problems(row),
        )
    print_table(table)


def _problems(run: RunOut) -> str:
    """The run's error and the emails it queued that did not get through."""
    emails = [f"email {item.email_id} {item.status}: {item.reason}" for item in run.failed_emails]
    return "; ".join([run.error, *emails] if run.error else emails)


def _data(given: str) -> dict[str, Any]:
    """`--data`: a JSON object, or `@path` to a file holding one."""
    text = given
    if given.startswith("@"):
        try:
            text = Path(given[1:]).read_text()
        except OSError as error:
            message = f"cannot read {given[1:]}: {error}"
            raise typer.BadParameter(message, param_hint="--data") from error
    try:
        data = json.loads(text)
    except ValueError as error:
        raise typer.BadParameter(f"not JSON: {error}", param_hint="--data") from error
    if not isinstance(data, dict):
        raise typer.BadParameter("a JSON object", param_hint="--data")
    return data


@flows_app.command("run")
def run_flow(
    flow_id: Annotated[str, typer.Argument(help="The flow's id (its trigger: core.manual).")],
    location: Location,
    data: Annotated[
        str, typer.Option(help="The trigger data: a JSON object, or @file holding one.")
    ] = "{}",
) -> None:
    """Run a flow with the manual trigger on the given data, as a new run; prints its id."""
    payload = _data(data)

    async def run(db: Database) -> FlowRun:
        async with db.unit_of_work() as uow:
            return await service.run_manually(uow, location, flow_id, payload)

    console.print(with_db(run).id)


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


@flows_app.command("retry")
def retry(
    run_id: Annotated[str, typer.Argument(help="The failed run to resume.")],
    location: Location,
) -> None:
    """Resume a failed run at the step that failed it (the steps before are not performed
    again); prints its id."""

    async def run(db: Database) -> FlowRun:
        async with db.unit_of_work() as uow:
            return await service.retry(uow, location, run_id)

    console.print(with_db(run).id)


def _moment(text: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter("an ISO 8601 date or date-time", param_hint=option) from None


@flows_app.command("backfill")
def backfill_flow(
    flow_id: Annotated[str, typer.Argument(help="The flow's id.")],
    location: Location,
    start: Annotated[str, typer.Option("--from", help="Events from this time (ISO 8601).")],
    end: Annotated[str, typer.Option("--to", help="Events before this time (ISO 8601).")],
) -> None:
    """Run the published version over past events of its trigger, once per event; prints how
    many runs were queued and how many events were already run."""
    since, until = _moment(start, "--from"), _moment(end, "--to")

    async def run(db: Database) -> BackfillResult:
        async with db.unit_of_work() as uow:
            return await backfill(uow, location, flow_id, since, until)

    result = with_db(run)
    console.print(
        f"queued {result.queued} runs; {result.already_run} events already run, "
        f"{result.not_matching} not matching the trigger, "
        f"{result.left_to_trigger} left to the trigger"
    )


@flows_app.command("templates")
def list_templates(as_json: AsJson = False) -> None:
    """The shipped flow templates and their parameters (* required)."""
    if as_json:
        echo_json(template.describe() for template in shipped().values())
        return
    table = Table(id_column("template"), "title", "flows", "parameters")
    for template in shipped().values():
        required = set(template.parameters.get("required", []))
        names = [
            f"{name}{'*' if name in required else ''} ({spec['type']})"
            for name, spec in template.parameters.get("properties", {}).items()
        ]
        flows = "\n".join(flow.name for flow in template.flows)
        table.add_row(template.key, template.title, flows, ", ".join(names))
    print_table(table)


def _parameters(template: FlowTemplate, pairs: list[str]) -> dict[str, object]:
    """`name=value` pairs; an integer parameter's value is read as an integer."""
    properties = template.parameters.get("properties", {})
    values: dict[str, object] = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals:
            raise typer.BadParameter(f"{pair!r} is not name=value", param_hint="--param")
        kind = properties.get(name, {}).get("type")
        if kind == "integer":
            try:
                values[name] = int(text)
            except ValueError:
                raise typer.BadParameter(f"{name} is an integer", param_hint="--param") from None
        else:
            values[name] = text
    return values


@flows_app.command("install")
def install_template(
    key: Annotated[str, typer.Argument(help="The template (see `contactflow flows templates`).")],
    location: Location,
    param: Annotated[
        list[str] | None, typer.Option(help="A parameter as name=value (repeatable).")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Update the flows of a template installed already, in place."
        ),
    ] = False,
) -> None:
    """Create, publish and enable a template's flows; prints each flow's id and name. A
    template installed already in the location is refused (exit 1) unless --replace."""
    template = find_template(key)
    if template is None:
        raise typer.BadParameter(f"no template {key!r}", param_hint="TEMPLATE")
    given = _parameters(template, param or [])

    async def run(db: Database) -> list[Flow]:
        async with db.unit_of_work() as uow:
            done = await service.install_template(uow, location, key, given, replace=replace)
            return done.flows

    for flow in with_db(run):
        typer.echo(f"{flow.id}\t{flow.name}")
