"""Field by field: a change on one side wins; a change on both is settled by the field's
conflict policy; a new pair never blanks a value; a one-way sync writes one side only."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from contactflow.sync.fields import FieldMap, field_hashes
from contactflow.sync.models import Direction, SyncLink
from contactflow.sync.reconcile import plan
from contactflow.sync.sides import Record

EARLY = datetime(2026, 1, 1, tzinfo=UTC)
LATE = EARLY + timedelta(minutes=1)
MAPPING = [
    FieldMap("firstName", "firstName", "crmWins"),
    FieldMap("lastName", "lastName", "mailsuiteWins"),
    FieldMap("city", "customFields.city", "newestWins"),
    FieldMap("tags", "customFields.tags"),
]
SYNCED_CRM = {"firstName": "Ada", "lastName": "Byron", "city": "London", "tags": ["vip"]}
SYNCED_MAIL = {
    "firstName": "Ada",
    "lastName": "Byron",
    "customFields.city": "London",
    "customFields.tags": "vip",
}


def _record(values: dict[str, Any], at: datetime) -> Record:
    return Record("id", values, at, (at, "id"))


def _link() -> SyncLink:
    crm = field_hashes(SYNCED_CRM, [entry.crm for entry in MAPPING])
    mail = field_hashes(SYNCED_MAIL, [entry.mailsuite for entry in MAPPING])
    return SyncLink(crm_fields=crm, mailsuite_fields=mail)


def _plan(
    crm: dict[str, Any],
    mail: dict[str, Any],
    *,
    crm_at: datetime = EARLY,
    mail_at: datetime = EARLY,
    direction: Direction = "both",
    new: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    found = plan(
        MAPPING,
        direction,
        _record({**SYNCED_CRM, **crm}, crm_at),
        _record({**SYNCED_MAIL, **mail}, mail_at),
        None if new else _link(),
    )
    return found.to_crm, found.to_mailsuite


def test_a_change_on_one_side_goes_to_the_other() -> None:
    assert _plan({"tags": ["vip", "math"]}, {}) == ({}, {"customFields.tags": "vip, math"})
    assert _plan({}, {"customFields.tags": "vip, x"}) == ({"tags": ["vip", "x"]}, {})
    assert _plan({}, {}) == ({}, {})


def test_both_changed_the_fields_policy_decides() -> None:
    both = {"firstName": "A", "lastName": "B", "city": "Paris"}
    mail = {"firstName": "M", "lastName": "N", "customFields.city": "Rome"}
    to_crm, to_mail = _plan(both, mail, crm_at=EARLY, mail_at=LATE)
    assert to_mail == {"firstName": "A"}  # crm wins
    assert to_crm == {"lastName": "N", "city": "Rome"}  # mailsuite wins; mailsuite is newer
    to_crm, to_mail = _plan(both, mail, crm_at=LATE, mail_at=EARLY)
    assert to_mail == {"firstName": "A", "customFields.city": "Paris"}


def test_a_new_pair_fills_blanks_and_a_one_way_sync_writes_one_side() -> None:
    to_crm, to_mail = _plan({"city": None}, {"customFields.city": "Rome"}, new=True)
    assert to_crm == {"city": "Rome"}
    assert to_mail == {}
    assert _plan({}, {"lastName": "N"}, direction="crmToMailsuite") == ({}, {})
    assert _plan({"lastName": "C"}, {}, direction="mailsuiteToCrm") == ({}, {})


def test_a_manual_field_changed_on_both_sides_is_held_and_written_nowhere() -> None:
    mapping = [FieldMap("firstName", "firstName", "manual"), *MAPPING[1:]]
    crm = _record({**SYNCED_CRM, "firstName": "Augusta", "city": "Paris"}, LATE)
    mail = _record({**SYNCED_MAIL, "firstName": "Ada L."}, EARLY)
    found = plan(mapping, "both", crm, mail, _link())
    assert (found.to_crm, found.to_mailsuite) == ({}, {"customFields.city": "Paris"})
    assert found.held == ["firstName"]
    # One way only: the side the sync reads from wins, nothing is held.
    one_way = plan(mapping, "crmToMailsuite", crm, mail, _link())
    assert one_way.held == []
    assert one_way.to_mailsuite["firstName"] == "Augusta"
    # A new pair with two different values holds them too; a blank is filled as before.
    assert plan(mapping, "both", crm, mail, None).held == ["firstName"]
    blank = _record({**SYNCED_MAIL, "firstName": None}, EARLY)
    assert plan(mapping, "both", crm, blank, None).to_mailsuite["firstName"] == "Augusta"


def test_a_fields_hash_is_that_of_its_values_compact_json() -> None:
    # Links keep these hashes: a faster encoding must give the bytes json.dumps gives.
    values: dict[str, Any] = {
        "blank": None,
        "text": 'Zoë "Z" O\\Brien\n☃',
        "empty": "",
        "tags": ["vip", "lead", 'naïve "q"'],
        "no tags": [],
        "mixed": ["a", 1, None],
        "object": {"b": 1, "a": [True, 2.5]},
        "number": 7,
        "flag": False,
    }
    names = [*values, "missing"]
    expected = {
        name: hashlib.sha256(
            json.dumps(values.get(name), sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()[:16]
        for name in names
    }
    assert field_hashes(values, names) == expected
