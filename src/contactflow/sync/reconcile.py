"""What to write where to bring a pair in step: a pure decision, field by field.

A field is acted on only when a side changed it since the pair was last synced (its hash
differs from the one the link keeps), or when the pair is new. Changed on one side: that side
wins. Changed on both: the field's conflict policy decides (newest: the record changed last;
manual: nothing is written, the field waits for a person).
A new pair never overwrites a value with a blank. A direction that does not write a side
leaves it as it is."""

from dataclasses import dataclass, field
from typing import Any, Literal

from contactflow.sync.fields import FieldMap, Values, field_hashes
from contactflow.sync.models import Direction, SyncLink
from contactflow.sync.sides import Record

Winner = Literal["crm", "mailsuite"]
# What became of a field changed on both sides: the side that won, or held for a person.
Outcome = Literal["crm", "mailsuite", "manual"]


@dataclass
class Plan:
    to_crm: Values = field(default_factory=dict)
    to_mailsuite: Values = field(default_factory=dict)
    # The fields (Contacts API names) changed on both sides to different values: the winner
    # of each by its policy, or `manual` for those held for a person (nothing written).
    conflicts: dict[str, Outcome] = field(default_factory=dict)

    @property
    def held(self) -> list[str]:
        """The fields held for a person."""
        return [name for name, outcome in self.conflicts.items() if outcome == "manual"]

    def fields(self, mapping: list[FieldMap]) -> list[str]:
        """The mapped fields (Contacts API names) the plan writes on either side."""
        return [
            entry.crm
            for entry in mapping
            if entry.crm in self.to_crm or entry.mailsuite in self.to_mailsuite
        ]


def _changed(state: dict[str, Any] | None, name: str, value: Any) -> bool:
    return state is None or state.get(name) != field_hashes({name: value}, [name])[name]


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def _winner(entry: FieldMap, crm: Record, mailsuite: Record, new: bool) -> Outcome:
    crm_value, mail_value = crm.values.get(entry.crm), mailsuite.values.get(entry.mailsuite)
    if new and _blank(crm_value) != _blank(mail_value):
        return "mailsuite" if _blank(crm_value) else "crm"
    if entry.conflict == "manual":
        return "manual"
    if entry.conflict == "crmWins":
        return "crm"
    if entry.conflict == "mailsuiteWins":
        return "mailsuite"
    return "crm" if crm.updated_at >= mailsuite.updated_at else "mailsuite"


def plan(
    mapping: list[FieldMap],
    direction: Direction,
    crm: Record,
    mailsuite: Record,
    link: SyncLink | None,
) -> Plan:
    result = Plan()
    crm_state = link.crm_fields if link is not None else None
    mail_state = link.mailsuite_fields if link is not None else None
    for entry in mapping:
        crm_value, mail_value = crm.values.get(entry.crm), mailsuite.values.get(entry.mailsuite)
        if entry.same(crm_value, mail_value):
            continue
        crm_changed = _changed(crm_state, entry.crm, crm_value)
        mail_changed = _changed(mail_state, entry.mailsuite, mail_value)
        if crm_changed and mail_changed:
            winner = _winner(entry, crm, mailsuite, new=link is None)
            if winner == "manual" and direction != "both":
                # A one-way sync writes one side only: the side it reads from wins.
                winner = "crm" if direction == "crmToMailsuite" else "mailsuite"
            if link is not None or winner == "manual":
                result.conflicts[entry.crm] = winner
        elif crm_changed or mail_changed:
            winner = "crm" if crm_changed else "mailsuite"
        else:
            continue  # both as last synced: a difference the sides' own rules keep
        if winner == "crm" and direction != "mailsuiteToCrm":
            result.to_mailsuite[entry.mailsuite] = entry.to_mailsuite(crm_value)
        elif winner == "mailsuite" and direction != "crmToMailsuite":
            result.to_crm[entry.crm] = entry.to_crm(mail_value)
    return result
