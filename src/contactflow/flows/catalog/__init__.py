"""The operations catalog: every trigger, action and step, by key."""

from contactflow.flows.catalog import (
    contacts,
    contacts_people,
    contacts_records,
    core,
    mailsuite,
    mailsuite_email,
    mailsuite_people,
)
from contactflow.flows.catalog.registry import ActionContext, Entry, Executor, Json

CATALOG: dict[str, Entry] = {
    entry.key: entry
    for module in (
        contacts,
        contacts_people,
        contacts_records,
        mailsuite,
        mailsuite_people,
        mailsuite_email,
        core,
    )
    for entry in module.ENTRIES
}


def find(key: str) -> Entry | None:
    return CATALOG.get(key)


__all__ = ["CATALOG", "ActionContext", "Entry", "Executor", "Json", "find"]
