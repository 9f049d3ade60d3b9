"""What the CLI's command modules share: the consoles, running work against the database (which
must exist: only `serve`, `migrate` and `demo` make one), and printing listings as tables or
JSON."""

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Column, Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from contactflow.platform.db import Database
from contactflow.platform.errors import DomainError
from contactflow.platform.migrate import is_migrated, sqlite_file
from contactflow.settings import Settings, get_settings

console = Console()
# Messages about the command itself (refusals, progress): never mixed into what it prints.
stderr_console = Console(stderr=True)
T = TypeVar("T")
# Exit status of a command that cannot start (as for a usage error): no database to work on.
NO_DATABASE = 2
AsJson = Annotated[bool, typer.Option("--json", help="Print the list as JSON.")]


def with_db(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` with the configured database, which must exist and be migrated (else the
    command ends with a message saying where it looked, and exit status 2); a domain error
    ends the command with its message and exit status 1."""
    settings = get_settings()
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        # Opening it would create an empty file here, in which every command then fails.
        _refuse(settings, f"no contactflow database at {path}")

    async def main() -> T:
        db = Database(settings.database_url)
        try:
            migrated = await is_migrated(db)
        except (DBAPIError, OSError) as error:
            await db.dispose()
            reason = error.orig if isinstance(error, DBAPIError) else error
            _refuse(settings, f"cannot open the database {_shown(settings)}: {reason}")
        if not migrated:
            await db.dispose()
            _refuse(
                settings,
                f"the database {_shown(settings)} has no contactflow tables",
                "`contactflow migrate` creates them, if this is the database you mean",
            )
        try:
            return await work(db)
        except DomainError as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(1) from error
        finally:
            await db.dispose()

    return asyncio.run(main())


def _shown(settings: Settings) -> str:
    path = sqlite_file(settings.database_url)
    if path is not None:
        return str(path)
    return make_url(settings.database_url).render_as_string(hide_password=True)


def _refuse(
    settings: Settings, problem: str, remedy: str = "`contactflow migrate` makes a new one"
) -> NoReturn:
    if "database_url" in settings.model_fields_set:
        source = "named by CONTACTFLOW_DATABASE_URL"
    else:
        source = "the default: contactflow.db in the current folder"
    stderr_console.print(
        f"[red]error:[/red] {escape(problem)} ({source}).\n"
        "Run contactflow from the folder that holds your contactflow.db, or point "
        "CONTACTFLOW_DATABASE_URL at your database (for example "
        f"sqlite+aiosqlite:////path/to/contactflow.db); {remedy}.",
        soft_wrap=True,
        highlight=False,
    )
    raise typer.Exit(NO_DATABASE)


def id_column(header: str) -> Column:
    """A column of values that are copied whole (ids, keys, URLs): never wrapped nor cut."""
    return Column(header, no_wrap=True)


def print_table(table: Table) -> None:
    """Print `table` with no id cut and no word broken, whether or not the output is a
    terminal: the columns wrap at spaces to fit the console, and a table that cannot fit so
    is printed wider than the console (a terminal wraps its lines) rather than cut."""
    unbounded = console.options.update_width(sys.maxsize)
    for column in table.columns:
        sizes = [
            Measurement.get(console, unbounded, cell) for cell in (column.header, *column.cells)
        ]
        column.min_width = max(size.maximum if column.no_wrap else size.minimum for size in sizes)
    needed = Measurement.get(console, unbounded, table).minimum
    if needed > console.width:
        table.width = needed
    console.print(table, crop=False)


def echo_json(items: Iterable[BaseModel | Mapping[str, Any]]) -> None:
    """A listing as a JSON array, each item as the API shows it."""
    typer.echo(
        json.dumps(
            [
                item.model_dump(mode="json", by_alias=True)
                if isinstance(item, BaseModel)
                else dict(item)
                for item in items
            ],
            indent=2,
        )
    )
