"""Which contacts a sync covers (ADR 0042): those with any of some tags, added within the last
so many days, updated within the last so many days; all of what is given at once, and every
contact when nothing is. A contact the segment leaves out is not synced: it is not linked,
a linked pair of it carries no change, and its tasks, notes and appointments are left out
with it.

The same segment is judged two ways that must agree: on a contact as the sync reads it (a
`Record`, of this workspace or of a remote account), and as a condition on this workspace's
contacts table (the excluded count, the reconciliation, the records of excluded contacts)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, exists, literal, not_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts.models import Contact, ContactTag
from contactflow.mailsuite.models import MailContact
from contactflow.platform.db import UTCDateTime
from contactflow.sync.sides import Record

# The stored (and wire) names of a segment's parts.
TAGS: Final = "tags"
CREATED_WITHIN: Final = "createdWithinDays"
UPDATED_WITHIN: Final = "updatedWithinDays"


@dataclass(frozen=True)
class Segment:
    # Tags as the Contacts API keeps them (trimmed, lower case); a contact with any is in.
    tags: tuple[str, ...] = ()
    created_within_days: int | None = None
    updated_within_days: int | None = None

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> "Segment":
        """The segment a sync stores (None: every contact)."""
        data = data or {}
        return cls(tuple(data.get(TAGS) or ()), data.get(CREATED_WITHIN), data.get(UPDATED_WITHIN))

    @classmethod
    def given(
        cls, tags: Iterable[str], created_within_days: int | None, updated_within_days: int | None
    ) -> "Segment":
        kept = tuple(dict.fromkeys(tag.strip().lower() for tag in tags))
        return cls(kept, created_within_days, updated_within_days)

    @property
    def everyone(self) -> bool:
        return (
            not self.tags and self.created_within_days is None and self.updated_within_days is None
        )

    def as_data(self) -> dict[str, Any] | None:
        if self.everyone:
            return None
        return {
            TAGS: list(self.tags),
            CREATED_WITHIN: self.created_within_days,
            UPDATED_WITHIN: self.updated_within_days,
        }

    def _since(self, days: int | None, now: datetime) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    def covers(self, contact: Record, now: datetime) -> bool:
        """Whether the segment covers the contact `contact` at `now`."""
        if self.tags:
            held = contact.values.get(TAGS) or []
            if not {str(tag).strip().lower() for tag in held} & set(self.tags):
                return False
        added = self._since(self.created_within_days, now)
        if added is not None and contact.position[0] < added:
            return False
        updated = self._since(self.updated_within_days, now)
        return updated is None or contact.updated_at >= updated

    def clause(self, now: datetime) -> ColumnElement[bool]:
        """`covers` as a condition on this workspace's contacts."""
        parts: list[ColumnElement[bool]] = []
        if self.tags:
            parts.append(
                exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag.in_(self.tags))
            )
        added = self._since(self.created_within_days, now)
        if added is not None:
            parts.append(Contact.date_added >= literal(added, UTCDateTime()))
        updated = self._since(self.updated_within_days, now)
        if updated is not None:
            parts.append(Contact.date_updated >= literal(updated, UTCDateTime()))
        return and_(true(), *parts)

    def left_out(self, location_id: str, now: datetime) -> Select[str]:
        """The ids of the location's contacts the segment leaves out."""
        return select(Contact.id).where(Contact.location_id == location_id, not_(self.clause(now)))

    def their_matches(self, location_id: str, now: datetime) -> Select[str]:
        """The ids of the location's Mailsuite contacts with the address of a contact the
        segment leaves out: linking one would link that contact."""
        addresses = self.left_out(location_id, now).with_only_columns(Contact.email_lower)
        return select(MailContact.id).where(
            MailContact.location_id == location_id, MailContact.email_lower.in_(addresses)
        )


async def left_out_of(
    session: AsyncSession,
    location_id: str,
    segment: Segment,
    contact_ids: Iterable[str],
    now: datetime,
) -> set[str]:
    """Those of this workspace's contacts `contact_ids` that `segment` leaves out, in one query."""
    wanted = set(contact_ids)
    if segment.everyone or not wanted:
        return set()
    query = segment.left_out(location_id, now).where(Contact.id.in_(wanted))
    return set(await session.scalars(query))


def left_out_records(
    location_id: str,
    segment: Segment,
    now: datetime,
    records: Select[str, str | None] | None = None,
) -> Select[str]:
    """The ids of the location's contacts `segment` leaves out; or, given `records` (ids and
    their contact's), the ids of those that belong to a contact it leaves out."""
    left = segment.left_out(location_id, now)
    if records is None:
        return left
    listed = records.subquery()
    return select(listed.c[0]).where(listed.c[1].in_(left))
