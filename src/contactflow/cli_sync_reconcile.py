"""`contactflow sync reconcile | findings | repair`: a sync's two sides compared (the workers
run it; --wait follows it), what it found listed, and the findings repaired as a job."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from rich.table import Table

from contactflow.cli_support import AsJson, console, echo_json, id_column, print_table, with_db
from contactflow.platform.db import Database
from contactflow.sync import reconciliations
from contactflow.sync.models import FAILED, FINISHED
from contactflow.sync.schemas import FindingOut, ReconciliationOut
from contactflow.sync.wire import finding_out, reconciliation_out

Location = Annotated[str, typer.Option(help="The location the sync belongs to.")]
SyncId = Annotated[str, typer.Argument(help="The sync's id.")]
ReconciliationId = Annotated[str, typer.Argument(help="The reconciliation's id.")]
Wait = Annotated[bool, typer.Option(help="Wait until the workers have finished it.")]
# How often --wait looks again, and for how long at most.
WAIT_SECONDS = 0.2
WAIT_LIMIT = 600.0
FOUND = (
    ("missing_in_mailsuite", "missing in Mailsuite"),
    ("missing_in_crm", "missing in the CRM"),
    ("differs", "differing"),
    ("conflict", "in conflict"),
    ("orphan", "orphan links"),
)


def _print(reconciliation: ReconciliationOut) -> None:
    found = ", ".join(f"{getattr(reconciliation.found, name)} {label}" for name, label in FOUND)
    console.print(
        f"reconciliation {reconciliation.id} {reconciliation.state}: "
        f"{reconciliation.in_sync} in sync, {reconciliation.pending} waiting, {found}",
        soft_wrap=True,
    )
    repair = reconciliation.repair
    if repair is not None:
        console.print(
            f"repair {repair.state}: {repair.done} of {repair.total} ({repair.failed} failed)"
        )


async def _read(db: Database, location: str, sync_id: str, rid: str) -> ReconciliationOut:
    async with db.reader() as session:
        found = await reconciliations.find_reconciliation(session, location, sync_id, rid)
        return reconciliation_out(found)


async def _until(
    fetch: Callable[[], Awaitable[ReconciliationOut]],
    done: Callable[[ReconciliationOut], bool],
) -> ReconciliationOut:
    deadline = asyncio.get_running_loop().time() + WAIT_LIMIT
    shown = await fetch()
    while not done(shown) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(WAIT_SECONDS)
        shown = await fetch()
    return shown


def reconcile(sync_id: SyncId, location: Location, wait: Wait = False) -> None:
    """Compare both sides of a sync and find what is out of step (the workers run it)."""

    async def run(db: Database) -> ReconciliationOut:
        async with db.unit_of_work() as uow:
            made = await reconciliations.request(uow, location, sync_id)
            shown = reconciliation_out(made)
        if not wait:
            return shown
        return await _until(
            lambda: _read(db, location, sync_id, shown.id), lambda r: r.state in (FINISHED, FAILED)
        )

    _print(with_db(run))


def findings(
    sync_id: SyncId,
    reconciliation_id: ReconciliationId,
    location: Location,
    as_json: AsJson = False,
) -> None:
    """What a reconciliation found, the first 100."""

    async def run(db: Database) -> list[FindingOut]:
        async with db.reader() as session:
            found = await reconciliations.find_reconciliation(
                session, location, sync_id, reconciliation_id
            )
            rows, _ = await reconciliations.list_findings(session, found, after=None, limit=100)
            return [finding_out(row) for row in rows]

    rows = with_db(run)
    if as_json:
        echo_json(rows)
        return
    table = Table(id_column("id"), "kind", "crm", "mailsuite", "fields", "state", "outcome")
    for row in rows:
        table.add_row(
            row.id,
            row.kind,
            row.crm_id or "",
            row.mailsuite_id or "",
            ", ".join(row.fields),
            row.state,
            row.outcome or row.detail or "",
        )
    print_table(table)


def repair(
    sync_id: SyncId, reconciliation_id: ReconciliationId, location: Location, wait: Wait = False
) -> None:
    """Repair every open finding of a reconciliation (the workers run it as a job)."""

    async def run(db: Database) -> ReconciliationOut:
        async with db.unit_of_work() as uow:
            started = await reconciliations.start_repair(uow, location, sync_id, reconciliation_id)
            shown = reconciliation_out(started)
        if not wait:
            return shown
        return await _until(
            lambda: _read(db, location, sync_id, reconciliation_id),
            lambda r: r.repair is not None and r.repair.state in (FINISHED, FAILED),
        )

    _print(with_db(run))


def install(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
    app.command("findings")(findings)
    app.command("repair")(repair)
