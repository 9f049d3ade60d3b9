"""Syncs as the API and the CLI show them: with their backfill's progress and the number of
pairs linked; their reconciliations and findings."""

from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.clock import to_iso
from contactflow.platform.issues import RECONNECT
from contactflow.sync.backfill import Progress
from contactflow.sync.models import (
    RecordStatus,
    SideName,
    Sync,
    SyncBackfill,
    SyncChange,
    SyncConflict,
    SyncFinding,
    SyncHeldDelete,
    SyncReconciliation,
)
from contactflow.sync.objects import kind_of
from contactflow.sync.schemas import (
    BackfillOut,
    ChangeOut,
    ConflictOut,
    FieldMapOut,
    FindingOut,
    FoundOut,
    Health,
    HeldDeleteOut,
    ReconciliationOut,
    RepairOut,
    SegmentOut,
    SyncOut,
    SyncRecordOut,
)
from contactflow.sync.segments import Segment
from contactflow.sync.sides import Record
from contactflow.sync.statuses import Listed, count


def backfill_out(job: SyncBackfill) -> BackfillOut:
    progress = Progress.of(job)
    return BackfillOut(
        state=job.state,
        walking=job.walking,
        done=job.done,
        total=job.total,
        matched=job.matched,
        created=job.created,
        skipped=job.skipped,
        excluded=job.excluded,
        last_skip=job.last_skip,
        per_second=round(progress.per_second, 2) if progress.per_second is not None else None,
        seconds_left=(
            round(progress.seconds_left, 1) if progress.seconds_left is not None else None
        ),
        started_at=to_iso(job.started_at),
        finished_at=to_iso(job.finished_at),
    )


def segment_out(segment: Segment) -> SegmentOut:
    return SegmentOut(
        tags=list(segment.tags),
        created_within_days=segment.created_within_days,
        updated_within_days=segment.updated_within_days,
    )


def segment_words(segment: SegmentOut) -> str:
    """Which contacts a segment covers, in words."""
    parts = []
    if segment.tags:
        parts.append(f"tagged {' or '.join(segment.tags)}")
    if segment.created_within_days is not None:
        parts.append(f"added in the last {segment.created_within_days} days")
    if segment.updated_within_days is not None:
        parts.append(f"updated in the last {segment.updated_within_days} days")
    return "contacts " + ", ".join(parts) if parts else "every contact"


def health(sync: Sync) -> Health:
    """Whether the sync keeps up with its remote account."""
    if sync.remedy is not None:
        return "failing"
    return "backingOff" if sync.retry_at is not None else "ok"


async def count_excluded(session: AsyncSession, sync: Sync, job: SyncBackfill | None) -> int:
    """The records the sync's segment leaves out now (sync/statuses.py); of a remote account,
    those its last backfill left out."""
    if sync.connection_id is not None:
        return job.excluded if job is not None else 0
    return await count(session, sync, "excluded")


async def sync_out(session: AsyncSession, sync: Sync) -> SyncOut:
    job = await session.get(SyncBackfill, sync.id, populate_existing=True)
    return SyncOut(
        id=sync.id,
        location_id=sync.location_id,
        name=sync.name,
        object=sync.object,
        direction=sync.direction,
        mapping=[FieldMapOut.model_validate(entry) for entry in sync.mapping],
        segment=segment_out(Segment.of(sync.segment)),
        status=sync.status,
        linked=await count(session, sync, "linked"),
        waiting=await count(session, sync, "waiting"),
        excluded=await count_excluded(session, sync, job),
        backfill=backfill_out(job) if job is not None else None,
        last_error=sync.last_error,
        last_error_at=to_iso(sync.last_error_at),
        connection_id=sync.connection_id,
        health=health(sync),
        remedy="reconnect" if sync.remedy == RECONNECT else None,
        retry_at=to_iso(sync.retry_at),
        on_delete=sync.on_delete,
        failing=await count(session, sync, "failing"),
        open_conflicts=await count(session, sync, "conflict"),
        reconcile_every_minutes=sync.reconcile_minutes,
        next_reconciliation_at=to_iso(sync.reconcile_due_at),
        created_at=to_iso(sync.created_at),
        updated_at=to_iso(sync.updated_at),
    )


def reconciliation_out(reconciliation: SyncReconciliation) -> ReconciliationOut:
    repair = None
    if reconciliation.repair_state is not None:
        repair = RepairOut(
            state=reconciliation.repair_state,
            done=reconciliation.repair_done,
            total=reconciliation.repair_total,
            failed=reconciliation.repair_failed,
        )
    return ReconciliationOut(
        id=reconciliation.id,
        sync_id=reconciliation.sync_id,
        scheduled=reconciliation.scheduled,
        state=reconciliation.state,
        in_sync=reconciliation.in_sync,
        pending=reconciliation.pending,
        found=FoundOut.model_validate(reconciliation.found or {}),
        seconds=reconciliation.seconds,
        repair=repair,
        created_at=to_iso(reconciliation.created_at),
        started_at=to_iso(reconciliation.started_at),
        finished_at=to_iso(reconciliation.finished_at),
    )


def finding_out(finding: SyncFinding) -> FindingOut:
    return FindingOut(
        id=finding.id,
        reconciliation_id=finding.reconciliation_id,
        kind=finding.kind,
        crm_id=finding.crm_id,
        mailsuite_id=finding.mailsuite_id,
        fields=list(finding.fields or []),
        detail=finding.detail,
        state=finding.state,
        outcome=finding.outcome,
        repaired_at=to_iso(finding.repaired_at),
    )


def held_out(held: SyncHeldDelete) -> HeldDeleteOut:
    return HeldDeleteOut(
        id=held.id,
        sync_id=held.sync_id,
        side=held.side,
        record_id=held.record_id,
        partner_id=held.partner_id,
        state=held.state,
        outcome=held.outcome,
        created_at=to_iso(held.created_at),
        decided_at=to_iso(held.decided_at),
    )


def conflict_out(row: SyncConflict) -> ConflictOut:
    return ConflictOut(
        id=row.id,
        sync_id=row.sync_id,
        crm_id=row.crm_id,
        mailsuite_id=row.mailsuite_id,
        field=row.field,
        crm_value=row.crm_value,
        mailsuite_value=row.mailsuite_value,
        crm_changed_at=to_iso(row.crm_changed_at),
        mailsuite_changed_at=to_iso(row.mailsuite_changed_at),
        state=row.state,
        chosen=row.chosen,
        resolved_by=row.resolved_by,
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
        resolved_at=to_iso(row.resolved_at),
    )


def change_out(row: SyncChange) -> ChangeOut:
    return ChangeOut(
        direction=row.direction,
        fields=list(row.fields or []),
        result=row.result,
        reason=row.reason,
        at=to_iso(row.at),
    )


# A contact's name and email, by its id on either side.
Names = dict[str, tuple[str | None, str | None]]


async def names_of(session: AsyncSession, sync: Sync, rows: list[Listed]) -> Names:
    """The name and email of the contacts of `rows`, when the sync's records are contacts:
    read from this workspace (the Mailsuite contacts, and the Contacts API's unless they are
    a remote account's, which are not called for this) in a query a side."""
    if sync.object != "contacts":
        return {}
    kind, found = kind_of(sync.object), list[Record]()
    sides: dict[SideName, list[str]] = {
        "mailsuite": [row.mailsuite_id for row in rows if row.mailsuite_id]
    }
    if sync.connection_id is None:
        sides["crm"] = [row.crm_id for row in rows if row.crm_id]
    for side, ids in sides.items():
        if ids:
            found += (await kind.reads[side](session, sync.location_id, ids)).values()
    names: Names = {}
    for record in found:
        given = (record.values.get("firstName"), record.values.get("lastName"))
        name = " ".join(str(part) for part in given if part) or None
        names[record.id] = (name, record.values.get("email"))
    return names


def record_out(sync: Sync, status: RecordStatus, row: Listed, names: Names) -> SyncRecordOut:
    name, email = names.get(row.crm_id or "") or names.get(row.mailsuite_id or "") or (None, None)
    return SyncRecordOut(
        crm_id=row.crm_id,
        mailsuite_id=row.mailsuite_id,
        status=status,
        name=name,
        email=email,
        at=to_iso(row.at),
        reason=row.reason,
        history=(
            None if row.pair is None else f"/sync/v1/syncs/{sync.id}/links/{row.pair}/history"
        ),
    )
