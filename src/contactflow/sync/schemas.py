"""Wire models of /sync/v1: camelCase on the wire; requests refuse unknown properties."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from contactflow.platform.wire import RequestModel, WireModel
from contactflow.sync.fields import DEFAULT_CONFLICT, Conflict, FieldMap
from contactflow.sync.models import (
    ChangeDirection,
    ChangeResult,
    ConflictChoice,
    ConflictState,
    DeletePolicy,
    Direction,
    FindingKind,
    FindingState,
    HeldState,
    ReconciliationState,
    RecordStatus,
    RepairState,
    SideName,
    SyncObject,
    SyncStatus,
)
from contactflow.sync.segments import Segment

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=80)]
Health = Literal["ok", "backingOff", "failing"]


class FieldMapIn(RequestModel):
    """A Contacts API field and the Mailsuite field kept equal to it, and who wins when both
    changed since they were last synced."""

    crm: FieldName
    mailsuite: FieldName
    conflict: Conflict = DEFAULT_CONFLICT

    def entry(self) -> FieldMap:
        return FieldMap(self.crm, self.mailsuite, self.conflict)


Mapping = Annotated[list[FieldMapIn], Field(min_length=1, max_length=50)]
# Minutes between scheduled reconciliations (at most a week); 0 turns them off.
ReconcileEvery = Annotated[int, Field(ge=0, le=10080)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=255)]
# A window of days back from now: at least one day, at most ten years.
WithinDays = Annotated[int, Field(strict=True, ge=1, le=3650)]


class SegmentIn(RequestModel):
    """Which contacts a sync covers: those with any of `tags`, added within the last
    `createdWithinDays`, updated within the last `updatedWithinDays`; all that are given at
    once. `{}` covers every contact."""

    tags: Annotated[list[Tag], Field(max_length=100)] = []
    created_within_days: WithinDays | None = None
    updated_within_days: WithinDays | None = None

    def segment(self) -> Segment:
        return Segment.given(self.tags, self.created_within_days, self.updated_within_days)


class SyncCreate(RequestModel):
    # Contacts, or a contact's tasks, notes or appointments (docs/sync.md). Without a name,
    # direction or mapping, the object's own: for contacts "Contacts <-> Mailsuite", both
    # ways, names, email, phone, and tags as the Mailsuite custom field `tags`.
    object: SyncObject = "contacts"
    name: Name | None = None
    direction: Direction | None = None
    mapping: Mapping | None = None
    reconcile_every_minutes: ReconcileEvery = 0
    # What a record's delete does to its partner: deleted too, kept, or held for a person.
    on_delete: DeletePolicy = "ignore"
    # A connection to a remote HighLevel-compatible account: its contacts are the CRM side.
    connection_id: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    # Which contacts it covers (a contacts sync); without one, every contact.
    segment: SegmentIn | None = None


class SyncUpdate(RequestModel):
    name: Name | None = None
    direction: Direction | None = None
    mapping: Mapping | None = None
    # A new segment (`{}`: every contact again); left out, the segment stays.
    segment: SegmentIn | None = None
    reconcile_every_minutes: ReconcileEvery | None = None
    on_delete: DeletePolicy | None = None


class FieldMapOut(WireModel):
    crm: str
    mailsuite: str
    conflict: Conflict


class SegmentOut(WireModel):
    tags: list[str]
    created_within_days: int | None
    updated_within_days: int | None


class BackfillOut(WireModel):
    state: str
    # Whose records it walks: the Contacts API's, then (a sync that writes the Contacts API)
    # the Mailsuite records no link names.
    walking: SideName
    # Records walked of those there were when it started; how they were linked, or that the
    # segment left them out.
    done: int
    total: int
    matched: int
    created: int
    skipped: int
    excluded: int
    last_skip: str | None
    per_second: float | None
    seconds_left: float | None
    started_at: str
    finished_at: str | None


class SyncOut(WireModel):
    id: str
    location_id: str
    name: str
    object: SyncObject
    direction: Direction
    mapping: list[FieldMapOut]
    segment: SegmentOut
    status: SyncStatus
    linked: int
    # Records of a contact (tasks, notes) waiting for their contact to be linked.
    waiting: int
    # Records the segment leaves out (of a remote account: those its last backfill left out).
    excluded: int
    backfill: BackfillOut | None
    last_error: str | None
    last_error_at: str | None
    # The remote account's connection (None: this workspace's contacts); whether the sync
    # keeps up with it (backingOff: the remote failed, tried again at retryAt; failing: it
    # needs a person, `remedy` says what).
    connection_id: str | None
    health: Health
    remedy: Literal["reconnect"] | None
    retry_at: str | None
    on_delete: DeletePolicy
    # Linked pairs whose last change a side refused (their history says why).
    failing: int
    # Conflicts held for a person (fields whose policy is `manual`), still open.
    open_conflicts: int
    reconcile_every_minutes: int | None
    next_reconciliation_at: str | None
    created_at: str
    updated_at: str


class SyncEnvelope(WireModel):
    sync: SyncOut


class SyncList(WireModel):
    syncs: list[SyncOut]
    next_cursor: str | None


class FoundOut(WireModel):
    """Findings of a reconciliation, by kind."""

    missing_in_crm: int = 0
    missing_in_mailsuite: int = 0
    differs: int = 0
    conflict: int = 0
    orphan: int = 0


class RepairOut(WireModel):
    state: RepairState
    # Findings handled (repaired or failed) of those open when the repair began.
    done: int
    total: int
    failed: int


class ReconciliationOut(WireModel):
    id: str
    sync_id: str
    scheduled: bool
    state: ReconciliationState
    # Pairs in step, and records not judged because a change to them waits to be synced.
    in_sync: int
    pending: int
    found: FoundOut
    seconds: float | None
    repair: RepairOut | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class ReconciliationEnvelope(WireModel):
    reconciliation: ReconciliationOut


class ReconciliationList(WireModel):
    reconciliations: list[ReconciliationOut]
    next_cursor: str | None


class FindingOut(WireModel):
    id: str
    reconciliation_id: str
    kind: FindingKind
    crm_id: str | None
    mailsuite_id: str | None
    # The mapped fields out of step, by their Contacts API names.
    fields: list[str]
    detail: str | None
    state: FindingState
    outcome: str | None
    repaired_at: str | None


class FindingEnvelope(WireModel):
    finding: FindingOut


class FindingList(WireModel):
    findings: list[FindingOut]
    next_cursor: str | None


class HeldDeleteOut(WireModel):
    id: str
    sync_id: str
    # The side whose record was deleted, that record, and its partner waiting.
    side: SideName
    record_id: str
    partner_id: str
    state: HeldState
    outcome: str | None
    created_at: str
    decided_at: str | None


class HeldDeleteEnvelope(WireModel):
    held_delete: HeldDeleteOut


class HeldDeleteList(WireModel):
    held_deletes: list[HeldDeleteOut]
    next_cursor: str | None


Text = Annotated[str, StringConstraints(max_length=1000)]
Value = Text | Annotated[list[Text], Field(max_length=100)] | None


class ConflictOut(WireModel):
    id: str
    sync_id: str
    crm_id: str
    mailsuite_id: str
    # The field by its Contacts API name; each side's value in that side's own form.
    field: str
    crm_value: Value
    mailsuite_value: Value
    crm_changed_at: str | None
    mailsuite_changed_at: str | None
    state: ConflictState
    chosen: ConflictChoice | None
    resolved_by: str | None
    created_at: str
    updated_at: str
    resolved_at: str | None


class ConflictEnvelope(WireModel):
    conflict: ConflictOut


class ConflictList(WireModel):
    conflicts: list[ConflictOut]
    next_cursor: str | None


class ConflictResolve(RequestModel):
    """Keep one side's value on both sides, or (`keep: "value"`) a value of one's own, in
    the Contacts API's form (a list of texts for tags)."""

    keep: ConflictChoice
    value: Value = None

    @model_validator(mode="after")
    def _value_only_with_keep_value(self) -> "ConflictResolve":
        if self.keep != "value" and self.value is not None:
            raise ValueError('value: give a value only with keep "value"')
        return self


class ChangeOut(WireModel):
    direction: ChangeDirection
    # Contacts API names of the fields carried.
    fields: list[str]
    result: ChangeResult
    reason: str | None
    at: str


class HistoryOut(WireModel):
    crm_id: str
    mailsuite_id: str
    changes: list[ChangeOut]


class SyncRecordOut(WireModel):
    """One record behind a sync's count: its ids on each side (the Mailsuite one once
    linked), a contact's name and email, when it was last synced (a waiting record: since
    when it waits; a conflict: when it was last brought up to date), why it is where it is,
    and its linked pair's history."""

    crm_id: str | None
    mailsuite_id: str | None
    status: RecordStatus
    name: str | None
    email: str | None
    at: str | None
    reason: str | None
    history: str | None


class SyncRecordList(WireModel):
    records: list[SyncRecordOut]
    next_cursor: str | None
