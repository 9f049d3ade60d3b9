"""Wire models of /mailsuite/v1: camelCase on the wire, snake_case in Python. Request models
refuse unknown properties, so a misspelt field is a 422 naming it."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from contactflow.mailsuite.models import (
    ContactStatus,
    TaskStatus,
    TimelineKind,
)
from contactflow.platform.wire import RequestModel as Request
from contactflow.platform.wire import WireModel as Wire

Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(max_length=255)]
Address = Annotated[str, StringConstraints(min_length=1, max_length=320)]
Body = Annotated[str, StringConstraints(max_length=256 * 1024)]
CustomKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
CustomValue = Annotated[str, StringConstraints(max_length=1000)] | int | float | bool | None
PerMinute = Annotated[int, Field(ge=1, le=100_000)]
IdList = Annotated[list[Id], Field(min_length=1, max_length=1000)]
SettableStatus = Literal["subscribed", "unsubscribed"]


# Workspace ----------------------------------------------------------------------------


class WorkspaceUpdate(Request):
    name: Name


class WorkspaceOut(Wire):
    location_id: str
    name: str
    custom_field_keys: list[str]
    created_at: str | None


class WorkspaceEnvelope(Wire):
    workspace: WorkspaceOut


# Contacts -----------------------------------------------------------------------------


class ContactFields(Request):
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    custom_fields: Annotated[dict[CustomKey, CustomValue], Field(max_length=100)] | None = None
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class ContactCreate(ContactFields):
    email: Address
    subscription_status: SettableStatus = "subscribed"


class ContactUpdate(ContactFields):
    email: Address | None = None
    subscription_status: SettableStatus | None = None


class ContactOut(Wire):
    id: str
    location_id: str
    email: str
    first_name: str | None
    last_name: str | None
    name: str
    phone: str | None
    custom_fields: dict[str, Any]
    subscription_status: ContactStatus
    status_reason: str | None
    status_changed_at: str | None
    source: str
    crm_contact_id: str | None
    created_at: str
    updated_at: str


class ContactEnvelope(Wire):
    contact: ContactOut


class ContactUpserted(Wire):
    contact: ContactOut
    new: bool


class ContactList(Wire):
    contacts: list[ContactOut]
    next_cursor: str | None


# Lists --------------------------------------------------------------------------------


class ListCreate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    description: Annotated[str, StringConstraints(max_length=1000)] = ""


class ListUpdate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None


class ListOut(Wire):
    id: str
    name: str
    description: str
    member_count: int
    created_at: str
    updated_at: str


class ListEnvelope(Wire):
    list: ListOut


class ListList(Wire):
    lists: list[ListOut]
    next_cursor: str | None


class MembersBody(Request):
    contact_ids: IdList


class MembersAdded(Wire):
    added: list[str]
    already_members: list[str]


class MemberOut(Wire):
    contact: ContactOut
    added_at: str


class MemberList(Wire):
    members: list[MemberOut]
    next_cursor: str | None


# Tasks --------------------------------------------------------------------------------


class TaskCreate(Request):
    """A task; one copied from another system names it and the original's id (a second
    task with the same source is the same task)."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    notes: Annotated[str, StringConstraints(max_length=50_000)] = ""
    due_at: datetime | None = None
    assignee_id: Id | None = None
    contact_id: Id | None = None
    source_system: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    source_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


class TaskUpdate(Request):
    title: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    notes: Annotated[str, StringConstraints(max_length=50_000)] | None = None
    due_at: datetime | None = None
    assignee_id: Id | None = None
    contact_id: Id | None = None
    status: TaskStatus | None = None


class TaskOut(Wire):
    id: str
    title: str
    notes: str
    due_at: str | None
    status: TaskStatus
    assignee_id: str | None
    contact_id: str | None
    completed_at: str | None
    source_system: str | None
    source_id: str | None
    created_at: str
    updated_at: str


class TaskEnvelope(Wire):
    task: TaskOut


class TaskList(Wire):
    tasks: list[TaskOut]
    next_cursor: str | None


# Timeline -----------------------------------------------------------------------------


class TimelineCreate(Request):
    kind: TimelineKind
    body: Annotated[str, StringConstraints(max_length=50_000)] = ""
    source_system: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "api"
    source_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    occurred_at: datetime | None = None


class TimelineOut(Wire):
    id: str
    contact_id: str
    kind: TimelineKind
    body: str
    source_system: str
    source_id: str | None
    email_id: str | None
    task_id: str | None
    occurred_at: str
    created_at: str


class TimelineEnvelope(Wire):
    entry: TimelineOut


class TimelineList(Wire):
    entries: list[TimelineOut]
    next_cursor: str | None
