"""The remote calls of the Contacts API actions are the official HighLevel SDK's own: every
method and path the catalog sends is one of an operation of the SDK's contacts, calendars or
businesses services (read from the SDK's source), and every Contacts API action has one."""

import re
from pathlib import Path

import highlevel.services

from contactflow.flows.catalog import CATALOG
from contactflow.flows.catalog.remote import Wire

SERVICES = Path(highlevel.services.__file__).parent
OPERATION = re.compile(r'"method": "([A-Z]+)",\s*"url": build_url\("([^"]+)"')


def _sdk_operations() -> list[tuple[str, re.Pattern[str]]]:
    found = []
    for service in ("contacts/contacts.py", "calendars/calendars.py", "businesses/businesses.py"):
        for method, path in OPERATION.findall((SERVICES / service).read_text()):
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
            found.append((method, re.compile(pattern + "$")))
    return found


def _calls(wire: Wire | None) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    while wire is not None:
        calls.append((wire.method, re.sub(r"\{[^}]+\}", "some-id", wire.path)))
        wire = wire.then
    return calls


def test_every_contacts_action_calls_the_sdk_s_own_operations() -> None:
    operations = _sdk_operations()
    assert len(operations) > 40
    actions = [entry for entry in CATALOG.values() if entry.app == "contacts"]
    actions = [entry for entry in actions if entry.kind == "action"]
    assert len(actions) == 42
    unknown = [
        (entry.key, method, path)
        for entry in actions
        for method, path in _calls(entry.remote)
        if not any(method == sdk and pattern.match(path) for sdk, pattern in operations)
    ]
    assert all(entry.remote is not None for entry in actions)
    assert unknown == []
