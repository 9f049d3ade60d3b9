"""The Contacts API app's actions on a contact's appointments and on businesses."""

from contactflow.contacts import appointments, businesses
from contactflow.contacts.record_schemas import (
    AppointmentCreate,
    AppointmentOut,
    AppointmentUpdate,
    BusinessCreate,
    BusinessOut,
    BusinessUpdate,
)
from contactflow.contacts.wire import appointment_out, business_out
from contactflow.flows.catalog.contacts import APPOINTMENT_SAMPLE, BUSINESS_SAMPLE
from contactflow.flows.catalog.contacts_records import (
    CONTACT_ID,
    DELETED,
    action,
    listed,
    split,
)
from contactflow.flows.catalog.registry import (
    ID,
    ActionContext,
    Entry,
    Json,
    dumped,
    model_schema,
    obj,
    output_schema,
    parsed,
)
from contactflow.platform.auth.scopes import (
    BUSINESSES_WRITE,
    CALENDAR_EVENTS_WRITE,
)

APPOINTMENT_OUT = output_schema(AppointmentOut)
BUSINESS_OUT = output_schema(BusinessOut)


async def list_appointments(context: ActionContext, values: Json) -> Json:
    rows = await appointments.appointments_of(
        context.uow.session, context.location_id, values["contactId"]
    )
    return {"events": [dumped(appointment_out(row)) for row in rows], "count": len(rows)}


async def create_appointment(context: ActionContext, values: Json) -> Json:
    fields = {name: value for name, value in values.items() if name != "locationId"}
    row = await appointments.create_appointment(
        context.uow, context.location_id, parsed(AppointmentCreate, fields)
    )
    return dumped(appointment_out(row))


async def update_appointment(context: ActionContext, values: Json) -> Json:
    (appointment_id,), fields = split(values, "appointmentId")
    row = await appointments.update_appointment(
        context.uow, context.location_id, appointment_id, parsed(AppointmentUpdate, fields)
    )
    return dumped(appointment_out(row))


async def cancel_appointment(context: ActionContext, values: Json) -> Json:
    body = AppointmentUpdate(appointment_status="cancelled")
    row = await appointments.update_appointment(
        context.uow, context.location_id, values["appointmentId"], body
    )
    return dumped(appointment_out(row))


async def delete_appointment(context: ActionContext, values: Json) -> Json:
    row = await appointments.delete_appointment(
        context.uow, context.location_id, values["appointmentId"]
    )
    return {"deleted": True, "id": row.id}


async def create_business(context: ActionContext, values: Json) -> Json:
    fields = {name: value for name, value in values.items() if name != "locationId"}
    row = await businesses.create_business(
        context.uow, context.location_id, parsed(BusinessCreate, fields), context.phone_region
    )
    return dumped(business_out(row))


async def update_business(context: ActionContext, values: Json) -> Json:
    (business_id,), fields = split(values, "businessId")
    row = await businesses.update_business(
        context.uow,
        context.location_id,
        business_id,
        parsed(BusinessUpdate, fields),
        context.phone_region,
    )
    return dumped(business_out(row))


async def delete_business(context: ActionContext, values: Json) -> Json:
    row = await businesses.delete_business(context.uow, context.location_id, values["businessId"])
    return {"deleted": True, "id": row.id}


APPOINTMENT_ID = {"appointmentId": ID}
BUSINESS_ID = {"businessId": ID}

ENTRIES: tuple[Entry, ...] = (
    action(
        "appointment.list",
        "List appointments",
        "Every appointment of a contact, soonest first.",
        obj(CONTACT_ID, CONTACT_ID),
        listed("events", APPOINTMENT_OUT),
        {"events": [APPOINTMENT_SAMPLE], "count": 1},
        list_appointments,
        reads=True,
    ),
    action(
        "appointment.create",
        "Create appointment",
        "Book an appointment of a contact on a calendar (AppointmentCreate); 30 minutes "
        "unless endTime is given.",
        model_schema(AppointmentCreate, without=["locationId"]),
        APPOINTMENT_OUT,
        APPOINTMENT_SAMPLE,
        create_appointment,
        scope=CALENDAR_EVENTS_WRITE,
    ),
    action(
        "appointment.update",
        "Update appointment",
        "Change an appointment: times, title, status, people, calendar (AppointmentUpdate).",
        model_schema(AppointmentUpdate, extra=APPOINTMENT_ID, required=APPOINTMENT_ID),
        APPOINTMENT_OUT,
        APPOINTMENT_SAMPLE,
        update_appointment,
        scope=CALENDAR_EVENTS_WRITE,
    ),
    action(
        "appointment.cancel",
        "Cancel appointment",
        "Set an appointment's status to cancelled (AppointmentUpdate).",
        obj(APPOINTMENT_ID, APPOINTMENT_ID),
        APPOINTMENT_OUT,
        {**APPOINTMENT_SAMPLE, "status": "cancelled", "appointmentStatus": "cancelled"},
        cancel_appointment,
        scope=CALENDAR_EVENTS_WRITE,
    ),
    action(
        "appointment.delete",
        "Delete appointment",
        "Delete an appointment (AppointmentDelete).",
        obj(APPOINTMENT_ID, APPOINTMENT_ID),
        DELETED,
        {"deleted": True, "id": "ap_1"},
        delete_appointment,
        scope=CALENDAR_EVENTS_WRITE,
    ),
    action(
        "business.create",
        "Create business",
        "Add a business to the location (BusinessCreate).",
        model_schema(BusinessCreate, without=["locationId"]),
        BUSINESS_OUT,
        BUSINESS_SAMPLE,
        create_business,
        scope=BUSINESSES_WRITE,
    ),
    action(
        "business.update",
        "Update business",
        "Change a business's name, contact details or description (BusinessUpdate).",
        model_schema(BusinessUpdate, extra=BUSINESS_ID, required=BUSINESS_ID),
        BUSINESS_OUT,
        BUSINESS_SAMPLE,
        update_business,
        scope=BUSINESSES_WRITE,
    ),
    action(
        "business.delete",
        "Delete business",
        "Delete a business; its contacts stay, without a business (BusinessDelete).",
        obj(BUSINESS_ID, BUSINESS_ID),
        DELETED,
        {"deleted": True, "id": "bz_1"},
        delete_business,
        scope=BUSINESSES_WRITE,
    ),
)
