"""Tables of the Contacts API context. Columns are snake_case; the wire names live in schemas."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, UTCDateTime
from contactflow.platform.ids import new_id


def _location_fk(*, indexed: bool = True) -> Mapped[str]:
    # Tables whose composite (location_id, ...) index starts with it pass indexed=False.
    return mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), index=indexed)


def _contact_fk() -> Mapped[str]:
    return mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)


class Business(Base):
    __tablename__ = "businesses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = _location_fk(indexed=False)
    name: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    website: Mapped[str | None] = mapped_column(String(2048))
    address: Mapped[str | None] = mapped_column(String(500))
    city: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "location_id", "created_at", "id"),)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = _location_fk(indexed=False)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(511))
    email: Mapped[str | None] = mapped_column(String(320))
    email_lower: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    company_name: Mapped[str | None] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64))
    dnd: Mapped[bool] = mapped_column(Boolean, default=False)
    dnd_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    type: Mapped[str] = mapped_column(String(32), default="lead")
    source: Mapped[str | None] = mapped_column(String(255))
    gender: Mapped[str | None] = mapped_column(String(32))
    assigned_to: Mapped[str | None] = mapped_column(String(32))
    address1: Mapped[str | None] = mapped_column(String(500))
    city: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(64))
    postal_code: Mapped[str | None] = mapped_column(String(32))
    website: Mapped[str | None] = mapped_column(String(2048))
    date_of_birth: Mapped[str | None] = mapped_column(String(10))
    custom_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    business_id: Mapped[str | None] = mapped_column(
        ForeignKey("businesses.id", ondelete="SET NULL"), index=True
    )
    attribution_source: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_attribution_source: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Lower-cased name, email, phone, company and tags: what the `query` text search scans.
    search_text: Mapped[str] = mapped_column(Text, default="")
    date_added: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    date_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The contact as the wire shows it (JSON text), written with every change to it
    # (contacts/stored_wire.py, ADR 0025); NULL until its first change through the ORM.
    # Deferred: only the reads that send it load it.
    wire: Mapped[str | None] = mapped_column(Text, deferred=True)

    tag_links: Mapped[list["ContactTag"]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        order_by="ContactTag.position",
        passive_deletes=True,
    )
    follower_links: Mapped[list["ContactFollower"]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        order_by="ContactFollower.position",
        passive_deletes=True,
    )

    __table_args__ = (
        Index(None, "location_id", "date_added", "id"),
        Index(None, "location_id", "date_updated", "id"),
        # Duplicate checks and upserts want the oldest contact with an email or phone: with the
        # order in the index, the database reads that one entry (without statistics SQLite
        # would otherwise walk the whole location in date order).
        Index(None, "location_id", "email_lower", "date_added", "id"),
        Index(None, "location_id", "phone", "date_added", "id"),
    )

    @property
    def tags(self) -> list[str]:
        return [link.tag for link in self.tag_links]

    @property
    def followers(self) -> list[str]:
        return [link.user_id for link in self.follower_links]


class ContactTag(Base):
    __tablename__ = "contact_tags"

    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    # Tag filters look contacts up by tag.
    __table_args__ = (Index(None, "tag", "contact_id"),)


class ContactFollower(Base):
    __tablename__ = "contact_followers"

    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class ContactCampaign(Base):
    """Membership of a contact in a campaign; the campaign acts on it through events."""

    __tablename__ = "contact_campaigns"

    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactWorkflow(Base):
    """Enrolment of a contact in a workflow (a flow); the flow acts on it through events."""

    __tablename__ = "contact_workflows"

    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    workflow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = _location_fk(indexed=False)
    contact_id: Mapped[str] = _contact_fk()
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    assigned_to: Mapped[str | None] = mapped_column(String(32))
    due_date: Mapped[datetime] = mapped_column(UTCDateTime)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    date_added: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    date_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # A sync's backfill walks them in this order (sync/contact_records.py).
    __table_args__ = (Index(None, "location_id", "date_added", "id"),)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = _location_fk(indexed=False)
    contact_id: Mapped[str] = _contact_fk()
    body: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(500))
    color: Mapped[str | None] = mapped_column(String(32))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    date_added: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    date_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # A sync's backfill walks them in this order (sync/contact_records.py).
    __table_args__ = (Index(None, "location_id", "date_added", "id"),)


class Calendar(Base):
    __tablename__ = "calendars"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str] = _location_fk(indexed=False)
    calendar_id: Mapped[str] = mapped_column(
        ForeignKey("calendars.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[str] = _contact_fk()
    title: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(32), default="booked")
    appointment_status: Mapped[str] = mapped_column(String(32), default="new")
    assigned_user_id: Mapped[str | None] = mapped_column(String(32))
    users: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(500))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime] = mapped_column(UTCDateTime)
    date_added: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    date_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # A sync's backfill walks them in this order (sync/contact_records.py).
    __table_args__ = (Index(None, "location_id", "date_added", "id"),)
