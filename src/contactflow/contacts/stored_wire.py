"""A contact's wire JSON, stored in its row by the flush that changes it (ADR 0025).

The Contacts API's reads then send stored bytes instead of decoding some thirty columns and
two link tables per contact and encoding them again. Every change to a contact, its tags or
its followers goes through the ORM (contacts/service.py, contacts/links.py), and the ORM
calls `before_insert` / `before_update` for a contact whose columns or link collections
changed, so the stored JSON is written in the same statement as the change. A row written
around the ORM (a bulk seed) has none stored, and reads build its JSON from the columns.
"""

from typing import Any

from pydantic_core import to_json
from sqlalchemy import event
from sqlalchemy.orm import object_session

from contactflow.contacts.models import Contact
from contactflow.contacts.wire import contact_dict


def _store_on_insert(_mapper: Any, _connection: Any, contact: Contact) -> None:
    # Column defaults run only when the INSERT executes, after this: the values they would
    # give must be in the stored JSON too.
    for column in _DEFAULTED:
        if getattr(contact, column.key) is None:
            default = column.default
            setattr(contact, column.key, default.arg(None) if default.is_callable else default.arg)
    contact.wire = to_json(contact_dict(contact)).decode()


def _store_on_update(_mapper: Any, _connection: Any, contact: Contact) -> None:
    session = object_session(contact)
    if session is None or session.is_modified(contact):
        contact.wire = to_json(contact_dict(contact)).decode()


_DEFAULTED = [column for column in Contact.__table__.c if column.default is not None]
event.listen(Contact, "before_insert", _store_on_insert)
event.listen(Contact, "before_update", _store_on_update)
