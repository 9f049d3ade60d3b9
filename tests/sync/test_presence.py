"""Every change of a contact, task, note or appointment wakes the sync loops that read
changes; while no sync exists they look for no work, and a sync made is seen: at once when
this process made it, within a second when another did."""

from typing import NoReturn

import pytest

from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.sync import incremental, presence, remote_runs, service
from contactflow.sync.service import SyncSettings
from tests.mailsuite.helpers import poll
from tests.support import make_tenant

DEADLINE = 15.0


def _never(*_: object) -> NoReturn:
    raise AssertionError("a sync loop looked for work while no sync exists")


async def _contacts_sync(db: Database) -> str:
    tenant = await make_tenant(db)
    async with db.unit_of_work() as uow:
        made = await service.create_sync(uow, tenant.location_id, SyncSettings(object="contacts"))
    return made.id


async def test_with_no_sync_the_change_loops_look_for_no_work(
    isolated_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incremental, "behind", _never)
    monkeypatch.setattr(remote_runs, "_next_retry", _never)

    assert not await incremental.consume(isolated_db, "US", 10)
    assert await remote_runs.next_due(isolated_db, utcnow()) is None


async def test_a_sync_this_process_makes_is_seen_at_once(isolated_db: Database) -> None:
    assert not await presence.syncs_exist(isolated_db)

    await _contacts_sync(isolated_db)

    assert await presence.syncs_exist(isolated_db)


async def test_a_sync_another_process_makes_is_seen_within_a_second(
    isolated_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not await presence.syncs_exist(isolated_db)
    # As another process's commit: this one is not told of it.
    monkeypatch.setattr(presence, "sync_made", lambda: None)

    await _contacts_sync(isolated_db)

    assert await poll(lambda: presence.syncs_exist(isolated_db), bool, within=DEADLINE)
