"""The Contacts API's busiest reads as Core statements on one connection (`Database.read`):
rows of the contacts table, then the tags and followers of all of them in one statement, and
the wire JSON straight from those (ADR 0012). The ORM's Contact, with its two selectin
loaders, stays for writes and for everything else that reads contacts."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Connection, Row, Select, func, literal, select, union_all

from contactflow.contacts.models import Contact, ContactFollower, ContactTag
from contactflow.contacts.wire import contact_wire

CONTACTS = Contact.__table__
# Every column but search_text, which only the text query reads, in the database.
COLUMNS = [column for column in CONTACTS.c if column.name != "search_text"]
_TAG, _FOLLOWER = 0, 1


def contact_rows() -> Select[Any]:
    return select(*COLUMNS)


@dataclass(frozen=True, slots=True)
class Links:
    """The tags and followers of some contacts, each in its stored order."""

    tags: dict[str, list[str]]
    followers: dict[str, list[str]]

    def wire(self, row: Row[Any]) -> dict[str, Any]:
        return contact_wire(row, self.tags.get(row.id, []), self.followers.get(row.id, []))


def links_of(connection: Connection, ids: Sequence[str]) -> Links:
    found = Links({}, {})
    if not ids:
        return found
    tags = select(
        literal(_TAG).label("kind"),
        ContactTag.contact_id,
        ContactTag.tag.label("value"),
        ContactTag.position,
    ).where(ContactTag.contact_id.in_(ids))
    followers = select(
        literal(_FOLLOWER).label("kind"),
        ContactFollower.contact_id,
        ContactFollower.user_id.label("value"),
        ContactFollower.position,
    ).where(ContactFollower.contact_id.in_(ids))
    both = union_all(tags, followers).subquery()
    ordered = select(both).order_by(both.c.kind, both.c.contact_id, both.c.position)
    for kind, contact_id, value, _position in connection.execute(ordered):
        into = found.tags if kind == _TAG else found.followers
        into.setdefault(contact_id, []).append(value)
    return found


def one_contact(connection: Connection, location_id: str, contact_id: str) -> bytes | None:
    """`{"contact": ...}` of GET /contacts/{id}, or None when the location has no such one."""
    row = connection.execute(
        contact_rows().where(Contact.id == contact_id, Contact.location_id == location_id)
    ).first()
    if row is None:
        return None
    return to_json({"contact": links_of(connection, [row.id]).wire(row)})


def with_links(connection: Connection, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """The wire form of each row, in order."""
    links = links_of(connection, [row.id for row in rows])
    return [links.wire(row) for row in rows]


def count(connection: Connection, conditions: Sequence[Any]) -> int:
    found = connection.scalar(select(func.count()).select_from(CONTACTS).where(*conditions))
    return int(found or 0)
