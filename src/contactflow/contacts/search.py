"""POST /contacts/search: filters (with AND / OR groups), sort, page or searchAfter cursor.

Filters name wire fields; each field has a kind that decides which operators it takes, so a
filter the data cannot answer is a 422 naming it rather than an empty result.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from contactflow.contacts import reads
from contactflow.contacts.listing import text_filter
from contactflow.contacts.models import Contact, ContactTag
from contactflow.contacts.schemas import FilterGroup, SearchBody, SearchFilter
from contactflow.platform.clock import from_epoch_ms, to_epoch_ms
from contactflow.platform.db import UTCDateTime
from contactflow.platform.errors import invalid

_TEXT: dict[str, InstrumentedAttribute[Any]] = {
    "id": Contact.id,
    "firstName": Contact.first_name,
    "lastName": Contact.last_name,
    "name": Contact.name,
    "email": Contact.email_lower,
    "phone": Contact.phone,
    "companyName": Contact.company_name,
    "address": Contact.address1,
    "address1": Contact.address1,
    "city": Contact.city,
    "state": Contact.state,
    "country": Contact.country,
    "postalCode": Contact.postal_code,
    "website": Contact.website,
    "source": Contact.source,
    "type": Contact.type,
    "timezone": Contact.timezone,
    "assignedTo": Contact.assigned_to,
    "businessId": Contact.business_id,
    "dateOfBirth": Contact.date_of_birth,
}
_DATES: dict[str, InstrumentedAttribute[Any]] = {
    "dateAdded": Contact.date_added,
    "dateUpdated": Contact.date_updated,
    "lastActivity": Contact.last_activity,
}
_BOOLEANS: dict[str, InstrumentedAttribute[Any]] = {"dnd": Contact.dnd}
_SORTS: dict[str, InstrumentedAttribute[Any]] = {
    "dateAdded": Contact.date_added,
    "dateUpdated": Contact.date_updated,
    "firstName": Contact.first_name,
    "lastName": Contact.last_name,
    "name": Contact.name,
    "email": Contact.email_lower,
    "companyName": Contact.company_name,
}
_BOUNDS = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}
# The fields a filter may name.
FIELDS = tuple(sorted({*_TEXT, *_DATES, *_BOOLEANS, "tags"}))
# Sorts that read the location's contacts in an index's order.
INDEXED_SORTS = ("dateAdded", "dateUpdated")


def _field_error(where: str, reason: str) -> Exception:
    return invalid(where, reason)


def _scalar(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _field_error(where, "needs a single text or number value")
    return str(value)


def _text_condition(column: Any, spec: SearchFilter, where: str) -> ColumnElement[bool]:
    # The email is stored lower-cased: compared as it is, its index serves `eq` and `in`.
    lowered = column if column is Contact.email_lower else func.lower(column)
    match spec.operator:
        case "eq":
            return lowered == _scalar(spec.value, where).lower()
        case "not_eq":
            return or_(column.is_(None), lowered != _scalar(spec.value, where).lower())
        case "contains":
            return lowered.contains(_scalar(spec.value, where).lower(), autoescape=True)
        case "not_contains":
            needle = _scalar(spec.value, where).lower()
            return or_(column.is_(None), not_(lowered.contains(needle, autoescape=True)))
        case "exists":
            return and_(column.is_not(None), column != "")
        case "not_exists":
            return or_(column.is_(None), column == "")
        case "in":
            if not isinstance(spec.value, list) or not spec.value:
                raise _field_error(where, "in needs a non-empty list")
            return lowered.in_([str(item).lower() for item in spec.value])
    raise _field_error(where, f"operator {spec.operator} does not apply to a text field")


def _instant(value: Any, where: str) -> datetime:
    if isinstance(value, bool):
        raise _field_error(where, "needs a date (ISO 8601) or epoch milliseconds")
    if isinstance(value, int | float):
        try:
            return from_epoch_ms(int(value))
        except (OverflowError, OSError, ValueError) as error:
            raise _field_error(where, "epoch milliseconds out of range") from error
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as error:
            raise _field_error(where, "needs a date (ISO 8601) or epoch milliseconds") from error
    raise _field_error(where, "needs a date (ISO 8601) or epoch milliseconds")


def _date_condition(
    column: InstrumentedAttribute[Any], spec: SearchFilter, where: str
) -> ColumnElement[bool]:
    def bound(operator: str, value: Any) -> ColumnElement[bool]:
        instant = literal(_instant(value, where), UTCDateTime())
        result: ColumnElement[bool] = getattr(column, _BOUNDS[operator])(instant)
        return result

    match spec.operator:
        case "exists":
            return column.is_not(None)
        case "not_exists":
            return column.is_(None)
        case "eq":
            return column == literal(_instant(spec.value, where), UTCDateTime())
        case "gt" | "gte" | "lt" | "lte":
            return bound(spec.operator, spec.value)
        case "range":
            if not isinstance(spec.value, dict) or not spec.value:
                raise _field_error(where, "range needs an object with gt, gte, lt or lte")
            unknown = set(spec.value) - set(_BOUNDS)
            if unknown:
                raise _field_error(where, f"range takes gt, gte, lt, lte, not {sorted(unknown)}")
            return and_(*(bound(key, value) for key, value in spec.value.items()))
    raise _field_error(where, f"operator {spec.operator} does not apply to a date field")


def _has_tag(*tags: str) -> ColumnElement[bool]:
    # One tag is an equality: an IN list is expanded into the SQL text on every execution.
    tag = ContactTag.tag == tags[0] if len(tags) == 1 else ContactTag.tag.in_(tags)
    return exists().where(ContactTag.contact_id == Contact.id, tag)


def _tags_condition(spec: SearchFilter, where: str) -> ColumnElement[bool]:
    match spec.operator:
        case "eq":
            return _has_tag(_scalar(spec.value, where).strip().lower())
        case "not_eq":
            return not_(_has_tag(_scalar(spec.value, where).strip().lower()))
        case "in":
            if not isinstance(spec.value, list) or not spec.value:
                raise _field_error(where, "in needs a non-empty list")
            return _has_tag(*(str(item).strip().lower() for item in spec.value))
        case "contains" | "not_contains":
            needle = _scalar(spec.value, where).lower()
            found = exists().where(
                ContactTag.contact_id == Contact.id,
                ContactTag.tag.contains(needle, autoescape=True),
            )
            return found if spec.operator == "contains" else not_(found)
        case "exists":
            return exists().where(ContactTag.contact_id == Contact.id)
        case "not_exists":
            return not_(exists().where(ContactTag.contact_id == Contact.id))
    raise _field_error(where, f"operator {spec.operator} does not apply to tags")


def _condition(spec: SearchFilter | FilterGroup, where: str) -> ColumnElement[bool]:
    if isinstance(spec, FilterGroup):
        parts = [_condition(item, f"{where}.filters.{i}") for i, item in enumerate(spec.filters)]
        if not parts:
            return true()
        return and_(*parts) if spec.group == "AND" else or_(*parts)
    field_where = f"{where}.field"
    if spec.field == "tags":
        return _tags_condition(spec, field_where)
    if spec.field in _TEXT:
        return _text_condition(_TEXT[spec.field], spec, field_where)
    if spec.field in _DATES:
        return _date_condition(_DATES[spec.field], spec, field_where)
    if spec.field in _BOOLEANS:
        if spec.operator not in ("eq", "not_eq") or not isinstance(spec.value, bool):
            raise _field_error(field_where, "dnd takes eq or not_eq with true or false")
        column = _BOOLEANS[spec.field]
        return column == spec.value if spec.operator == "eq" else column != spec.value
    raise _field_error(field_where, f"unknown field {spec.field!r}; one of {', '.join(FIELDS)}")


@dataclass(frozen=True)
class SearchPage:
    contacts: list[tuple[Contact, list[str | int]]]
    total: int


def _sort_key(contact: Any, field: str) -> str | int:
    value = getattr(contact, _SORTS[field].key)
    if isinstance(value, datetime):
        return to_epoch_ms(value)
    return value or ""


@dataclass(frozen=True)
class _Statements:
    """The count and the page of one search; `page` selects what `columns` named."""

    count: Select[Any]
    page: Select[Any]
    field: str  # the sort field, which the cursors name


def sort_field(body: SearchBody) -> str:
    field = body.sort[0].field if body.sort else "dateAdded"
    if field not in _SORTS:
        raise _field_error("sort.0.field", f"cannot sort by {field!r}; one of {sorted(_SORTS)}")
    return field


def _statements(location_id: str, body: SearchBody, *columns: Any) -> _Statements:
    conditions: list[ColumnElement[bool]] = [Contact.location_id == location_id]
    conditions += [_condition(spec, f"filters.{i}") for i, spec in enumerate(body.filters)]
    text = text_filter(body.query)
    if text is not None:
        conditions.append(text)
    sort = body.sort[0] if body.sort else None
    field = sort_field(body)
    descending = sort is not None and sort.direction == "desc"
    column = _SORTS[field]
    key = column if field in _DATES else func.coalesce(column, "")
    query = select(*columns).where(*conditions)
    if body.search_after is not None:
        query = query.where(_after(key, field, body.search_after, descending=descending))
    else:
        query = query.offset((body.page - 1) * body.page_limit)
    order = (key.desc(), Contact.id.desc()) if descending else (key.asc(), Contact.id.asc())
    return _Statements(
        count=select(func.count()).select_from(Contact).where(*conditions),
        page=query.order_by(*order).limit(body.page_limit),
        field=field,
    )


async def _page(
    session: AsyncSession, statements: _Statements
) -> list[tuple[Contact, list[str | int]]]:
    rows = await session.scalars(statements.page)
    return [(row, [_sort_key(row, statements.field), row.id]) for row in rows]


async def search_contacts(session: AsyncSession, location_id: str, body: SearchBody) -> SearchPage:
    statements = _statements(location_id, body, Contact)
    total = await session.scalar(statements.count) or 0
    return SearchPage(contacts=await _page(session, statements), total=total)


async def search_uncounted(
    session: AsyncSession, location_id: str, body: SearchBody
) -> list[tuple[Contact, list[str | int]]]:
    """A page of the search without its total, whose count would read every match: for
    views that page on with searchAfter."""
    return await _page(session, _statements(location_id, body, Contact))


def search_json(connection: Connection, location_id: str, body: SearchBody) -> bytes:
    """The response body of POST /contacts/search, read with Core (ADR 0012). Its filters on
    most fields, and its total, walk the location's contacts: a read for `Database.scan`."""
    statements = _statements(location_id, body, *reads.stored_columns(_SORTS[sort_field(body)]))
    total = connection.scalar(statements.count) or 0
    rows = list(connection.execute(statements.page))
    contacts = [
        reads.with_member(wire, "searchAfter", [_sort_key(row, statements.field), row.id])
        for row, wire in zip(rows, reads.wires(connection, rows), strict=True)
    ]
    return reads.json_object({"contacts": reads.json_array(contacts), "total": str(total)})


def _after(key: Any, field: str, cursor: list[Any], *, descending: bool) -> ColumnElement[bool]:
    value, last_id = cursor
    if field in _DATES:
        bound: Any = literal(_instant(value, "searchAfter.0"), UTCDateTime())
    else:
        bound = str(value)
    last = str(last_id)
    if descending:
        return or_(key < bound, and_(key == bound, Contact.id < last))
    return or_(key > bound, and_(key == bound, Contact.id > last))
