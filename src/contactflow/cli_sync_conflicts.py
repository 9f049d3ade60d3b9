"""`contactflow sync conflicts | resolve`: the conflicts a sync holds for a person (fields
whose policy is `manual`) listed, and one resolved by keeping a side or a value."""

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from contactflow.cli_support import AsJson, echo_json, id_column, print_table, with_db
from contactflow.platform.db import Database
from contactflow.platform.errors import invalid
from contactflow.settings import get_settings
from contactflow.sync import conflicts
from contactflow.sync.models import ConflictChoice, ConflictState
from contactflow.sync.schemas import ConflictOut
from contactflow.sync.wire import conflict_out

Location = Annotated[str, typer.Option(help="The location the sync belongs to.")]
SyncId = Annotated[str, typer.Argument(help="The sync's id.")]
# Who a resolution made here is told to have come from.
ACTOR = "cli"


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def list_conflicts(
    sync_id: SyncId,
    location: Location,
    state: Annotated[ConflictState | None, typer.Option(help="Only open or resolved.")] = None,
    as_json: AsJson = False,
) -> None:
    """A sync's held conflicts, newest first (the first 100)."""

    async def run(db: Database) -> list[ConflictOut]:
        async with db.reader() as session:
            page = await conflicts.list_conflicts(
                session, location, sync_id, state=state, before=None, limit=100
            )
            return [conflict_out(row) for row in page.rows]

    rows = with_db(run)
    if as_json:
        echo_json(rows)
        return
    table = Table(id_column("id"), "crm", "field", "crm value", "mailsuite value", "state")
    for row in rows:
        table.add_row(
            row.id,
            row.crm_id,
            row.field,
            _shown(row.crm_value),
            _shown(row.mailsuite_value),
            row.state if row.chosen is None else f"{row.state}: kept {row.chosen}",
        )
    print_table(table)


def resolve(
    sync_id: SyncId,
    conflict_id: Annotated[str, typer.Argument(help="The conflict's id.")],
    location: Location,
    keep: Annotated[ConflictChoice, typer.Option(help="The side whose value both keep.")],
    value: Annotated[
        str | None, typer.Option(help='With --keep value: the value, as JSON ("Ada", ["a"]).')
    ] = None,
) -> None:
    """Resolve a held conflict: the value kept is written to both sides."""
    kept: Any = None
    if value is not None:
        try:
            kept = json.loads(value)
        except json.JSONDecodeError:
            raise invalid("--value", 'write it as JSON: "text", null or ["a", "b"]') from None
    settings = get_settings()

    async def run(db: Database) -> ConflictOut:
        row = await conflicts.resolve(
            db, settings, location, sync_id, conflict_id, keep, kept, ACTOR
        )
        return conflict_out(row)

    done = with_db(run)
    typer.echo(f"conflict {done.id} resolved: {done.field} kept from {done.chosen}")


def install(app: typer.Typer) -> None:
    app.command("conflicts")(list_conflicts)
    app.command("resolve")(resolve)
