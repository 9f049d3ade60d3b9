"""The Contacts API's busiest reads as Core statements on one connection (`Database.read`):
each contact's wire JSON as stored in its row (ADR 0025), or, for a contact that has none
stored, its columns, then the tags and followers of all of them in one statement, and the wire
JSON built from those (ADR 0012). The ORM's Contact, with its two selectin loaders, stays for
writes and for everything else that reads contacts."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Connection, Row, Select, bindparam, literal_column, select, union_all

from contactflow.contacts.models import Contact, ContactFollower, ContactTag
from contactflow.contacts.wire import CONTACT_COLUMNS, contact_wire

CONTACTS = Contact.__table__
COLUMNS = [CONTACTS.c[name] for name in CONTACT_COLUMNS]
_TAG, _FOLLOWER = 0, 1


# What the reads that send contacts select: the stored wire JSON and the keyset columns.
STORED = (CONTACTS.c.id, CONTACTS.c.date_added, CONTACTS.c.wire)
# Their positions in a row: a row's value by name costs SQLAlchemy about 0.5 us, by position
# a fifteenth of that, and a page of a hundred contacts reads three of them from each row.
_ID, _WIRE = 0, 2


def stored_columns(*more: Any) -> list[Any]:
    """STORED, first and in its order, and `more` columns (a sort key), each once."""
    return list({column.key: column for column in (*STORED, *more)}.values())


def stored_rows() -> Select[Any]:
    """Rows for `wires`."""
    return select(*STORED)


# Built once: SQLAlchemy then finds each statement's compiled form by a cache key it
# remembers on the statement, where a statement built per request costs more to build and to
# key than the database takes to run it.
_ONE = stored_rows().where(
    Contact.id == bindparam("contact_id"), Contact.location_id == bindparam("location_id")
)
_COLUMNS_OF = select(*COLUMNS).where(CONTACTS.c.id.in_(bindparam("ids", expanding=True)))


def _linked(kind: int, link: type[ContactTag] | type[ContactFollower], value: Any) -> Select[Any]:
    """(kind, contact_id, value, position) of the links of the contacts named `ids`."""
    return select(
        literal_column(str(kind)).label("kind"),
        link.contact_id,
        value.label("value"),
        link.position,
    ).where(link.contact_id.in_(bindparam("ids", expanding=True)))


_BOTH = union_all(
    _linked(_TAG, ContactTag, ContactTag.tag),
    _linked(_FOLLOWER, ContactFollower, ContactFollower.user_id),
).subquery()
_LINKS = select(_BOTH).order_by(_BOTH.c.kind, _BOTH.c.contact_id, _BOTH.c.position)


@dataclass(frozen=True, slots=True)
class Links:
    """The tags and followers of some contacts, each in its stored order."""

    tags: dict[str, list[str]]
    followers: dict[str, list[str]]

    def wire(self, row: Row[Any]) -> dict[str, Any]:
        values = dict(zip(CONTACT_COLUMNS, row, strict=True))
        return contact_wire(values, self.tags.get(row.id, []), self.followers.get(row.id, []))


def links_of(connection: Connection, ids: Sequence[str]) -> Links:
    found = Links({}, {})
    if not ids:
        return found
    for kind, contact_id, value, _position in connection.execute(_LINKS, {"ids": list(ids)}):
        into = found.tags if kind == _TAG else found.followers
        into.setdefault(contact_id, []).append(value)
    return found


def built_wires(connection: Connection, ids: Sequence[str]) -> dict[str, str]:
    """The wire JSON of the contacts named `ids`, built from their columns, tags and
    followers, by id."""
    if not ids:
        return {}
    links = links_of(connection, ids)
    return {
        row.id: to_json(links.wire(row)).decode()
        for row in connection.execute(_COLUMNS_OF, {"ids": list(ids)})
    }


def wires(connection: Connection, rows: Sequence[Row[Any]]) -> list[str]:
    """The wire JSON of each row of `stored_rows`, in order: as stored, or built from the
    columns for the contacts that have none stored."""
    built = built_wires(connection, [row[_ID] for row in rows if row[_WIRE] is None])
    return [built[row[_ID]] if row[_WIRE] is None else row[_WIRE] for row in rows]


def json_object(members: dict[str, str]) -> bytes:
    """A JSON object of members already in JSON, as pydantic_core writes one (compact)."""
    return ("{" + ",".join(f'"{name}":{value}' for name, value in members.items()) + "}").encode()


def json_array(items: Sequence[str]) -> str:
    return "[" + ",".join(items) + "]"


def with_member(wire: str, name: str, value: Any) -> str:
    """A contact's wire JSON with one more member last."""
    return f'{wire[:-1]},"{name}":{to_json(value).decode()}}}'


def one_contact(connection: Connection, location_id: str, contact_id: str) -> bytes | None:
    """`{"contact": ...}` of GET /contacts/{id}, or None when the location has no such one."""
    row = connection.execute(_ONE, {"contact_id": contact_id, "location_id": location_id}).first()
    if row is None:
        return None
    return json_object({"contact": wires(connection, [row])[0]})
