"""Wire models of the records around a contact: tasks, notes, appointments, businesses, users."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from contactflow.contacts.schemas import Id, LongText, Text255, Text500
from contactflow.platform.wire import RequestModel, WireModel

AppointmentStatus = Literal["new", "confirmed", "cancelled", "showed", "noshow", "invalid"]


class TaskCreate(RequestModel):
    title: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    body: LongText | None = None
    due_date: datetime
    completed: bool
    assigned_to: Id | None = None


class TaskUpdate(RequestModel):
    title: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    body: LongText | None = None
    due_date: datetime | None = None
    completed: bool | None = None
    assigned_to: Id | None = None


class TaskCompletedBody(RequestModel):
    completed: bool


class TaskOut(WireModel):
    id: str
    contact_id: str
    title: str
    body: str | None
    assigned_to: str | None
    due_date: str
    completed: bool
    date_added: str


class TaskEnvelope(WireModel):
    task: TaskOut


class TaskList(WireModel):
    tasks: list[TaskOut]


class NoteCreate(RequestModel):
    body: Annotated[str, StringConstraints(min_length=1, max_length=50_000)]
    user_id: Id | None = None
    title: Text500 | None = None
    color: Annotated[str, StringConstraints(max_length=32)] | None = None
    pinned: bool | None = None


class NoteUpdate(RequestModel):
    body: Annotated[str, StringConstraints(min_length=1, max_length=50_000)] | None = None
    user_id: Id | None = None
    title: Text500 | None = None
    color: Annotated[str, StringConstraints(max_length=32)] | None = None
    pinned: bool | None = None


class NoteOut(WireModel):
    id: str
    contact_id: str
    body: str
    user_id: str | None
    title: str | None
    color: str | None
    pinned: bool
    date_added: str


class NoteEnvelope(WireModel):
    note: NoteOut


class NoteList(WireModel):
    notes: list[NoteOut]


class AppointmentFields(RequestModel):
    title: Text500 | None = None
    appointment_status: AppointmentStatus | None = None
    assigned_user_id: Id | None = None
    users: Annotated[list[Id], Field(max_length=50)] | None = None
    notes: LongText | None = None
    address: Text500 | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


class AppointmentCreate(AppointmentFields):
    calendar_id: Id
    location_id: Id | None = None
    contact_id: Id
    start_time: datetime


class AppointmentUpdate(AppointmentFields):
    calendar_id: Id | None = None


class AppointmentOut(WireModel):
    id: str
    calendar_id: str
    location_id: str
    contact_id: str
    title: str | None
    status: str
    appointment_status: str
    assigned_user_id: str | None
    users: list[str]
    notes: str | None
    address: str | None
    start_time: str
    end_time: str
    date_added: str
    date_updated: str


class AppointmentEnvelope(WireModel):
    appointment: AppointmentOut


class AppointmentList(WireModel):
    events: list[AppointmentOut]


class BusinessFields(RequestModel):
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    website: Annotated[str, StringConstraints(max_length=2048)] | None = None
    address: Text500 | None = None
    city: Text255 | None = None
    state: Text255 | None = None
    postal_code: Annotated[str, StringConstraints(max_length=32)] | None = None
    country: Annotated[str, StringConstraints(max_length=64)] | None = None
    description: LongText | None = None


class BusinessCreate(BusinessFields):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    location_id: Id | None = None


class BusinessUpdate(BusinessFields):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


class BusinessOut(WireModel):
    id: str
    location_id: str
    name: str
    phone: str | None
    email: str | None
    website: str | None
    address: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    description: str | None
    created_at: str
    updated_at: str


class BusinessEnvelope(WireModel):
    business: BusinessOut


class BusinessSaved(WireModel):
    success: bool = True
    business: BusinessOut


class BusinessList(WireModel):
    businesses: list[BusinessOut]


class BusinessDeleted(WireModel):
    success: bool = True


class UserRoles(WireModel):
    type: str
    role: str
    location_ids: list[str]


class UserOut(WireModel):
    id: str
    name: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    roles: UserRoles


class UserList(WireModel):
    users: list[UserOut]
