"""`contactflow sync …`: list, create, show (its backfill followed on a progress bar), pause,
resume and resync syncs between the Contacts API and Mailsuite; reconcile and repair them
(cli_sync_reconcile.py); list and resolve their held conflicts (cli_sync_conflicts.py)."""

import asyncio
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as ProgressDisplay
from rich.table import Table

from contactflow import cli_sync_conflicts, cli_sync_reconcile
from contactflow.cli_support import (
    AsJson,
    console,
    echo_json,
    id_column,
    print_table,
    stderr_console,
    with_db,
)
from contactflow.platform.db import Database
from contactflow.platform.errors import invalid
from contactflow.sync import service
from contactflow.sync.fields import CONFLICT_POLICIES, DEFAULT_CONFLICT, FieldMap
from contactflow.sync.models import (
    ACTIVE,
    FINISHED,
    PAUSED,
    SYNC_OBJECTS,
    DeletePolicy,
    Direction,
    SyncObject,
    SyncStatus,
)
from contactflow.sync.schemas import SyncOut
from contactflow.sync.segments import Segment
from contactflow.sync.wire import segment_words, sync_out

sync_app = typer.Typer(
    help="Syncs between the Contacts API's and Mailsuite's contacts.", no_args_is_help=True
)
Location = Annotated[str, typer.Option(help="The location the sync belongs to.")]
SyncId = Annotated[str, typer.Argument(help="The sync's id.")]
# How often `show --follow` looks at the backfill again.
FOLLOW_SECONDS = 0.5


def _field_map(text: str, position: int) -> FieldMap:
    """crm=mailsuite, or crm=mailsuite:conflict."""
    pair, _, conflict = text.partition(":")
    crm, _, mailsuite = pair.partition("=")
    if not crm or not mailsuite:
        raise invalid(f"--map {position + 1}", "write crmField=mailsuiteField[:conflict]")
    for policy in CONFLICT_POLICIES:
        if conflict in ("", policy):
            return FieldMap(crm, mailsuite, policy if conflict else DEFAULT_CONFLICT)
    raise invalid(
        f"--map {position + 1}", f"the conflict policy is one of {', '.join(CONFLICT_POLICIES)}"
    )


def _print(sync: SyncOut) -> None:
    console.print(f"[bold]{sync.name}[/bold]  sync {sync.id}  ({sync.status})", soft_wrap=True)
    waiting = f", {sync.waiting} waiting for their contact" if sync.object != "contacts" else ""
    console.print(
        f"  {sync.object}, direction {sync.direction}, on delete {sync.on_delete}, "
        f"{sync.linked} pairs linked{waiting}, {sync.failing} failing, "
        f"{sync.open_conflicts} conflicts open"
    )
    for entry in sync.mapping:
        console.print(f"  {entry.crm} <-> {entry.mailsuite}  ({entry.conflict})")
    console.print(f"  covers {segment_words(sync.segment)}; {sync.excluded} left out")
    job = sync.backfill
    if job is not None:
        console.print(
            f"  backfill {job.state}: {job.done} of {job.total} "
            f"({job.matched} matched, {job.created} created, {job.skipped} skipped, "
            f"{job.excluded} left out)"
        )
        if job.last_skip:
            console.print(f"  last skipped: {job.last_skip}", soft_wrap=True)
    if sync.connection_id is not None:
        waits = f", tries again at {sync.retry_at}" if sync.retry_at else ""
        remedy = f", needs: {sync.remedy}" if sync.remedy else ""
        console.print(
            f"  remote account through connection {sync.connection_id}: {sync.health}"
            f"{waits}{remedy}",
            soft_wrap=True,
        )
    if sync.last_error:
        console.print(f"  last error ({sync.last_error_at}): {sync.last_error}", soft_wrap=True)


async def _shown(db: Database, location: str, sync_id: str) -> SyncOut:
    async with db.reader() as session:
        return await sync_out(session, await service.find_sync(session, location, sync_id))


@sync_app.command("list")
def list_syncs(location: Location, as_json: AsJson = False) -> None:
    """The location's syncs, newest first, with their backfill's progress."""

    async def run(db: Database) -> list[SyncOut]:
        async with db.reader() as session:
            page = await service.list_syncs(session, location, before=None, limit=100)
            return [await sync_out(session, sync) for sync in page.rows]

    syncs = with_db(run)
    if as_json:
        echo_json(syncs)
        return
    table = Table(id_column("id"), "name", "object", "direction", "status", "linked", "backfill")
    for sync in syncs:
        job = sync.backfill
        progress = f"{job.state} {job.done}/{job.total}" if job is not None else ""
        linked = str(sync.linked)
        table.add_row(
            sync.id, sync.name, sync.object, sync.direction, sync.status, linked, progress
        )
    print_table(table)


@sync_app.command("create")
def create_sync(
    location: Location,
    sync_object: Annotated[
        str,
        typer.Option(
            "--object", help="contacts, tasks, notes or appointments (of linked contacts)."
        ),
    ] = "contacts",
    name: Annotated[
        str | None, typer.Option(help="What the sync is called (default: by its object).")
    ] = None,
    direction: Annotated[
        str | None,
        typer.Option(help="crmToMailsuite, mailsuiteToCrm or both (default: the object's)."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="crmField=mailsuiteField[:crmWins|mailsuiteWins|newestWins|manual], repeated "
            "(default: names, email, phone, tags as customFields.tags).",
        ),
    ] = None,
    on_delete: Annotated[
        str, typer.Option(help="When a record is deleted: ignore, propagate or hold.")
    ] = "ignore",
    connection: Annotated[
        str | None,
        typer.Option(help="A connection to a remote account, whose contacts are synced."),
    ] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Only contacts with one of these tags (repeated)."),
    ] = None,
    created_within: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Only contacts added within the last DAYS."),
    ] = None,
    updated_within: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Only contacts updated within the last DAYS."),
    ] = None,
) -> None:
    """Create a sync of contacts (or of their tasks, notes, appointments); its backfill starts
    at once (the workers run it). Prints its id."""
    objects: tuple[SyncObject, ...] = SYNC_OBJECTS
    carried = next((value for value in objects if value == sync_object), None)
    if carried is None:
        raise typer.BadParameter(", ".join(objects), param_hint="--object")
    directions: tuple[Direction, ...] = ("crmToMailsuite", "mailsuiteToCrm", "both")
    chosen = next((value for value in directions if value == direction), None)
    if chosen is None and direction is not None:
        raise typer.BadParameter(", ".join(directions), param_hint="--direction")
    policies: tuple[DeletePolicy, ...] = ("ignore", "propagate", "hold")
    policy = next((value for value in policies if value == on_delete), None)
    if policy is None:
        raise typer.BadParameter(", ".join(policies), param_hint="--on-delete")

    for position, tag in enumerate(tags or []):
        if not tag.strip():
            raise typer.BadParameter(f"tag {position + 1} is empty", param_hint="--tag")
    segment = Segment.given(tags or [], created_within, updated_within)

    async def run(db: Database) -> str:
        entries = [_field_map(text, n) for n, text in enumerate(mapping)] if mapping else None
        wanted = service.SyncSettings(
            name,
            carried,
            chosen,
            tuple(entries) if entries else None,
            on_delete=policy,
            connection_id=connection,
            segment=segment,
        )
        async with db.unit_of_work() as uow:
            return (await service.create_sync(uow, location, wanted)).id

    console.print(with_db(run))


Follow = Annotated[
    bool, typer.Option(help="Follow the backfill on a progress bar until it is done.")
]


async def _followed(db: Database, location: str, sync: SyncOut) -> SyncOut:
    """`sync` once its backfill has finished, shown on a progress bar meanwhile."""
    if sync.backfill is None or sync.backfill.state == FINISHED:
        return sync
    columns = (
        TextColumn("backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with ProgressDisplay(*columns, console=stderr_console) as shown:
        task = shown.add_task("backfill", total=sync.backfill.total, rate="")
        while sync.backfill is not None and sync.backfill.state != FINISHED:
            rate = sync.backfill.per_second
            shown.update(
                task,
                total=sync.backfill.total,
                completed=sync.backfill.done,
                rate=f"{rate:.0f}/s" if rate else "",
            )
            await asyncio.sleep(FOLLOW_SECONDS)
            sync = await _shown(db, location, sync.id)
        shown.update(task, completed=sync.backfill.done if sync.backfill else 0)
    return sync


@sync_app.command("show")
def show_sync(
    sync_id: SyncId,
    location: Location,
    follow: Follow = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """A sync: its mapping, pairs linked, and its backfill's progress."""

    async def run(db: Database) -> SyncOut:
        sync = await _shown(db, location, sync_id)
        return await _followed(db, location, sync) if follow else sync

    sync = with_db(run)
    if as_json:
        echo_json([sync])
        return
    _print(sync)


@sync_app.command("resync")
def resync_sync(sync_id: SyncId, location: Location, follow: Follow = False) -> None:
    """Run the sync's backfill again from the first record, keeping its identity map: every
    linked pair is compared again and every record not linked is linked. Refused while the
    backfill runs or the sync is paused."""

    async def run(db: Database) -> SyncOut:
        async with db.unit_of_work() as uow:
            sync = await sync_out(uow.session, await service.resync(uow, location, sync_id))
        return await _followed(db, location, sync) if follow else sync

    _print(with_db(run))


def _set_status(location: str, sync_id: str, status: SyncStatus) -> None:
    async def run(db: Database) -> SyncOut:
        async with db.unit_of_work() as uow:
            sync = await service.set_status(uow, location, sync_id, status)
            return await sync_out(uow.session, sync)

    _print(with_db(run))


@sync_app.command("pause")
def pause_sync(sync_id: SyncId, location: Location) -> None:
    """Pause a sync: changes wait in the event log, the backfill stops after its batch."""
    _set_status(location, sync_id, PAUSED)


@sync_app.command("resume")
def resume_sync(sync_id: SyncId, location: Location) -> None:
    """Resume a sync from where its changes and its backfill stopped."""
    _set_status(location, sync_id, ACTIVE)


cli_sync_reconcile.install(sync_app)
cli_sync_conflicts.install(sync_app)
