"""Reading many contacts: the keyset list, a business's contacts, and the text query."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts import reads
from contactflow.contacts.models import Business, Contact
from contactflow.platform.clock import from_epoch_ms, to_epoch_ms
from contactflow.platform.db import UTCDateTime
from contactflow.platform.errors import NotFound, invalid

# Year 3000: the latest time a cursor may name.
MAX_EPOCH_MS = 32503680000000


def _added_at(connection: Connection, location_id: str, contact_id: str) -> int:
    added = connection.scalar(
        select(Contact.date_added).where(
            Contact.id == contact_id, Contact.location_id == location_id
        )
    )
    if added is None:
        raise invalid("startAfterId", "no contact with this id in this location")
    return to_epoch_ms(added)


def _past(added: datetime, contact_id: str) -> Any:
    """Past the contact (added, contact_id) in (dateAdded, id) order."""
    return tuple_(Contact.date_added, Contact.id) > tuple_(
        literal(added, UTCDateTime()), contact_id
    )


def _after(start_after: int, start_after_id: str | None) -> Any:
    """Past the keyset cursor (dateAdded in epoch ms, id) in (dateAdded, id) order."""
    return _past(from_epoch_ms(start_after), start_after_id or "")


def _business_cursor(values: list[str]) -> Any:
    """`startAfter` of a business's contacts, as the SDK sends it: the last contact's
    dateAdded (epoch ms), and its id."""
    millis, *rest = values
    if not millis.isdigit() or int(millis) > MAX_EPOCH_MS or len(rest) > 1:
        raise invalid("startAfter", "the dateAdded (epoch ms) and id of the last contact read")
    return _after(int(millis), rest[0] if rest else None)


def text_filter(query: str | None) -> Any:
    if not query or not query.strip():
        return None
    return Contact.search_text.contains(query.strip().lower(), autoescape=True)


@dataclass(frozen=True)
class Page:
    contacts: list[Row[Any]]  # rows of reads.stored_rows()
    total: int
    has_more: bool
    position: int


# Past the cursor given as the parameters after_added and after_id, in (dateAdded, id) order.
_PAST_CURSOR = tuple_(Contact.date_added, Contact.id) > tuple_(
    bindparam("after_added", type_=UTCDateTime()), bindparam("after_id")
)


@dataclass(frozen=True)
class _ListStatements:
    """The statements of a keyset list under some conditions, with the location, the cursor
    and the limit as parameters."""

    total: Select[Any]
    past_cursor: Select[Any]  # how many are past the cursor
    first_page: Select[Any]
    page_past_cursor: Select[Any]

    @classmethod
    def where(cls, *conditions: Any) -> "_ListStatements":
        def page(*more: Any) -> Select[Any]:
            return (
                reads.stored_rows()
                .where(*conditions, *more)
                .order_by(Contact.date_added, Contact.id)
                .limit(bindparam("limit"))
            )

        def count(*more: Any) -> Select[Any]:
            return select(func.count()).select_from(reads.CONTACTS).where(*conditions, *more)

        return cls(count(), count(_PAST_CURSOR), page(), page(_PAST_CURSOR))


_IN_LOCATION = Contact.location_id == bindparam("location_id")
# Built once, as the reads of reads.py are: a list without a text query, the common one, then
# costs no statement building and no cache key (ADR 0047).
_LOCATION_LIST = _ListStatements.where(_IN_LOCATION)


def list_contacts(
    connection: Connection,
    location_id: str,
    *,
    limit: int,
    query: str | None = None,
    start_after: int | None = None,
    start_after_id: str | None = None,
) -> Page:
    """A keyset page ordered by (dateAdded, id): rows inserted while a client walks the pages
    land after its cursor or before it, never shifting what it has not read yet."""
    text = text_filter(query)
    statements = _LOCATION_LIST if text is None else _ListStatements.where(_IN_LOCATION, text)
    parameters: dict[str, Any] = {"location_id": location_id, "limit": limit + 1}
    total = int(connection.scalar(statements.total, parameters) or 0)
    position = 0
    page = statements.first_page
    if start_after is None and start_after_id is not None:
        # A cursor given by id alone starts after that contact.
        start_after = _added_at(connection, location_id, start_after_id)
    if start_after is not None:
        parameters.update(after_added=from_epoch_ms(start_after), after_id=start_after_id or "")
        position = total - int(connection.scalar(statements.past_cursor, parameters) or 0)
        page = statements.page_past_cursor
    rows = list(connection.execute(page, parameters))
    return Page(contacts=rows[:limit], total=total, has_more=len(rows) > limit, position=position)


async def ids_added(
    session: AsyncSession,
    location_id: str,
    *,
    until: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[str]:
    """The ids of contacts added up to `until`, in (dateAdded, id) order past `after`: a walk
    over the location's contacts of a moment that resumes where it stopped."""
    query = select(Contact.id).where(
        Contact.location_id == location_id, Contact.date_added <= until
    )
    if after is not None:
        query = query.where(_past(*after))
    return list(await session.scalars(query.order_by(Contact.date_added, Contact.id).limit(limit)))


async def count_added(session: AsyncSession, location_id: str, until: datetime) -> int:
    query = select(func.count()).where(
        Contact.location_id == location_id, Contact.date_added <= until
    )
    return int(await session.scalar(query) or 0)


async def contacts_of_business(
    session: AsyncSession,
    location_id: str,
    business_id: str,
    *,
    limit: int,
    skip: int,
    query: str | None,
    start_after: list[str] | None = None,
) -> tuple[list[Contact], int]:
    """The business's contacts, oldest first (past the cursor `start_after`, when given)."""
    business = await session.scalar(
        select(Business.id).where(Business.id == business_id, Business.location_id == location_id)
    )
    if business is None:
        raise NotFound("Business not found")
    conditions: list[Any] = [Contact.location_id == location_id, Contact.business_id == business_id]
    text = text_filter(query)
    if text is not None:
        conditions.append(text)
    if start_after:
        conditions.append(_business_cursor(start_after))
    count = await session.scalar(select(func.count()).select_from(Contact).where(*conditions)) or 0
    rows = await session.scalars(
        select(Contact)
        .where(*conditions)
        .order_by(Contact.date_added, Contact.id)
        .offset(skip)
        .limit(limit)
    )
    return list(rows), count
