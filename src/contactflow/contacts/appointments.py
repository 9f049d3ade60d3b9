"""Calendar appointments (events) of contacts."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts.events import appointment_event
from contactflow.contacts.models import Appointment, Calendar
from contactflow.contacts.normalize import assign_fields, stored_values
from contactflow.contacts.record_schemas import AppointmentCreate, AppointmentUpdate
from contactflow.contacts.service import find_contact
from contactflow.platform import event_types
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound, invalid
from contactflow.platform.tenancy import missing_users

DEFAULT_DURATION = timedelta(minutes=30)


async def _check_calendar(session: AsyncSession, location_id: str, calendar_id: str) -> None:
    found = await session.scalar(
        select(Calendar.id).where(Calendar.id == calendar_id, Calendar.location_id == location_id)
    )
    if found is None:
        raise invalid("calendarId", f"calendar {calendar_id} not found in this location")


async def _check_people(
    session: AsyncSession, location_id: str, fields: AppointmentCreate | AppointmentUpdate
) -> None:
    if fields.assigned_user_id and await missing_users(
        session, location_id, [fields.assigned_user_id]
    ):
        raise invalid("assignedUserId", f"user {fields.assigned_user_id} not found")
    unknown = await missing_users(session, location_id, fields.users or [])
    if unknown:
        raise invalid("users", f"users not found in this location: {', '.join(unknown)}")


def _check_times(appointment: Appointment) -> None:
    if appointment.end_time <= appointment.start_time:
        raise invalid("endTime", "must be after startTime")


async def find_appointment(
    session: AsyncSession, location_id: str, appointment_id: str
) -> Appointment:
    appointment = await session.scalar(
        select(Appointment).where(
            Appointment.id == appointment_id, Appointment.location_id == location_id
        )
    )
    if appointment is None:
        raise NotFound("Appointment not found")
    return appointment


async def appointments_of(
    session: AsyncSession, location_id: str, contact_id: str
) -> list[Appointment]:
    await find_contact(session, location_id, contact_id)
    rows = await session.scalars(
        select(Appointment)
        .where(Appointment.contact_id == contact_id)
        .order_by(Appointment.start_time, Appointment.id)
    )
    return list(rows)


async def create_appointment(
    uow: UnitOfWork, location_id: str, fields: AppointmentCreate
) -> Appointment:
    session = uow.session
    await find_contact(session, location_id, fields.contact_id)
    await _check_calendar(session, location_id, fields.calendar_id)
    await _check_people(session, location_id, fields)
    now = utcnow()
    appointment = Appointment(
        location_id=location_id,
        calendar_id=fields.calendar_id,
        contact_id=fields.contact_id,
        title=fields.title,
        status="booked",
        appointment_status=fields.appointment_status or "new",
        assigned_user_id=fields.assigned_user_id,
        users=fields.users or [],
        notes=fields.notes,
        address=fields.address,
        start_time=fields.start_time,
        end_time=fields.end_time or fields.start_time + DEFAULT_DURATION,
        date_added=now,
        date_updated=now,
    )
    _check_times(appointment)
    session.add(appointment)
    await session.flush()
    await appointment_event(uow, event_types.APPOINTMENT_CREATE, appointment)
    return appointment


async def update_appointment(
    uow: UnitOfWork, location_id: str, appointment_id: str, fields: AppointmentUpdate
) -> Appointment:
    session = uow.session
    appointment = await find_appointment(session, location_id, appointment_id)
    if fields.calendar_id:
        await _check_calendar(session, location_id, fields.calendar_id)
    await _check_people(session, location_id, fields)
    before = stored_values(appointment)
    required = frozenset({"calendar_id", "start_time", "end_time", "appointment_status"})
    assign_fields(appointment, fields, required=required)
    appointment.users = list(appointment.users or [])
    if appointment.appointment_status == "cancelled":
        appointment.status = "cancelled"
    _check_times(appointment)
    if stored_values(appointment) == before:
        return appointment
    appointment.date_updated = utcnow()
    await session.flush()
    # The status it had, so a receiver can tell a status change (a no-show, a confirmation)
    # from any other edit.
    await appointment_event(
        uow,
        event_types.APPOINTMENT_UPDATE,
        appointment,
        previousAppointmentStatus=before["appointment_status"],
    )
    return appointment


async def delete_appointment(uow: UnitOfWork, location_id: str, appointment_id: str) -> Appointment:
    appointment = await find_appointment(uow.session, location_id, appointment_id)
    await appointment_event(uow, event_types.APPOINTMENT_DELETE, appointment)
    await uow.session.delete(appointment)
    return appointment
