"""The data's lifecycle: `contactflow purge` (retention by policy), `backup` and `restore`."""

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from contactflow.background import retention_rules
from contactflow.cli_support import console, id_column, print_table, stderr_console, with_db
from contactflow.platform import backup as backups
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.platform.event_retention import EventLogRule, Holder
from contactflow.platform.migrate import sqlite_file, upgrade
from contactflow.platform.retention import Removed, purge
from contactflow.settings import Settings, get_settings


def purge_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; remove nothing.")
    ] = False,
) -> None:
    """Remove what is past its retention (docs/operations.md): idempotency keys, ended
    sessions, finished deliveries and flow runs, seen keys, receipts, and old events every
    consumer has read (archived first when CONTACTFLOW_EVENT_ARCHIVE_DIR is set)."""
    settings = get_settings()

    async def work(db: Database) -> tuple[list[Removed], list[Holder]]:
        now = utcnow()
        removed = await purge(db, retention_rules(settings), now, dry_run=dry_run)
        return removed, await _event_log(settings).holders(db, now)

    removed, holders = with_db(work)
    table = Table("kind", "would remove" if dry_run else "removed")
    for item in removed:
        table.add_row(item.kind, str(item.count))
    print_table(table)
    if holders:
        console.print(
            f"events older than {settings.event_retention_days:g} days are kept where a "
            "consumer has not read them:"
        )
        kept = Table(id_column("location"), id_column("consumer"), "position", "last seq")
        for holder in holders:
            consumer = holder.consumer or "(not started there)"
            kept.add_row(holder.location_id, consumer, str(holder.position), str(holder.last_seq))
        print_table(kept)


def _event_log(settings: Settings) -> EventLogRule:
    return next(rule for rule in retention_rules(settings) if isinstance(rule, EventLogRule))


def _refuse(message: str) -> NoReturn:
    stderr_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(1)


def _key_reminder(settings: Settings) -> None:
    if settings.secret_keys:
        where = "CONTACTFLOW_SECRET_KEYS"
    else:
        where = f"the key file {Path(settings.secret_key_file).resolve()}"
    console.print(
        f"keep {where} with it: the secrets in the database are encrypted with it",
        soft_wrap=True,
        highlight=False,
    )


def _sqlite_database(settings: Settings, file: Path, *, restore: bool) -> Path:
    """The configured SQLite database's file; PostgreSQL is refused with its command."""
    path = sqlite_file(settings.database_url)
    if path is None:
        recipe = backups.recipe(settings.database_url, file, restore=restore)
        done = "restored" if restore else "backed up"
        _refuse(f"PostgreSQL is {done} with its own tools; run: {recipe}")
    return path


def backup_command(
    file: Annotated[Path, typer.Argument(help="Where to write the backup.")],
    force: Annotated[bool, typer.Option(help="Replace FILE if it exists.")] = False,
) -> None:
    """Back the SQLite database up into FILE, consistent while servers run. PostgreSQL is
    refused with the pg_dump command to run instead."""
    settings = get_settings()
    source = _sqlite_database(settings, file, restore=False)
    if not source.exists():
        _refuse(f"no database at {source}")
    if file.exists() and not force:
        _refuse(f"{file} exists; pass --force to replace it")
    size = backups.copy_sqlite(source, file)
    console.print(f"backed up {source} to {file} ({size:,} bytes)", soft_wrap=True)
    _key_reminder(settings)


def restore_command(
    file: Annotated[Path, typer.Argument(help="A backup made by `contactflow backup`.")],
    force: Annotated[
        bool, typer.Option(help="Replace the database if it exists (stop its servers first).")
    ] = False,
) -> None:
    """Restore the SQLite database from FILE, then apply the migrations newer than it.
    PostgreSQL is refused with the pg_restore command to run instead."""
    settings = get_settings()
    target = _sqlite_database(settings, file, restore=True)
    if not file.exists():
        _refuse(f"no backup at {file}")
    if target.exists() and not force:
        _refuse(f"{target} exists; pass --force to replace it (with its servers stopped)")
    try:
        backups.restore_sqlite(file, target)
    except backups.NotADatabase as error:
        _refuse(str(error))
    upgrade(settings.database_url)
    console.print(f"restored {target} from {file}; it is up to date", soft_wrap=True)
    _key_reminder(settings)
