"""Routes of the resources around contacts: /businesses, /calendars/events/appointments, /users."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from contactflow.contacts import appointments, businesses
from contactflow.contacts.record_schemas import (
    AppointmentCreate,
    AppointmentEnvelope,
    AppointmentOut,
    AppointmentUpdate,
    BusinessCreate,
    BusinessDeleted,
    BusinessEnvelope,
    BusinessList,
    BusinessSaved,
    BusinessUpdate,
    UserList,
)
from contactflow.contacts.schemas import Succeeded
from contactflow.contacts.wire import appointment_out, business_out, user_out
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, SettingsDep
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import (
    BUSINESSES_READ,
    BUSINESSES_WRITE,
    CALENDAR_EVENTS_READ,
    CALENDAR_EVENTS_WRITE,
    USERS_READ,
)
from contactflow.platform.tenancy import users_of

router = APIRouter(responses=ERROR_RESPONSES)

LocationQuery = Annotated[str | None, Query(alias="locationId", max_length=64)]
BusinessId = Annotated[str, Path(alias="businessId", min_length=1, max_length=64)]
EventId = Annotated[str, Path(alias="eventId", min_length=1, max_length=64)]


@router.get("/businesses/", tags=["Businesses"], response_model=BusinessList)
async def list_businesses(
    caller: Annotated[Principal, requires(BUSINESSES_READ)],
    db: DatabaseDep,
    location_id: LocationQuery = None,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="At most; all without")] = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> BusinessList:
    location = caller.check_location(location_id)
    async with db.reader() as session:
        rows = await businesses.list_businesses(session, location, limit=limit, skip=skip)
        return BusinessList(businesses=[business_out(row) for row in rows])


@router.post("/businesses/", tags=["Businesses"], status_code=201, response_model=BusinessSaved)
async def create_business(
    body: BusinessCreate,
    caller: Annotated[Principal, requires(BUSINESSES_WRITE)],
    db: DatabaseDep,
    settings: SettingsDep,
) -> BusinessSaved:
    location = caller.check_location(body.location_id)
    async with db.unit_of_work() as uow:
        row = await businesses.create_business(uow, location, body, settings.default_phone_region)
        return BusinessSaved(business=business_out(row))


@router.get("/businesses/{businessId}", tags=["Businesses"], response_model=BusinessEnvelope)
async def get_business(
    business_id: BusinessId,
    caller: Annotated[Principal, requires(BUSINESSES_READ)],
    db: DatabaseDep,
) -> BusinessEnvelope:
    async with db.reader() as session:
        row = await businesses.find_business(session, caller.location_id, business_id)
        return BusinessEnvelope(business=business_out(row))


@router.put("/businesses/{businessId}", tags=["Businesses"], response_model=BusinessSaved)
async def update_business(
    business_id: BusinessId,
    body: BusinessUpdate,
    caller: Annotated[Principal, requires(BUSINESSES_WRITE)],
    db: DatabaseDep,
    settings: SettingsDep,
) -> BusinessSaved:
    async with db.unit_of_work() as uow:
        row = await businesses.update_business(
            uow, caller.location_id, business_id, body, settings.default_phone_region
        )
        return BusinessSaved(business=business_out(row))


@router.delete("/businesses/{businessId}", tags=["Businesses"], response_model=BusinessDeleted)
async def delete_business(
    business_id: BusinessId,
    caller: Annotated[Principal, requires(BUSINESSES_WRITE)],
    db: DatabaseDep,
) -> BusinessDeleted:
    async with db.unit_of_work() as uow:
        await businesses.delete_business(uow, caller.location_id, business_id)
    return BusinessDeleted()


@router.post(
    "/calendars/events/appointments",
    tags=["Calendars"],
    status_code=201,
    response_model=AppointmentOut,
)
async def create_appointment(
    body: AppointmentCreate,
    caller: Annotated[Principal, requires(CALENDAR_EVENTS_WRITE)],
    db: DatabaseDep,
) -> AppointmentOut:
    location = caller.check_location(body.location_id)
    async with db.unit_of_work() as uow:
        return appointment_out(await appointments.create_appointment(uow, location, body))


@router.get(
    "/calendars/events/appointments/{eventId}",
    tags=["Calendars"],
    response_model=AppointmentEnvelope,
)
async def get_appointment(
    event_id: EventId,
    caller: Annotated[Principal, requires(CALENDAR_EVENTS_READ)],
    db: DatabaseDep,
) -> AppointmentEnvelope:
    async with db.reader() as session:
        row = await appointments.find_appointment(session, caller.location_id, event_id)
        return AppointmentEnvelope(appointment=appointment_out(row))


@router.put(
    "/calendars/events/appointments/{eventId}", tags=["Calendars"], response_model=AppointmentOut
)
async def update_appointment(
    event_id: EventId,
    body: AppointmentUpdate,
    caller: Annotated[Principal, requires(CALENDAR_EVENTS_WRITE)],
    db: DatabaseDep,
) -> AppointmentOut:
    async with db.unit_of_work() as uow:
        row = await appointments.update_appointment(uow, caller.location_id, event_id, body)
        return appointment_out(row)


@router.delete(
    "/calendars/events/appointments/{eventId}", tags=["Calendars"], response_model=Succeeded
)
# HighLevel deletes any calendar event at this path, appointments included; its SDK does.
@router.delete("/calendars/events/{eventId}", tags=["Calendars"], response_model=Succeeded)
async def delete_appointment(
    event_id: EventId,
    caller: Annotated[Principal, requires(CALENDAR_EVENTS_WRITE)],
    db: DatabaseDep,
) -> Succeeded:
    async with db.unit_of_work() as uow:
        await appointments.delete_appointment(uow, caller.location_id, event_id)
    return Succeeded()


@router.get("/users/", tags=["Users"], response_model=UserList)
async def list_users(
    caller: Annotated[Principal, requires(USERS_READ)],
    db: DatabaseDep,
    location_id: LocationQuery = None,
) -> UserList:
    location = caller.check_location(location_id)
    async with db.reader() as session:
        return UserList(users=[user_out(row) for row in await users_of(session, location)])
