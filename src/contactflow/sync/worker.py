"""The sync context's loops, run by every worker process (platform/runtime.py): backfills,
changes read from the event log, records that waited for their contact to be linked, and
reconciliations (scheduled, run, repaired)."""

import httpx

from contactflow.platform import topics
from contactflow.platform.db import Database
from contactflow.platform.jobs import Loop
from contactflow.settings import Settings
from contactflow.sync import backfill, incremental, objects, pending, reconciliations, remote_runs


def worker_loops(
    db: Database, settings: Settings, owner: str, http: httpx.AsyncClient
) -> dict[str, Loop]:
    """Where both sides are this workspace's, no lease (the database's locks order the
    writers) and no outbound HTTP; a sync of a remote account calls it outside transactions,
    under a lease on the sync."""
    region, batch = settings.default_phone_region, settings.sync_batch_size
    changes = (*(topics.event(event_type) for event_type in objects.WATCHED),)
    remote = remote_runs.RemoteSyncSettings.of(settings, http)
    return {
        "sync-backfills": Loop(
            lambda: backfill.advance(db, batch, region), (topics.SYNC_BACKFILLS,)
        ),
        "sync-changes": Loop(
            lambda: incremental.consume(db, region, batch), (*changes, topics.SYNC_CHANGES)
        ),
        "sync-waiting": Loop(lambda: pending.resume(db, region, batch), (topics.SYNC_CHANGES,)),
        "sync-remote": Loop(
            lambda: remote_runs.advance(db, remote, owner),
            (topics.SYNC_BACKFILLS, *changes, topics.SYNC_CHANGES, topics.CONNECTION_CHANGED),
            next_due=lambda after: remote_runs.next_due(db, after),
        ),
        "sync-reconciliations": Loop(
            lambda: reconciliations.advance(db, remote, batch),
            (topics.SYNC_RECONCILIATIONS,),
            next_due=lambda _after: reconciliations.next_due(db),
        ),
    }
