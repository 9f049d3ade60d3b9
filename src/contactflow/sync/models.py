"""The sync context's tables: a sync (what is kept in step, which way, field by field), its
identity map (one row per linked pair, with its recent history), its backfill job, its
reconciliations with their findings, the conflicts and deletes held for a person, and the
records that wait for their contact to be linked."""

from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform import tracing
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, UTCDateTime
from contactflow.platform.ids import new_id

# Contacts, and what belongs to a contact: its tasks, notes and appointments (sync/objects.py).
SyncObject = Literal["contacts", "tasks", "notes", "appointments"]
SYNC_OBJECTS: Final[tuple[SyncObject, ...]] = ("contacts", "tasks", "notes", "appointments")
Direction = Literal["crmToMailsuite", "mailsuiteToCrm", "both"]
SyncStatus = Literal["active", "paused"]
BackfillState = Literal["running", "finished"]
ACTIVE: Final = "active"
PAUSED: Final = "paused"
RUNNING: Final = "running"
FINISHED: Final = "finished"
# Who made a linked pair's last synced state: the backfill, a change on one side, a repair.
LinkOrigin = Literal["backfill", "crm", "mailsuite", "repair"]
SideName = Literal["crm", "mailsuite"]
# What a record's delete does to its partner: deleted too, kept, or held for a person.
DeletePolicy = Literal["propagate", "ignore", "hold"]
HeldState = Literal["held", "approved", "rejected"]
HELD: Final = "held"
ReconciliationState = Literal["queued", "running", "finished", "failed"]
QUEUED: Final = "queued"
RepairState = Literal["running", "finished", "failed"]
# What a reconciliation finds wrong with one record or pair (docs/sync.md).
FindingKind = Literal["missingInCrm", "missingInMailsuite", "differs", "conflict", "orphan"]
FINDING_KINDS: Final = ("missingInCrm", "missingInMailsuite", "differs", "conflict", "orphan")
FindingState = Literal["open", "repaired", "failed"]
OPEN: Final = "open"
REPAIRED: Final = "repaired"
FAILED: Final = "failed"
# A field changed on both sides whose policy is `manual`: open until a person picks a value.
ConflictState = Literal["open", "resolved"]
RESOLVED: Final = "resolved"
# What a person kept: one side's value, or a value of their own written to both.
ConflictChoice = Literal["crm", "mailsuite", "value"]
# Which way a pair's change went (both: a conflict held), and what became of it.
ChangeDirection = Literal["crmToMailsuite", "mailsuiteToCrm", "both"]
ChangeResult = Literal["written", "conflict", "refused"]
# Where a record of a sync stands, one status per count of the sync (sync/statuses.py).
RecordStatus = Literal["linked", "waiting", "excluded", "failing", "conflict"]


def sync_origin(sync_id: str) -> str:
    """The origin of the events a sync's writes cause: how it knows its own echoes."""
    return f"sync:{sync_id}"


# A sync batch's span (tracing): how many records or events it took.
RECORDS: Final = "contactflow.sync.records"


def batch_attributes(sync: "Sync", kind: str) -> tracing.Attributes:
    """The attributes of a sync batch's span: the sync, its location, the kind of batch."""
    return {
        tracing.LOCATION: sync.location_id,
        "contactflow.sync.id": sync.id,
        "contactflow.sync.batch": kind,
    }


class Sync(Base):
    __tablename__ = "syncs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    object: Mapped[SyncObject] = mapped_column(String(32))
    direction: Mapped[Direction] = mapped_column(String(16))
    # [{"crm": field, "mailsuite": field, "conflict": policy}, ...] (sync/fields.py)
    mapping: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    # Which contacts it covers: {"tags": [...], "createdWithinDays": n, "updatedWithinDays": n}
    # (sync/segments.py); None: every contact. A sync of a contact's records has none: it
    # covers the records of the contacts its contacts sync covers.
    segment: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[SyncStatus] = mapped_column(String(16))
    # The last pair that could not be synced, and why (a person reads it on the sync).
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_delete: Mapped[DeletePolicy] = mapped_column(
        String(16), default="ignore", server_default="ignore"
    )
    # Scheduled reconciliations: every so many minutes (None: on demand only), next one due.
    reconcile_minutes: Mapped[int | None] = mapped_column(Integer)
    reconcile_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The connection to a remote account whose contacts are the CRM side; None: this
    # workspace's own (docs/adr/0036).
    connection_id: Mapped[str | None] = mapped_column(ForeignKey("connections.id"))
    # A remote that failed: nothing is tried before `retry_at`, each failure in a row waiting
    # twice as long; `remedy` is what it asks of a person (reconnect: the sync is failing).
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    remedy: Mapped[str | None] = mapped_column(String(32))
    # The worker making a remote sync's calls, until when (calls are outside transactions).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Two syncs of the same objects in one location would write against each other.
    __table_args__ = (
        UniqueConstraint("location_id", "object"),
        Index(None, "location_id", "created_at", "id"),
        Index(None, "reconcile_due_at"),
    )


class SyncLink(Base):
    """One linked pair: a Contacts API record and its Mailsuite record, with each side's
    mapped fields as last synced (a hash per field, and of them all). A change whose side
    still hashes as last synced is the sync's own write coming back, never synced again."""

    __tablename__ = "sync_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sync_id: Mapped[str] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"))
    object: Mapped[SyncObject] = mapped_column(String(32))
    crm_id: Mapped[str] = mapped_column(String(64))
    mailsuite_id: Mapped[str] = mapped_column(String(64))
    crm_hash: Mapped[str] = mapped_column(String(64))
    mailsuite_hash: Mapped[str] = mapped_column(String(64))
    crm_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    mailsuite_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    origin: Mapped[LinkOrigin] = mapped_column(String(16))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The side whose record was deleted while its partner was kept: the pair stays as a
    # marker, so the survivor is neither linked again nor reported missing.
    gone: Mapped[SideName | None] = mapped_column(String(16))

    # Unique per side: a record is linked once, whatever matched it.
    __table_args__ = (
        UniqueConstraint("sync_id", "object", "crm_id"),
        UniqueConstraint("sync_id", "object", "mailsuite_id"),
    )


class SyncBackfill(Base):
    """A sync's first pass over the Contacts API's records, in keyset order (date added,
    id), then (a sync that writes the Contacts API) over the Mailsuite records no link names,
    in id order. Each batch is one transaction that links its records and moves the position
    past them: a restart resumes after the last committed batch and links nothing twice."""

    __tablename__ = "sync_backfills"

    sync_id: Mapped[str] = mapped_column(
        ForeignKey("syncs.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[BackfillState] = mapped_column(String(16))
    # Whose records it walks: the Contacts API's, then the Mailsuite's (the position is then
    # `after_id` alone).
    walking: Mapped[SideName] = mapped_column(String(16), default="crm", server_default="crm")
    # Records there were when it started; walked so far, of which matched an existing
    # Mailsuite record, created one, were skipped (the last reason kept), or were left out
    # by the sync's segment.
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    excluded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_skip: Mapped[str | None] = mapped_column(Text)
    after_added_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    after_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "state", "updated_at"),)


class SyncReconciliation(Base):
    """One comparison of both sides of a sync through its identity map, with how many pairs
    were in step and what it found wrong (its findings), and the repair of those findings
    as a job: done (repaired or failed) of total."""

    __tablename__ = "sync_reconciliations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sync_id: Mapped[str] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"))
    # Asked for by a person (the API, the CLI, the dashboard) or by the sync's schedule.
    scheduled: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[ReconciliationState] = mapped_column(String(16))
    # Pairs in step, records skipped because a change to them waits in the event log, and
    # the findings of each kind: {"missingInCrm": n, ...}.
    in_sync: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[int] = mapped_column(Integer, default=0)
    found: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    seconds: Mapped[float | None] = mapped_column(Float)
    repair_state: Mapped[RepairState | None] = mapped_column(String(16))
    repair_total: Mapped[int] = mapped_column(Integer, default=0)
    repair_done: Mapped[int] = mapped_column(Integer, default=0)
    repair_failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(None, "sync_id", "created_at", "id"),
        Index(None, "state", "created_at"),
        Index(None, "repair_state"),
    )


class SyncFinding(Base):
    """One record or pair a reconciliation found out of step: which records, which mapped
    fields (by their Contacts API names), and what its repair did."""

    __tablename__ = "sync_findings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    reconciliation_id: Mapped[str] = mapped_column(
        ForeignKey("sync_reconciliations.id", ondelete="CASCADE")
    )
    kind: Mapped[FindingKind] = mapped_column(String(32))
    crm_id: Mapped[str | None] = mapped_column(String(64))
    mailsuite_id: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    detail: Mapped[str | None] = mapped_column(Text)
    state: Mapped[FindingState] = mapped_column(String(16), default=OPEN)
    outcome: Mapped[str | None] = mapped_column(Text)
    repaired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(None, "reconciliation_id", "id"),
        Index(None, "reconciliation_id", "state", "id"),
    )


class SyncHeldDelete(Base):
    """A record deleted on one side whose partner waits for a person (the sync's delete
    policy `hold`): approved, the partner is deleted too; rejected, it is kept."""

    __tablename__ = "sync_held_deletes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sync_id: Mapped[str] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"))
    # The side whose record was deleted, that record, and its partner on the other side.
    side: Mapped[SideName] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(64))
    partner_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[HeldState] = mapped_column(String(16), default=HELD)
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "sync_id", "created_at", "id"),)


class SyncConflict(Base):
    """A mapped field of a pair changed on both sides to different values while its policy
    is `manual`: nothing is written to it until a person picks a side (or a value). One open
    conflict per pair and field, brought up to date when the sides change again."""

    __tablename__ = "sync_conflicts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sync_id: Mapped[str] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"))
    crm_id: Mapped[str] = mapped_column(String(64))
    mailsuite_id: Mapped[str] = mapped_column(String(64))
    # The field by its Contacts API name, and each side's value in that side's own form.
    field: Mapped[str] = mapped_column(String(80))
    crm_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    mailsuite_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    crm_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mailsuite_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[ConflictState] = mapped_column(String(16), default=OPEN)
    chosen: Mapped[ConflictChoice | None] = mapped_column(String(16))
    resolved_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(None, "sync_id", "state", "created_at", "id"),
        Index(None, "sync_id", "crm_id", "state"),
    )


class SyncChange(Base):
    """One change the sync carried for a linked pair (its history, the newest few kept):
    which way, which fields (by their Contacts API names), and what became of it."""

    __tablename__ = "sync_changes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sync_id: Mapped[str] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"))
    crm_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[ChangeDirection] = mapped_column(String(16))
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    result: Mapped[ChangeResult] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index(None, "sync_id", "crm_id", "at", "id"),
        # The pairs whose last change was refused are found from their refusals.
        Index(None, "sync_id", "result"),
    )


class SyncPending(Base):
    """A record of a contact's (a task, a note) that waits for its contact to be linked by the
    location's contacts sync: it is synced as soon as the contact has its partner."""

    __tablename__ = "sync_pending"

    sync_id: Mapped[str] = mapped_column(
        ForeignKey("syncs.id", ondelete="CASCADE"), primary_key=True
    )
    side: Mapped[SideName] = mapped_column(String(16), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The contact it belongs to, on the record's side.
    parent_id: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "sync_id", "side", "parent_id"),)
