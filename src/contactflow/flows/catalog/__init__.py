"""The operations catalog: every trigger, action and step, by key."""

from contactflow.flows.catalog import (
    contacts,
    core,
    core_data,
    core_format,
    core_http,
    core_notify,
    core_storage,
    mailsuite,
)
from contactflow.flows.catalog.registry import ActionContext, Entry, Executor, Json, Outbound

CATALOG: dict[str, Entry] = {
    entry.key: entry
    for module in (
        contacts,
        mailsuite,
        core,
        core_format,
        core_data,
        core_http,
        core_storage,
        core_notify,
    )
    for entry in module.ENTRIES
}


def find(key: str) -> Entry | None:
    return CATALOG.get(key)


__all__ = ["CATALOG", "ActionContext", "Entry", "Executor", "Json", "Outbound", "find"]
