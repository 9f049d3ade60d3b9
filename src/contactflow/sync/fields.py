"""The fields a sync maps: each side's catalog, the default mapping, checks of a mapping, and
values carried from one side's form to the other's (the Contacts API's tags are a list; a
Mailsuite custom field holds them as one comma-separated text; a task's `completed` flag is a
Mailsuite task's status). Each object a sync carries has its own catalog (sync/objects.py).

Values are compared and hashed in each side's own form, so a side's hash changes only when
that side changed."""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any, Final, Literal

from contactflow.platform.errors import Unprocessable

# Who wins a field changed on both sides: a side, the newest change, or a person (`manual`:
# the field waits in the sync's conflict queue).
Conflict = Literal["crmWins", "mailsuiteWins", "newestWins", "manual"]
CONFLICT_POLICIES: Final[tuple[Conflict, ...]] = (
    "crmWins",
    "mailsuiteWins",
    "newestWins",
    "manual",
)
# A field's policy when none is named.
DEFAULT_CONFLICT: Final[Conflict] = "newestWins"
Values = dict[str, Any]
# The Contacts API's fields a sync reads and writes: text, except tags (a list).
CRM_FIELDS: Final = (
    "firstName",
    "lastName",
    "email",
    "phone",
    "tags",
    "companyName",
    "address1",
    "city",
    "state",
    "country",
    "postalCode",
    "website",
    "timezone",
    "source",
)
CRM_LISTS: Final = frozenset({"tags"})
# Contacts API flags that Mailsuite keeps as a status: its status when set, and when not.
CRM_FLAGS: Final = {"completed": ("done", "open")}
MAILSUITE_FIELDS: Final = ("firstName", "lastName", "email", "phone")
# Any custom field of the workspace, made by the first write of it.
MAILSUITE_CUSTOM: Final = "customFields."
_CUSTOM_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Both sides key a contact by these: compared without regard to case.
_CASELESS: Final = frozenset({"email"})


@dataclass(frozen=True)
class FieldMap:
    crm: str
    mailsuite: str
    conflict: Conflict = DEFAULT_CONFLICT

    def as_data(self) -> dict[str, str]:
        return {"crm": self.crm, "mailsuite": self.mailsuite, "conflict": self.conflict}

    def to_mailsuite(self, value: Any) -> Any:
        if self.crm in CRM_LISTS:
            return ", ".join(value) if value else None
        if self.crm in CRM_FLAGS:
            on, off = CRM_FLAGS[self.crm]
            return on if value else off
        return value

    def to_crm(self, value: Any) -> Any:
        if self.crm in CRM_LISTS:
            return [part.strip() for part in str(value).split(",") if part.strip()] if value else []
        if self.crm in CRM_FLAGS:
            return value == CRM_FLAGS[self.crm][0]
        return None if value is None else str(value)

    def same(self, crm_value: Any, mailsuite_value: Any) -> bool:
        """Whether both sides hold the same value (in the Contacts API's form)."""
        left, right = crm_value or None, self.to_crm(mailsuite_value) or None
        if self.crm in _CASELESS and isinstance(left, str) and isinstance(right, str):
            return left.lower() == right.lower()
        return bool(left == right)


DEFAULT_MAPPING: Final = (
    FieldMap("firstName", "firstName"),
    FieldMap("lastName", "lastName"),
    FieldMap("email", "email"),
    FieldMap("phone", "phone"),
    FieldMap("tags", "customFields.tags"),
)


@dataclass(frozen=True)
class Catalog:
    """The fields of one object a sync may map on each side, and what each side's record is
    called in a refusal."""

    crm: tuple[str, ...]
    mailsuite: tuple[str, ...]
    crm_noun: str
    mailsuite_noun: str
    # Whether any Mailsuite custom field (customFields.<key>) may be mapped too.
    custom: bool = False

    def mailsuite_has(self, name: str) -> bool:
        if self.custom and name.startswith(MAILSUITE_CUSTOM):
            return bool(_CUSTOM_KEY.match(name.removeprefix(MAILSUITE_CUSTOM)))
        return name in self.mailsuite


CONTACT_FIELDS: Final = Catalog(
    CRM_FIELDS, MAILSUITE_FIELDS, "contact", "Mailsuite contact", custom=True
)


def checked_mapping(entries: list[FieldMap], catalog: Catalog = CONTACT_FIELDS) -> list[FieldMap]:
    """The mapping, or 422 naming each entry's field that names no field of its side, or a
    field mapped twice (two values would be written to it)."""
    problems: list[str] = []
    seen: dict[str, set[str]] = {"crm": set(), "mailsuite": set()}
    custom = ", or customFields.<key>" if catalog.custom else ""
    for position, entry in enumerate(entries):
        if entry.crm not in catalog.crm:
            problems.append(
                f"mapping.{position}.crm: {entry.crm!r} is not a {catalog.crm_noun} field "
                f"(one of {', '.join(catalog.crm)})"
            )
        if not catalog.mailsuite_has(entry.mailsuite):
            problems.append(
                f"mapping.{position}.mailsuite: {entry.mailsuite!r} is not a "
                f"{catalog.mailsuite_noun} field (one of {', '.join(catalog.mailsuite)}{custom})"
            )
        for side, name in (("crm", entry.crm), ("mailsuite", entry.mailsuite)):
            if name in seen[side]:
                problems.append(f"mapping.{position}.{side}: {name!r} is mapped twice")
            seen[side].add(name)
    if not entries:
        problems.append("mapping: map at least one field")
    if problems:
        raise Unprocessable(problems)
    return entries


def mapping_of(data: list[dict[str, str]]) -> list[FieldMap]:
    """A stored mapping (checked when it was saved)."""
    return [FieldMap(item["crm"], item["mailsuite"], item["conflict"]) for item in data]  # type: ignore[arg-type]


_NULL_DIGEST: Final = hashlib.sha256(b"null").hexdigest()


def _digest(value: Any) -> str:
    # Text, lists of text (tags) and blanks, most of what is hashed, encoded as json.dumps
    # would without its overhead: a reconciliation hashes every mapped field of every pair.
    if value is None:
        return _NULL_DIGEST
    if isinstance(value, str):
        encoded = encode_basestring_ascii(value).encode()
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        encoded = f"[{','.join(map(encode_basestring_ascii, value))}]".encode()
    else:
        encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def field_hashes(values: Mapping[str, Any], names: list[str]) -> dict[str, str]:
    """A short hash of each mapped field's value, as a side holds it."""
    return {name: _digest(values.get(name))[:16] for name in names}


def record_hash(hashes: Mapping[str, str]) -> str:
    return _digest(dict(hashes))
