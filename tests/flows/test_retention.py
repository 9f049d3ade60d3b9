"""Run retention: finished runs older than the retention go with their step runs, batch after
batch; recent ones stay, and so do queued, running and waiting runs however old."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from contactflow.flows import keyvalue, service
from contactflow.flows.keyvalue import SeenKey
from contactflow.flows.models import FlowRun, FlowVersion, StepRun, queued_run
from contactflow.flows.retention import rules
from contactflow.platform.db import Database
from contactflow.platform.retention import RetentionLoop, TableRule
from contactflow.settings import Settings
from tests.flows.test_engine import DEFINITION
from tests.support import Tenant

NOW = datetime(2000, 2, 1, tzinfo=UTC)
SETTINGS = Settings(flow_run_retention_days=30)
RUNS, SEEN_KEYS, _ = rules(SETTINGS)
SWEEP = timedelta(hours=1)


async def delete_expired(db: Database, rule: TableRule, now: datetime, batch: int = 500) -> int:
    """Batch after batch until none is left; how many."""
    total = 0
    while (deleted := await rule.delete_batch(db, now, batch)) > 0:
        assert deleted <= batch
        total += deleted
    return total


async def _version(db: Database, tenant: Tenant) -> FlowVersion:
    async with db.unit_of_work() as uow:
        flow = await service.create_flow(uow, tenant.location_id, "Kept", DEFINITION)
        await service.publish(uow, tenant.location_id, flow.id)
        version = await service.published_of(uow.session, flow)
        assert version is not None
        return version


async def _runs(db: Database, version: FlowVersion, *rows: tuple[str, str, int | None]) -> None:
    """Runs named by their error, in a state, finished that many days before NOW (None:
    unfinished, created 40 days before NOW), each with a step run."""
    async with db.unit_of_work() as uow:
        for name, state, days in rows:
            run = queued_run(version, {"name": name})
            run.state, run.error = state, name  # type: ignore[assignment]
            run.created_at = NOW - timedelta(days=40 if days is None else days)
            run.finished_at = None if days is None else NOW - timedelta(days=days)
            uow.session.add(run)
            await uow.session.flush()
            uow.session.add(
                StepRun(
                    run_id=run.id,
                    step_id="task",
                    action="mailsuite.task.create",
                    state="succeeded",
                    position=1,
                    attempts=1,
                    started_at=run.created_at,
                )
            )


async def _left(db: Database, version: FlowVersion) -> tuple[list[str], int]:
    async with db.reader() as session:
        runs = await session.scalars(select(FlowRun).where(FlowRun.version_id == version.id))
        names = sorted(run.error or "" for run in runs)
        steps = await session.scalars(
            select(StepRun.id).join(FlowRun).where(FlowRun.version_id == version.id)
        )
        return names, len(list(steps))


async def test_old_finished_runs_are_deleted_and_the_rest_kept(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    version = await _version(quiet_db, quiet_tenant)
    await _runs(
        quiet_db,
        version,
        ("old succeeded", "succeeded", 31),
        ("old failed", "failed", 45),
        ("old cancelled", "cancelled", 400),
        ("recent succeeded", "succeeded", 29),
        ("recent failed", "failed", 1),
        ("queued", "queued", None),
        ("running", "running", None),
        ("waiting", "waiting", None),
    )

    assert await delete_expired(quiet_db, RUNS, NOW, batch=2) == 3
    kept = ["queued", "recent failed", "recent succeeded", "running", "waiting"]
    assert await _left(quiet_db, version) == (kept, 5)
    assert await delete_expired(quiet_db, RUNS, NOW, batch=2) == 0
    # A day later, the run finished 29 days before is past the retention too.
    assert await delete_expired(quiet_db, RUNS, NOW + timedelta(days=2)) == 1
    assert (await _left(quiet_db, version))[0] == ["queued", "recent failed", "running", "waiting"]


async def test_the_worker_loop_sweeps_then_rests(quiet_db: Database, quiet_tenant: Tenant) -> None:
    version = await _version(quiet_db, quiet_tenant)
    # Finished long before the real now: the loop, which uses the clock, deletes it.
    await _runs(quiet_db, version, ("ancient", "succeeded", 0), ("queued", "queued", None))
    loop = RetentionLoop(quiet_db, rules(Settings()), SWEEP)

    assert await loop.step() is False
    assert (await _left(quiet_db, version))[0] == ["queued"]
    await _runs(quiet_db, version, ("ancient too", "succeeded", 0))
    # Until the next sweep is due, the loop does nothing.
    assert await loop.step() is False
    assert (await _left(quiet_db, version))[0] == ["ancient too", "queued"]


async def test_the_sweep_deletes_seen_keys_whose_window_is_over(
    quiet_db: Database, quiet_tenant: Tenant
) -> None:
    version = await _version(quiet_db, quiet_tenant)
    async with quiet_db.unit_of_work() as uow:
        assert await keyvalue.first_sighting(uow, version.flow_id, "day", timedelta(days=1))
        flow_id = version.flow_id
        uow.session.add(SeenKey(flow_id=flow_id, key="over", seen_at=NOW, expires_at=NOW))
        # Seen before keys expired: no window known, kept.
        uow.session.add(SeenKey(flow_id=flow_id, key="ageless", seen_at=NOW))
    loop = RetentionLoop(quiet_db, [SEEN_KEYS], SWEEP)

    assert await loop.step() is False
    async with quiet_db.reader() as session:
        kept = await session.scalars(
            select(SeenKey.key).where(SeenKey.flow_id == version.flow_id).order_by(SeenKey.key)
        )
        assert list(kept) == ["ageless", "day"]
