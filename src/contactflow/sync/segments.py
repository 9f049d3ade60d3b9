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

from sqlalchemy import ColumnElement, Select, and_, case, exists, literal, not_, null, select, true
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

    def _parts(self, now: datetime) -> list[tuple[ColumnElement[bool], str]]:
        """Each part of the segment as a condition on this workspace's contacts, with what a
        contact that fails it is told."""
        parts: list[tuple[ColumnElement[bool], str]] = []
        if self.tags:
            tagged = exists().where(
                ContactTag.contact_id == Contact.id, ContactTag.tag.in_(self.tags)
            )
            parts.append((tagged, f"tagged none of {', '.join(self.tags)}"))
        added = self._since(self.created_within_days, now)
        if added is not None:
            since = literal(added, UTCDateTime())
            parts.append((Contact.date_added >= since, f"added before {added:%Y-%m-%d}"))
        updated = self._since(self.updated_within_days, now)
        if updated is not None:
            since = literal(updated, UTCDateTime())
            parts.append((Contact.date_updated >= since, f"not updated since {updated:%Y-%m-%d}"))
        return parts

    def clause(self, now: datetime) -> ColumnElement[bool]:
        """`covers` as a condition on this workspace's contacts."""
        return and_(true(), *(covered for covered, _ in self._parts(now)))

    def left_out(self, location_id: str, now: datetime) -> Select[str]:
        """The ids of the location's contacts the segment leaves out."""
        return select(Contact.id).where(Contact.location_id == location_id, not_(self.clause(now)))

    def why_left_out(self, location_id: str, now: datetime) -> Select[str, str | None]:
        """`left_out` with why each is: the first part of the segment it fails."""
        parts = self._parts(now)
        why = case(*((not_(covered), reason) for covered, reason in parts)) if parts else null()
        return self.left_out(location_id, now).add_columns(why)

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
) -> Select[str, str | None]:
    """The ids of the location's contacts `segment` leaves out, each with why; or, given
    `records` (ids and their contact's), the ids of those that belong to a contact it leaves
    out, with why their contact is."""
    left = segment.why_left_out(location_id, now)
    if records is None:
        return left
    listed, contacts = records.subquery(), left.subquery()
    return select(listed.c[0], contacts.c[1]).join(contacts, listed.c[1] == contacts.c[0])
