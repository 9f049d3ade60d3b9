"""Businesses of a location; contacts point at one through businessId."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts.events import business_event, contact_snapshot
from contactflow.contacts.models import Business, Contact
from contactflow.contacts.normalize import normalize_email, normalize_phone, stored_values
from contactflow.contacts.record_schemas import BusinessCreate, BusinessFields, BusinessUpdate
from contactflow.contacts.service import touched
from contactflow.platform import event_types
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound, invalid


async def find_business(session: AsyncSession, location_id: str, business_id: str) -> Business:
    business = await session.scalar(
        select(Business).where(Business.id == business_id, Business.location_id == location_id)
    )
    if business is None:
        raise NotFound("Business not found")
    return business


async def list_businesses(
    session: AsyncSession, location_id: str, *, limit: int | None = None, skip: int = 0
) -> list[Business]:
    """Oldest first: `limit` of them (all without) after the first `skip`."""
    rows = await session.scalars(
        select(Business)
        .where(Business.location_id == location_id)
        .order_by(Business.created_at, Business.id)
        .offset(skip)
        .limit(limit)
    )
    return list(rows)


def _apply(business: Business, fields: BusinessFields, region: str) -> None:
    for name in fields.model_fields_set:
        value = getattr(fields, name)
        if name == "email" and value:
            value = normalize_email(value)
        elif name == "phone" and value:
            value = normalize_phone(value, region)
        elif name == "name" and value is None:
            raise invalid("name", "cannot be null")
        if name != "location_id":
            setattr(business, name, value)


async def create_business(
    uow: UnitOfWork, location_id: str, fields: BusinessCreate, region: str
) -> Business:
    now = utcnow()
    business = Business(location_id=location_id, name=fields.name, created_at=now, updated_at=now)
    _apply(business, fields, region)
    uow.session.add(business)
    await uow.session.flush()
    await business_event(uow, event_types.BUSINESS_CREATE, business)
    return business


async def update_business(
    uow: UnitOfWork, location_id: str, business_id: str, fields: BusinessUpdate, region: str
) -> Business:
    business = await find_business(uow.session, location_id, business_id)
    before = stored_values(business)
    _apply(business, fields, region)
    if stored_values(business) == before:
        return business
    business.updated_at = utcnow()
    await uow.session.flush()
    await business_event(uow, event_types.BUSINESS_UPDATE, business)
    return business


async def delete_business(uow: UnitOfWork, location_id: str, business_id: str) -> Business:
    """Contacts of the business keep existing; their businessId becomes null."""
    business = await find_business(uow.session, location_id, business_id)
    members = await uow.session.scalars(select(Contact).where(Contact.business_id == business.id))
    for contact in members:
        before = contact_snapshot(contact)
        contact.business_id = None
        await touched(uow, contact, before)
    await business_event(uow, event_types.BUSINESS_DELETE, business)
    await uow.session.delete(business)
    await uow.session.flush()
    return business
