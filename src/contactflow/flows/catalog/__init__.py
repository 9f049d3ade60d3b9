"""The operations catalog: every trigger, action and step, by key."""

from contactflow.flows.catalog import (
    contacts,
    contacts_appointments_businesses,
    contacts_links,
    contacts_people,
    contacts_records,
    core,
    core_data,
    core_format,
    core_http,
    core_issues,
    core_notify,
    core_runs,
    core_storage,
    core_syncs,
    mailsuite,
    mailsuite_email,
    mailsuite_people,
)
from contactflow.flows.catalog.registry import ActionContext, Entry, Executor, Json, Outbound

CATALOG: dict[str, Entry] = {
    entry.key: entry
    for module in (
        contacts,
        contacts_people,
        contacts_links,
        contacts_records,
        contacts_appointments_businesses,
        mailsuite,
        mailsuite_people,
        mailsuite_email,
        core,
        core_format,
        core_data,
        core_http,
        core_storage,
        core_notify,
        core_issues,
        core_runs,
        core_syncs,
    )
    for entry in module.ENTRIES
}


def find(key: str) -> Entry | None:
    return CATALOG.get(key)


def entries(
    app: str | None = None, kind: str | None = None, query: str | None = None
) -> list[Entry]:
    """The entries of an app and kind whose key, title or description holds `query` (any
    case), by key."""
    words = (query or "").lower().split()
    return [
        entry
        for key, entry in sorted(CATALOG.items())
        if app in (None, entry.app)
        and kind in (None, entry.kind)
        and all(word in f"{key} {entry.title} {entry.description}".lower() for word in words)
    ]


__all__ = ["CATALOG", "ActionContext", "Entry", "Executor", "Json", "Outbound", "entries", "find"]
