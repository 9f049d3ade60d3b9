"""The sync context's events, appended in the transaction of what they tell: a record a side
refused, a field changed on both sides (and who won), a reconciliation finished (and, when it
found something out of step, drift found), findings repaired. Webhooks and flows
(core.sync.* triggers) tell the team."""

from collections.abc import Mapping
from typing import Any

from contactflow.platform import events
from contactflow.platform.clock import to_iso
from contactflow.platform.db import UnitOfWork
from contactflow.platform.event_types import (
    SYNC_CONFLICT,
    SYNC_DRIFT_FOUND,
    SYNC_FAILED,
    SYNC_RECONCILIATION_FINISHED,
    SYNC_REPAIRED,
)
from contactflow.sync.models import (
    SideName,
    Sync,
    SyncConflict,
    SyncFinding,
    SyncReconciliation,
)


async def _append(uow: UnitOfWork, sync: Sync, event_type: str, **fields: Any) -> None:
    payload = {"type": event_type, "locationId": sync.location_id, "syncId": sync.id, **fields}
    await events.append(uow, sync.location_id, event_type, payload, subject_id=sync.id)


async def failed(uow: UnitOfWork, sync: Sync, side: SideName, record_id: str, error: str) -> None:
    await _append(uow, sync, SYNC_FAILED, side=side, recordId=record_id, error=error)


async def conflict(
    uow: UnitOfWork, sync: Sync, crm_id: str, mailsuite_id: str, winners: Mapping[str, str]
) -> None:
    await _append(
        uow, sync, SYNC_CONFLICT, crmId=crm_id, mailsuiteId=mailsuite_id, winners=dict(winners)
    )


async def resolved(uow: UnitOfWork, sync: Sync, row: SyncConflict) -> None:
    """A conflict held for a person resolved: the side kept (or `value`, their own)."""
    await _append(
        uow,
        sync,
        SYNC_CONFLICT,
        crmId=row.crm_id,
        mailsuiteId=row.mailsuite_id,
        winners={row.field: row.chosen},
        conflictId=row.id,
        resolvedBy=row.resolved_by,
    )


async def reconciled(uow: UnitOfWork, sync: Sync, reconciliation: SyncReconciliation) -> None:
    counts = {
        "reconciliationId": reconciliation.id,
        "scheduled": reconciliation.scheduled,
        "inSync": reconciliation.in_sync,
        "pending": reconciliation.pending,
        "found": dict(reconciliation.found),
        "findings": sum(reconciliation.found.values()),
        "finishedAt": to_iso(reconciliation.finished_at),
    }
    await _append(uow, sync, SYNC_RECONCILIATION_FINISHED, **counts)
    if counts["findings"]:
        await _append(uow, sync, SYNC_DRIFT_FOUND, **counts)


async def repaired(
    uow: UnitOfWork,
    sync: Sync,
    reconciliation: SyncReconciliation,
    finding: SyncFinding | None = None,
) -> None:
    """One finding repaired (with it), or the repair of all of them finished."""
    if finding is not None:
        failures = int(finding.state == "failed")
        await _append(
            uow,
            sync,
            SYNC_REPAIRED,
            reconciliationId=reconciliation.id,
            findingId=finding.id,
            kind=finding.kind,
            outcome=finding.outcome,
            repaired=1 - failures,
            failed=failures,
        )
        return
    await _append(
        uow,
        sync,
        SYNC_REPAIRED,
        reconciliationId=reconciliation.id,
        repaired=reconciliation.repair_done - reconciliation.repair_failed,
        failed=reconciliation.repair_failed,
    )
