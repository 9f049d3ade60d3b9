"""What the CLI's command modules share: the console and running work against the database."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from contactflow.platform.db import Database
from contactflow.platform.errors import DomainError
from contactflow.settings import get_settings

console = Console()
T = TypeVar("T")


def with_db(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` with a database of the configured URL; a domain error ends the command
    with its message and exit status 1."""
    settings = get_settings()

    async def main() -> T:
        db = Database(settings.database_url)
        try:
            return await work(db)
        except DomainError as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(1) from error
        finally:
            await db.dispose()

    return asyncio.run(main())
